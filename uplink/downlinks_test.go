package uplink_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/palier-lifts/palier/internal/logtest"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// A broker whose users were rendered before the later downlinks (alarm
// acknowledgements, remote configuration, updates, credentials) refuses
// those subscriptions: the session goes on and the cabin's events flow,
// and each refusal is logged with what the cabin misses.
func TestRefusedDownlinksKeepTheSession(t *testing.T) {
	topics := wire.TopicsFor(site, cabin)
	optional := map[string]string{
		topics.AlarmAck:   "no alarm acknowledgements on this session",
		topics.SiteConfig: "no remote configuration on this session",
		topics.Config:     "no remote configuration on this session",
		topics.Update:     "no agent updates on this session",
		topics.Credential: "no credential deliveries on this session",
	}
	for _, proto := range []string{uplink.Protocol311, uplink.Protocol5} {
		t.Run("mqtt"+proto, func(t *testing.T) {
			// What the oldest fleet file allows; mochi allows what no
			// filter names, so the later downlinks are denied by name.
			filters := auth.Filters{
				auth.RString(topics.Events):  auth.WriteOnly,
				auth.RString(topics.State):   auth.WriteOnly,
				auth.RString(topics.Status):  auth.WriteOnly,
				auth.RString(topics.Ack):     auth.ReadOnly,
				auth.RString(topics.Notices): auth.ReadOnly,
			}
			for topic := range optional {
				filters[auth.RString(topic)] = auth.Deny
			}
			srv := mochi.New(&mochi.Options{InlineClient: true, Logger: discard()})
			if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
				Auth: auth.AuthRules{{Allow: true}},
				ACL:  auth.ACLRules{{Filters: filters}},
			}}); err != nil {
				t.Fatal(err)
			}
			addr := serveMochi(t, srv)
			got := newSeqCounter()
			if err := srv.Subscribe(topics.Events, 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
				got.add(pk.Payload)
			}); err != nil {
				t.Fatal(err)
			}
			cfg := uplink.DefaultConfig()
			cfg.Protocol = proto
			cfg.Broker = "tcp://" + addr
			ob := openOutbox(t)
			appendArrivals(t, ob, 5)
			var logs logtest.Buffer
			up, err := uplink.New(cfg, site, cabin, ob, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			up.OnDesiredConfig = func(wire.DesiredConfig) {}
			up.OnUpdate = func(wire.Update) {}
			up.OnCredential = func([]byte) {}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- up.Run(ctx) }()
			defer stopRun(t, cancel, done)
			eventually(t, "the events published", func() bool { return got.distinct() == 5 })
			eventually(t, "every refusal logged", func() bool { return strings.Count(logs.String(), "on this session") >= len(optional) })
			for topic, msg := range optional {
				if !strings.Contains(logs.String(), msg) || !strings.Contains(logs.String(), "topic="+topic) {
					t.Errorf("the refusal of %s was not reported as %q; log:\n%s", topic, msg, logs.String())
				}
			}
			if up.Stats().Connects != 1 {
				t.Fatalf("%d sessions, want 1: the refusals must not end it", up.Stats().Connects)
			}
		})
	}
}
