package agentcred

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/devcred/token"
	"github.com/palier-lifts/palier/wire"
)

// Uplink is what the store needs of the uplink.
type Uplink interface {
	SwitchPassword(password string)
	Connected() bool
}

// Options of a Store.
type Options struct {
	// Path of the credential file, e.g. /var/lib/palier/credential.jwt;
	// the previous credential is kept beside it (Path + ".prev") until the
	// new one has worked.
	Path        string
	Site, Cabin string
	// Password is the MQTT password from the agent's password_file, used
	// when there is no credential yet (a fleet moving from passwords), and
	// fallen back to when the first credential does not work.
	Password string
	// Append stores an event in the outbox.
	Append func(ctx context.Context, ev wire.Event) error
	// Grace is how long a new credential has to bring a session up before
	// the previous one comes back; default 2 min.
	Grace  time.Duration
	Now    func() time.Time // default time.Now; tests move it
	Logger *slog.Logger
}

// Store holds the cabin's credential.
type Store struct {
	o  Options
	mu sync.Mutex // guards current, which Run changes
	// current is the credential in use; nil: the password.
	current *token.Credential
	// previous is the id of the credential current replaced, for a
	// report made again ("" after a restart: the receiver has it).
	previous string
	// staged is a credential that brought no session up when it came
	// (Path + ".staged"); Run tries it when the current one stops working.
	staged *token.Credential
	// deliveries and sessions come from paho handlers, which must not
	// block: Run takes them from here.
	deliveries chan []byte
	sessions   chan string
}

// Open reads the credential file, if any. A credential for another cabin
// is refused (a file copied from the wrong stick); an expired one is kept
// but not used: the broker would refuse it, and the password, if any, may
// still work (recovery: agent provision writes a fresh one).
func Open(o Options) (*Store, error) {
	if o.Grace <= 0 {
		o.Grace = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{o: o, deliveries: make(chan []byte, 4), sessions: make(chan string, 4)}
	c, err := s.read(o.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case !c.Expires.IsZero() && !o.Now().Before(c.Expires):
		o.Logger.Error("credential expired: connecting with the password, if any (re-provision the cabin: agent provision)", "id", c.ID, "expired", c.Expires)
	default:
		s.current = &c
	}
	if err := s.adoptProvisioned(); err != nil {
		return nil, err
	}
	if c, err := s.read(o.Path + ".staged"); err == nil && (c.Expires.IsZero() || o.Now().Before(c.Expires)) {
		s.staged = &c
	}
	return s, nil
}

// adoptProvisioned takes a credential given as the password (agent
// provision writes palier.yaml's password: into password_file) when it is
// this cabin's, unexpired, and not adopted before: re-provisioning is how a
// revoked cabin, or one whose credential expired, comes back. The id of
// the one adopted is kept beside the file (Path + ".provisioned"), so the
// same password does not undo a later rotation at the next start.
func (s *Store) adoptProvisioned() error {
	pc, err := token.Parse(s.o.Password)
	if err != nil || pc.Site != s.o.Site || pc.Cabin != s.o.Cabin {
		return nil // a password, or not this cabin's: the broker decides
	}
	if !pc.Expires.IsZero() && !s.o.Now().Before(pc.Expires) {
		return nil
	}
	record := s.o.Path + ".provisioned"
	if b, err := os.ReadFile(record); err == nil && strings.TrimSpace(string(b)) == pc.ID {
		return nil // adopted already; rotations since then stand
	}
	if s.current == nil || s.current.ID != pc.ID {
		if err := atomicfile.Write(s.o.Path, []byte(pc.JWT+"\n"), 0o600); err != nil {
			return fmt.Errorf("store provisioned credential: %w", err)
		}
		s.o.Logger.Info("provisioned credential adopted", "id", pc.ID, "expires", pc.Expires)
		s.current = &pc
	}
	if err := atomicfile.Write(record, []byte(pc.ID+"\n"), 0o600); err != nil {
		return fmt.Errorf("record provisioned credential: %w", err)
	}
	return nil
}

func (s *Store) read(path string) (token.Credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return token.Credential{}, fmt.Errorf("read credential: %w", err)
	}
	c, err := token.Parse(string(b))
	if err != nil {
		return token.Credential{}, fmt.Errorf("credential %s: %w", path, err)
	}
	if c.Site != s.o.Site || c.Cabin != s.o.Cabin {
		return token.Credential{}, fmt.Errorf("credential %s is cabin %s/%s's, not %s/%s", path, c.Site, c.Cabin, s.o.Site, s.o.Cabin)
	}
	return c, nil
}

// Password is what the uplink should connect with: the credential, or the
// password when there is none.
func (s *Store) Password() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return s.current.JWT
	}
	return s.o.Password
}

// Current is the public id of the credential in use ("" for the password).
func (s *Store) Current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return s.current.ID
	}
	return ""
}

// Deliver hands over a message of the credential topic. It never blocks
// (uplink.OnCredential): a delivery that finds the queue full is dropped,
// and the receiver sends it again until the cabin reports it.
func (s *Store) Deliver(payload []byte) {
	select {
	case s.deliveries <- payload:
	default:
		s.o.Logger.Warn("credential delivery dropped: busy with earlier ones (the receiver sends it again)")
	}
}

// SessionUp is told which password a session came up with
// (uplink.OnSession). It never blocks.
func (s *Store) SessionUp(password string) {
	select {
	case s.sessions <- password:
	default:
	}
}

// pending is a switch not yet proven by a session.
type pending struct {
	next token.Credential
	prev *token.Credential
}

// Run applies deliveries until ctx is done. While the uplink has had no
// session for a whole grace period and a staged credential waits (one
// that brought no session up when it came, such as the first credential
// of a fleet whose leaf node still takes passwords), it tries that one,
// and goes back after the grace period if it does not work either: a leaf
// node switched to credentials (or back) finds every cabin within two
// grace periods, with no site visit.
func (s *Store) Run(ctx context.Context, up Uplink) error {
	var p *pending
	var timer <-chan time.Time
	tick := time.NewTicker(s.o.Grace)
	defer tick.Stop()
	lastUp := s.o.Now()
	switchTo := func(c token.Credential, why string) {
		if err := s.store(c); err != nil {
			s.o.Logger.Error("credential not stored: keeping the current one", "err", err)
			return
		}
		prev := s.current
		if p != nil {
			prev = p.prev // the one that last worked
		}
		p = &pending{next: c, prev: prev}
		s.setCurrent(&c)
		timer = time.After(s.o.Grace)
		s.o.Logger.Info(why+": reconnecting with it", "id", c.ID, "expires", c.Expires)
		up.SwitchPassword(c.JWT)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-s.deliveries:
			c, err := s.check(b)
			if err != nil {
				s.o.Logger.Warn("credential delivery refused", "err", err)
				continue
			}
			if p != nil && p.next.ID == c.ID {
				continue // sent again while we switch
			}
			if p == nil && s.current != nil && s.current.ID == c.ID {
				// Already in use: the report was lost (or never made it
				// to the receiver); make it again.
				s.report(ctx, c, s.previous)
				continue
			}
			switchTo(c, "new credential stored")
		case pw := <-s.sessions:
			lastUp = s.o.Now()
			if p == nil || pw != p.next.JWT {
				continue
			}
			prevID := ""
			if p.prev != nil {
				prevID = p.prev.ID
			}
			s.report(ctx, p.next, prevID)
			s.previous = prevID
			_ = os.Remove(s.o.Path + ".prev")
			if s.staged != nil && s.staged.ID == p.next.ID {
				s.unstage()
			}
			p, timer = nil, nil
		case <-timer:
			if p == nil {
				continue
			}
			s.o.Logger.Error("credential brought no session up: back to the previous one, this one kept for later", "id", p.next.ID, "grace", s.o.Grace)
			s.stage(p.next)
			s.setCurrent(p.prev)
			if err := s.restore(p.prev); err != nil {
				s.o.Logger.Error("previous credential not restored on disk", "err", err)
			}
			up.SwitchPassword(s.Password())
			p, timer = nil, nil
			lastUp = s.o.Now()
		case <-tick.C:
			if up.Connected() {
				lastUp = s.o.Now()
				continue
			}
			if p != nil || s.staged == nil || s.o.Now().Sub(lastUp) < s.o.Grace {
				continue
			}
			if !s.staged.Expires.IsZero() && !s.o.Now().Before(s.staged.Expires) {
				s.unstage()
				continue
			}
			switchTo(*s.staged, "no session for a grace period: trying the staged credential")
		}
	}
}

// stage keeps a credential that did not work yet, for when the current one
// stops working.
func (s *Store) stage(c token.Credential) {
	s.staged = &c
	if err := atomicfile.Write(s.o.Path+".staged", []byte(c.JWT+"\n"), 0o600); err != nil {
		s.o.Logger.Error("staged credential not stored", "err", err)
	}
}

func (s *Store) unstage() {
	s.staged = nil
	_ = os.Remove(s.o.Path + ".staged")
}

// check decodes a delivery and makes sure it is a usable credential of
// this cabin.
func (s *Store) check(b []byte) (token.Credential, error) {
	d, err := wire.DecodeCredentialDelivery(b)
	if err != nil {
		return token.Credential{}, err
	}
	c, err := token.Parse(d.JWT)
	if err != nil {
		return token.Credential{}, fmt.Errorf("credential delivery: jwt: %w", err)
	}
	if c.ID != d.ID {
		return token.Credential{}, fmt.Errorf("credential delivery: id %s, but the jwt is %s's", d.ID, c.ID)
	}
	if c.Site != s.o.Site || c.Cabin != s.o.Cabin {
		return token.Credential{}, fmt.Errorf("credential delivery: jwt is cabin %s/%s's, not %s/%s", c.Site, c.Cabin, s.o.Site, s.o.Cabin)
	}
	if !c.Expires.IsZero() && !s.o.Now().Before(c.Expires) {
		return token.Credential{}, fmt.Errorf("credential delivery: expired at %s", c.Expires)
	}
	return c, nil
}

// store keeps the current credential as the previous one and writes the
// new one, each 0600 and atomically.
func (s *Store) store(c token.Credential) error {
	if s.current != nil {
		if err := atomicfile.Write(s.o.Path+".prev", []byte(s.current.JWT+"\n"), 0o600); err != nil {
			return fmt.Errorf("keep previous credential: %w", err)
		}
	}
	if err := atomicfile.Write(s.o.Path, []byte(c.JWT+"\n"), 0o600); err != nil {
		return fmt.Errorf("store credential: %w", err)
	}
	return nil
}

// restore puts the previous credential back on disk (or removes the file
// when the password was in use).
func (s *Store) restore(prev *token.Credential) error {
	if prev == nil {
		if err := os.Remove(s.o.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return atomicfile.Write(s.o.Path, []byte(prev.JWT+"\n"), 0o600)
}

func (s *Store) report(ctx context.Context, c token.Credential, prev string) {
	ev, err := wire.NewEvent(s.o.Now(), wire.TypeCredentialRotated, wire.CredentialRotatedData{ID: c.ID, Previous: prev, Expires: c.Expires.UTC()})
	if err == nil {
		err = s.o.Append(ctx, ev)
	}
	if err != nil {
		s.o.Logger.Error("credential_rotated not recorded", "id", c.ID, "err", err)
		return
	}
	s.o.Logger.Info("credential rotated", "id", c.ID, "previous", prev)
}

func (s *Store) setCurrent(c *token.Credential) {
	s.mu.Lock()
	s.current = c
	s.mu.Unlock()
}
