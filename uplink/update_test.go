package uplink_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

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
