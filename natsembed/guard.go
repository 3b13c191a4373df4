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
// another user, or a device user under an id that is not its own. For a
// server that is not ours, Bindings does the same check on what its
// monitoring endpoint lists.

// Takeover is a connection that broke the binding of ids to users.
type Takeover struct {
	User     string // who connected
	ClientID string // with which MQTT client id
	Owner    string // the user that id belongs to ("" if none)
	Remote   string // host:port it came from
}

// Bindings say which MQTT client ids belong to which users.
type Bindings struct {
	owner map[string]string // client id → user
	own   map[string]string // user → its client id
}

// NewBindings binds each user's ClientID to it.
func NewBindings(users []User) Bindings {
	b := Bindings{owner: map[string]string{}, own: map[string]string{}}
	for _, u := range users {
		if u.ClientID != "" {
			b.owner[u.ClientID] = u.Name
			b.own[u.Name] = u.ClientID
		}
	}
	return b
}

// Empty says whether no id is bound.
func (b Bindings) Empty() bool { return len(b.owner) == 0 }

// Check says whether user may hold clientID and, when not, whose id it
// is ("" for an id of nobody's, held by a device user). A device's own id,
// or one that extends it with "_" (the doctor's), is its own.
func (b Bindings) Check(user, clientID string) (owner string, ok bool) {
	holder := b.owner[clientID]
	if holder == "" {
		for id, u := range b.owner {
			if strings.HasPrefix(clientID, id+"_") {
				holder = u
				break
			}
		}
	}
	if want, isDevice := b.own[user]; isDevice {
		return holder, clientID == want || strings.HasPrefix(clientID, want+"_")
	}
	return holder, holder == ""
}

// guard sweeps the connections until the server shuts down.
func (s *Server) guard(b Bindings, every time.Duration, report func(Takeover)) {
	if b.Empty() {
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
		for _, tk := range s.sweep(b) {
			s.logger.Warn("MQTT client id held by the wrong user: disconnected it (rotate that user's password)",
				"user", tk.User, "client_id", tk.ClientID, "owner", tk.Owner, "remote", tk.Remote)
			if report != nil {
				report(tk)
			}
		}
	}
}

// sweep disconnects the connections that break the binding and says which.
func (s *Server) sweep(b Bindings) []Takeover {
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
		owner, ok := b.Check(c.AuthorizedUser, c.MQTTClient)
		if ok {
			continue
		}
		_ = s.ns.DisconnectClientByID(c.Cid)
		out = append(out, Takeover{User: c.AuthorizedUser, ClientID: c.MQTTClient, Owner: owner, Remote: net.JoinHostPort(c.IP, strconv.Itoa(c.Port))})
	}
	return out
}
