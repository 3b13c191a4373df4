package uplink_test

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/uplink"
)

func discard() *slog.Logger {
	if os.Getenv("UPLINK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// mqtt5Broker is a mochi-mqtt server embedded in the test: it speaks MQTT 5
// (and 3.1.1), keeps retained messages and publishes wills.
type mqtt5Broker struct {
	srv   *mochi.Server
	addr  string
	subID atomic.Int64
}

// startMQTT5Broker starts a broker; with users, only they may connect.
func startMQTT5Broker(t *testing.T, users map[string]string) *mqtt5Broker {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: discard()})
	if users == nil {
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			t.Fatal(err)
		}
	} else {
		var rules auth.AuthRules
		for u, p := range users {
			rules = append(rules, auth.AuthRule{Username: auth.RString(u), Password: auth.RString(p), Allow: true})
		}
		if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: rules, ACL: auth.ACLRules{{Filters: auth.Filters{"#": auth.ReadWrite}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return &mqtt5Broker{srv: srv, addr: serveMochi(t, srv)}
}

// serveMochi serves an MQTT 5 broker on a loopback port until the test
// ends and returns its address.
func serveMochi(t testing.TB, srv *mochi.Server) string {
	t.Helper()
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeMochi(t, srv) })
	return l.Address()
}

// watchEvents counts the sequences published on the cabin's events subject.
func watchEvents(t testing.TB, nc *nats.Conn) *seqCounter {
	t.Helper()
	count := newSeqCounter()
	sub, err := nc.Subscribe("palier.v1."+site+"."+cabin+".events", func(m *nats.Msg) { count.add(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
	return count
}

// retained returns the retained payload on topic, or "" if none.
func (b *mqtt5Broker) retained(topic string) string {
	msgs := b.srv.Topics.Messages(topic)
	if len(msgs) == 0 {
		return ""
	}
	return string(msgs[0].Payload)
}

// subscribe calls h for each message on topic, from the broker's inline client.
func (b *mqtt5Broker) subscribe(t *testing.T, topic string, h func(payload []byte)) {
	t.Helper()
	id := int(b.subID.Add(1))
	if err := b.srv.Subscribe(topic, id, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) { h(pk.Payload) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.srv.Unsubscribe(topic, id) })
}

// within runs f and waits for it at most d. A wait that long is a hang:
// the test fails at once with every goroutine's stack, instead of the
// package's timeout ending the run with the stacks cut off.
func within(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		buf := make([]byte, 4<<20)
		t.Fatalf("%s did not return within %v; goroutines:\n%s", what, d, buf[:runtime.Stack(buf, true)])
	}
}

// probe runs uplink.Probe with a deadline, and fails the test if the
// probe outlives it by far.
func probe(t testing.TB, cfg uplink.Config) (proto string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	within(t, 40*time.Second, "uplink.Probe", func() { proto, err = uplink.Probe(ctx, cfg, site, cabin) })
	return proto, err
}

// closeMochi stops a test broker, bounded: mochi's Close waits for every
// client goroutine.
func closeMochi(t testing.TB, srv *mochi.Server) {
	within(t, 30*time.Second, "closing the test broker", func() { srv.Close() })
}

// stopRun ends an Uplink.Run started with done and returns its error; a
// Run that does not return soon after is a hang.
func stopRun(t testing.TB, cancel context.CancelFunc, done <-chan error) (err error) {
	t.Helper()
	cancel()
	within(t, 30*time.Second, "Uplink.Run after its context ended", func() { err = <-done })
	return err
}
