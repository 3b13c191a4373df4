package uplink_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

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
