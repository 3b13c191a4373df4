package uplink

import (
	"sync"
)

// credential is the MQTT password set by SwitchPassword, which replaces
// the one read from Config.PasswordFile for every connection that follows.
type credential struct {
	mu       sync.Mutex
	password string
	set      bool
	current  string // the password of the connection being made or up
	// now ends the current session so that the next one uses the new
	// password at once.
	now chan struct{}
}

func (c *credential) using(pw string) {
	c.mu.Lock()
	c.current = pw
	c.mu.Unlock()
}

func (c *credential) inUse() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// settled drops a switch signal already served: the session about to start
// authenticated with the newest password.
func (c *credential) settled(pw string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set && c.password != pw {
		return // switched during the connect: keep the signal
	}
	select {
	case <-c.now:
	default:
	}
}

// SwitchPassword makes the uplink connect with password from now on (a new
// credential delivered on the cabin's credential topic): the current
// session ends cleanly (its leased batches go back to the outbox, which
// sends them again) and the next one authenticates with it. Safe from any
// goroutine, including OnCredential.
func (u *Uplink) SwitchPassword(password string) {
	u.cred.mu.Lock()
	u.cred.password, u.cred.set = password, true
	u.cred.mu.Unlock()
	select {
	case u.cred.now <- struct{}{}:
	default:
	}
}

// Password is the MQTT password the next connection uses.
func (u *Uplink) Password() string {
	u.cred.mu.Lock()
	defer u.cred.mu.Unlock()
	if u.cred.set {
		return u.cred.password
	}
	return u.opts.Password
}
