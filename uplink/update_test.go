package uplink_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/palier-lifts/palier/internal/logtest"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// The desired version, retained on the cabin's update topic of a real
// nats-server, reaches OnUpdate, also when it was set before the agent
// connected; one for another cabin or malformed is refused and counted.
func TestDesiredVersionReachesTheAgent(t *testing.T) {
	b := startBroker(t)
	ob := openOutbox(t)
	up, err := uplink.New(testConfig(b), site, cabin, ob, discard())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []wire.Update
	up.OnUpdate = func(u wire.Update) { mu.Lock(); got = append(got, u); mu.Unlock() }

	pub := mqttClient(t, b, "receiver-downlink")
	defer pub.Disconnect(0)
	want := wire.Update{V: wire.Version, Site: site, Cabin: cabin, Version: "v1.4.1", Channel: wire.ChannelCanary, Wave: 3,
		At: time.Now().UTC().Truncate(time.Second)}
	raw, _ := json.Marshal(want)
	if tok := pub.Publish(wire.UpdateTopic(site, cabin), 1, true, raw); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	defer stopRun(t, cancel, done)
	eventually(t, "the retained desired version", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	mu.Lock()
	if g := got[0]; g.Version != want.Version || g.Wave != 3 || g.Channel != wire.ChannelCanary || !g.At.Equal(want.At) {
		t.Fatalf("got %+v, want %+v", g, want)
	}
	mu.Unlock()

	other := want
	other.Cabin = "someone-else"
	rawOther, _ := json.Marshal(other)
	shell := strings.Replace(string(raw), `"v1.4.1"`, `"v1.4.1 palier-display"`, 1)
	for _, bad := range [][]byte{rawOther, []byte(shell), []byte(`{"v":1,"site":"test-site"}`)} {
		if tok := pub.Publish(wire.UpdateTopic(site, cabin), 1, false, bad); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	eventually(t, "three refusals", func() bool { return up.Stats().BadUpdates == 3 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d desired versions taken, want 1", len(got))
	}
}

// A broker whose ACL refuses the update subscription (a fleet file from
// before it) still gets the cabin's events: the session goes on without.
func TestRefusedUpdateSubscriptionKeepsTheSession(t *testing.T) {
	topics := wire.TopicsFor(site, cabin)
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: discard()})
	if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
		Auth: auth.AuthRules{{Allow: true}},
		ACL: auth.ACLRules{{Filters: auth.Filters{
			auth.RString(topics.Events):   auth.WriteOnly,
			auth.RString(topics.State):    auth.WriteOnly,
			auth.RString(topics.Status):   auth.WriteOnly,
			auth.RString(topics.Ack):      auth.ReadOnly,
			auth.RString(topics.Notices):  auth.ReadOnly,
			auth.RString(topics.AlarmAck): auth.ReadOnly,
			auth.RString(topics.Update):   auth.Deny,
		}}},
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
	cfg.Protocol = uplink.Protocol311
	cfg.Broker = "tcp://" + addr
	ob := openOutbox(t)
	appendArrivals(t, ob, 5)
	var logs logtest.Buffer
	up, err := uplink.New(cfg, site, cabin, ob, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	up.OnUpdate = func(wire.Update) {}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	defer stopRun(t, cancel, done)
	eventually(t, "the events published", func() bool { return got.distinct() == 5 })
	if !strings.Contains(logs.String(), "no agent updates on this session") {
		t.Fatalf("the refusal was not reported; log:\n%s", logs.String())
	}
	if up.Stats().Connects != 1 {
		t.Fatalf("%d sessions, want 1: the refusal must not end it", up.Stats().Connects)
	}
}
