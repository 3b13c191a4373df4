package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/wire"
)

// LeafWatch looks for client-id takeovers on leaf nodes the receiver does
// not run, through their monitoring endpoint (/connz with user names). It
// cannot disconnect the impostor there: it counts and logs it, naming the
// user whose password to rotate, for the alerts to tell someone.
type LeafWatch struct {
	urls     []string
	bindings natsembed.Bindings
	every    time.Duration
	client   *http.Client
	log      *slog.Logger
	metrics  *Metrics
	seen     map[string]map[uint64]bool // per leaf: the connections already reported
	byID     map[string]string          // a device's client id → its user name
}

// NewLeafWatch watches urls (base URLs of monitoring endpoints, e.g.
// http://leaf:8222) against the bindings of users.
func NewLeafWatch(urls []string, users []natsembed.User, every time.Duration, metrics *Metrics, logger *slog.Logger) *LeafWatch {
	w := &LeafWatch{urls: urls, bindings: natsembed.NewBindings(users), every: every,
		client: &http.Client{Timeout: 10 * time.Second}, log: logger, metrics: metrics, seen: map[string]map[uint64]bool{}}
	w.byID = map[string]string{}
	for _, u := range users {
		if u.ClientID != "" {
			w.byID[u.ClientID] = u.Name
		}
	}
	return w
}

// Run polls every interval until ctx is done.
func (w *LeafWatch) Run(ctx context.Context) error {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, u := range w.urls {
			if err := w.check(ctx, u); err != nil && ctx.Err() == nil {
				w.log.Warn("watch a leaf node's connections", "url", u, "err", err)
			}
		}
	}
}

// connz is what /connz?auth=1 says of each connection that matters here.
type connz struct {
	Connections []struct {
		Cid            uint64   `json:"cid"`
		IP             string   `json:"ip"`
		Port           int      `json:"port"`
		AuthorizedUser string   `json:"authorized_user"`
		MQTTClient     string   `json:"mqtt_client"`
		Tags           []string `json:"tags"` // a credential's: site:..., cabin:...
	} `json:"connections"`
}

func (w *LeafWatch) check(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/connz?auth=1&limit=1000000", nil)
	if err != nil {
		return err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /connz: %s", resp.Status)
	}
	var cz connz
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&cz); err != nil {
		return fmt.Errorf("decode /connz: %w", err)
	}
	// Each impostor connection is reported once; only the ones still
	// open are remembered.
	prev, now := w.seen[base], map[uint64]bool{}
	defer func() { w.seen[base] = now }()
	for _, c := range cz.Connections {
		if c.MQTTClient == "" || c.AuthorizedUser == "" {
			continue
		}
		user := w.userOf(c.AuthorizedUser, c.Tags)
		owner, ok := w.bindings.Check(user, c.MQTTClient)
		if ok {
			continue
		}
		now[c.Cid] = true
		if prev[c.Cid] {
			continue
		}
		w.metrics.ClientIDTakeovers.Inc()
		w.log.Warn("MQTT client id held by the wrong user on a leaf node: rotate that user's password (this receiver cannot disconnect it there)",
			"leaf", base, "user", user, "client_id", c.MQTTClient, "owner", owner, "remote", net.JoinHostPort(c.IP, strconv.Itoa(c.Port)))
	}
	return nil
}

// userOf names a connection's user as the fleet file does. A credential
// (a user JWT on an operator-mode leaf) is listed by its public key; its
// site: and cabin: tags say whose it is.
func (w *LeafWatch) userOf(authorized string, tags []string) string {
	var site, cabin string
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, "site:"); ok {
			site = v
		}
		if v, ok := strings.CutPrefix(t, "cabin:"); ok {
			cabin = v
		}
	}
	if site == "" || cabin == "" {
		return authorized
	}
	if name, ok := w.byID[wire.ClientID(site, cabin)]; ok {
		return name
	}
	return authorized
}
