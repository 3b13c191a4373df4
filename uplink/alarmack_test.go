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

// An operator's acknowledgement, retained on the cabin's alarm_ack topic,
// reaches OnAlarmAck; one for another cabin or malformed is refused and
// counted; an end-to-end ack the outbox applied reaches OnConfirmed.
func TestAlarmAcksAndConfirmationsReachTheAgent(t *testing.T) {
	b := startBroker(t)
	nc := b.nats()
	ob := openOutbox(t)
	appendArrivals(t, ob, 3)
	up, err := uplink.New(testConfig(b), site, cabin, ob, discard())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acks []wire.AlarmAck
	var confirmed []uint64
	up.OnAlarmAck = func(a wire.AlarmAck) { mu.Lock(); acks = append(acks, a); mu.Unlock() }
	up.OnConfirmed = func(epoch string, upTo uint64, _ []wire.Range) {
		if epoch == ob.Epoch() {
			mu.Lock()
			confirmed = append(confirmed, upTo)
			mu.Unlock()
		}
	}

	// Retained before the agent connects: it must still get it.
	pub := mqttClient(t, b, "receiver-downlink")
	defer pub.Disconnect(0)
	ack := wire.AlarmAck{V: wire.Version, Site: site, Cabin: cabin, Alarms: []wire.AlarmRef{{Epoch: ob.Epoch(), Seq: 2}},
		By: "Chiara", Message: "on the way", At: time.Now().UTC().Truncate(time.Second)}
	raw, _ := json.Marshal(ack)
	if tok := pub.Publish(wire.AlarmAckTopic(site, cabin), 1, true, raw); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	defer stopRun(t, cancel, done)
	eventually(t, "the retained acknowledgement", func() bool { mu.Lock(); defer mu.Unlock(); return len(acks) == 1 })
	mu.Lock()
	if got := acks[0]; got.By != "Chiara" || !got.Covers(ob.Epoch(), 2) || !got.At.Equal(ack.At) {
		t.Fatalf("got %+v, want %+v", got, ack)
	}
	mu.Unlock()

	other := ack
	other.Cabin = "someone-else"
	rawOther, _ := json.Marshal(other)
	for _, bad := range [][]byte{rawOther, []byte(`{"v":1,"site":"test-site"}`)} {
		if tok := pub.Publish(wire.AlarmAckTopic(site, cabin), 1, false, bad); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	eventually(t, "two refusals", func() bool { return up.Stats().BadAlarmAcks == 2 })

	eventually(t, "the events sent", func() bool { return up.Stats().Events >= 3 })
	e2e, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: ob.Epoch(), Seq: 3})
	if err := nc.Publish(wire.AckSubject(site, cabin), e2e); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the confirmation", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(confirmed) > 0 && confirmed[len(confirmed)-1] == 3
	})
	mu.Lock()
	defer mu.Unlock()
	if len(acks) != 1 {
		t.Fatalf("%d acknowledgements taken, want 1", len(acks))
	}
}

// A broker whose ACL refuses the alarm_ack subscription (a fleet file from
// before it) still gets the cabin's events: the session goes on without.
func TestRefusedAlarmAckSubscriptionKeepsTheSession(t *testing.T) {
	for _, proto := range []string{uplink.Protocol311, uplink.Protocol5} {
		t.Run("mqtt"+proto, func(t *testing.T) {
			topics := wire.TopicsFor(site, cabin)
			srv := mochi.New(&mochi.Options{InlineClient: true, Logger: discard()})
			if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
				Auth: auth.AuthRules{{Allow: true}},
				// What an older fleet file allows, which has no alarm_ack.
				ACL: auth.ACLRules{{Filters: auth.Filters{
					auth.RString(topics.Events):  auth.WriteOnly,
					auth.RString(topics.State):   auth.WriteOnly,
					auth.RString(topics.Status):  auth.WriteOnly,
					auth.RString(topics.Ack):     auth.ReadOnly,
					auth.RString(topics.Notices): auth.ReadOnly,
					// mochi allows what no filter names: deny it by name.
					auth.RString(topics.AlarmAck): auth.Deny,
				}}},
			}}); err != nil {
				t.Fatal(err)
			}
			addr := serveMochi(t, srv)
			got := newSeqCounter()
			if err := srv.Subscribe(wire.TopicsFor(site, cabin).Events, 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
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
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- up.Run(ctx) }()
			defer stopRun(t, cancel, done)
			eventually(t, "the events published", func() bool { return got.distinct() == 5 })
			if !strings.Contains(logs.String(), "no alarm acknowledgements on this session") {
				t.Fatalf("the refusal was not reported; log:\n%s", logs.String())
			}
			if up.Stats().Connects != 1 {
				t.Fatalf("%d sessions, want 1: the refusal must not end it", up.Stats().Connects)
			}
		})
	}
}
