package natsembed

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Client-id takeover: MQTT lets a new connection with a client id take the
// session of the one holding it, and nats-server checks who may connect,
// not which client id a user presents (its auth callouts do not run for
// MQTT, nats-server#4922). A device that knows its own password could so
// knock another cabin off, again and again. The guard binds ids to users
// where the server is ours: every GuardInterval it lists the MQTT
// connections and disconnects any that holds a device's client id under
// another user, or a device user under an id that is not its own.

// Takeover is a connection the guard disconnected.
type Takeover struct {
	User     string // who connected
	ClientID string // with which MQTT client id
	Owner    string // the user that id belongs to ("" if none)
	Remote   string // host:port it came from
}

// guard sweeps the connections until the server shuts down.
func (s *Server) guard(users []User, every time.Duration, report func(Takeover)) {
	owner := map[string]string{} // client id → user
	own := map[string]string{}   // user → its client id
	for _, u := range users {
		if u.ClientID != "" {
			owner[u.ClientID] = u.Name
			own[u.Name] = u.ClientID
		}
	}
	if len(owner) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		for _, tk := range s.sweep(owner, own) {
			s.logger.Warn("MQTT client id held by the wrong user: disconnected it (rotate that user's password)",
				"user", tk.User, "client_id", tk.ClientID, "owner", tk.Owner, "remote", tk.Remote)
			if report != nil {
				report(tk)
			}
		}
	}
}

// sweep disconnects the connections that break the binding and says which.
func (s *Server) sweep(owner, own map[string]string) []Takeover {
	cz, err := s.ns.Connz(&server.ConnzOptions{Username: true, Limit: 1 << 30})
	if err != nil {
		return nil
	}
	var out []Takeover
	for _, c := range cz.Conns {
		// No user yet: the connection is still in its CONNECT (the next
		// sweep sees it authenticated); with users configured, nobody
		// stays connected without one.
		if c.MQTTClient == "" || c.AuthorizedUser == "" {
			continue
		}
		user := c.AuthorizedUser
		want, isDevice := own[user]
		// A device's own id, or one it extends ("_doctor"), is its own.
		ownID := func(id string) bool { return id == want || strings.HasPrefix(id, want+"_") }
		holder := owner[c.MQTTClient]
		for id, u := range owner { // an id that extends a device's id is that device's
			if holder == "" && strings.HasPrefix(c.MQTTClient, id+"_") {
				holder = u
			}
		}
		bad := isDevice && !ownID(c.MQTTClient) || !isDevice && holder != ""
		if !bad {
			continue
		}
		_ = s.ns.DisconnectClientByID(c.Cid)
		out = append(out, Takeover{User: user, ClientID: c.MQTTClient, Owner: holder, Remote: net.JoinHostPort(c.IP, strconv.Itoa(c.Port))})
	}
	return out
}
