package natsembed_test

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/wire"
)

// subscribeSessions opens n MQTT sessions to s, each subscribing at QoS 1
// to the topics an agent does (wire.Topics.Downlinks), and returns how
// many subscriptions the server granted and
// how many it refused (SUBACK 0x80). The sessions stay open until the
// test ends: the server's consumers live as long as their sessions.
func subscribeSessions(t *testing.T, s *natsembed.Server, n int) (granted, refused int) {
	t.Helper()
	var g, r atomic.Int64
	var mu sync.Mutex
	var clients []mqtt.Client
	// Sessions end before the server stops, in parallel: a consumer's
	// end waits up to 100 ms for its file store's flusher, one after the
	// other when the server stops with them still open.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() { c.Disconnect(250) })
		}
		wg.Wait()
	})
	jobs := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	// A few workers: the server creates consumers one JetStream API call
	// at a time per session, so more parallelism only queues there.
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				c := mqtt.NewClient(mqtt.NewClientOptions().
					AddBroker("tcp://" + s.MQTTAddr()).
					SetClientID(fmt.Sprintf("site-%d-cabin-%d", i/10, i)).
					SetCleanSession(true).
					SetAutoReconnect(false).
					SetKeepAlive(time.Minute).
					SetConnectTimeout(time.Minute))
				if tok := c.Connect(); !tok.WaitTimeout(2*time.Minute) || tok.Error() != nil {
					errs <- fmt.Errorf("session %d: connect: %v", i, tok.Error())
					continue
				}
				mu.Lock()
				clients = append(clients, c)
				mu.Unlock()
				filters := map[string]byte{}
				for _, topic := range wire.TopicsFor(fmt.Sprintf("site-%d", i/10), fmt.Sprintf("cabin-%d", i)).Downlinks() {
					filters[topic] = 1
				}
				tok := c.SubscribeMultiple(filters, nil)
				if !tok.WaitTimeout(2*time.Minute) || tok.Error() != nil {
					errs <- fmt.Errorf("session %d: subscribe: %v", i, tok.Error())
					continue
				}
				for _, code := range tok.(*mqtt.SubscribeToken).Result() {
					if code == 0x80 {
						r.Add(1)
					} else {
						g.Add(1)
					}
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return int(g.Load()), int(r.Load())
}

// TestManyCabinsSubscribe: 250 cabins, 1,750 QoS 1 subscriptions (seven
// each, more than nats-server's default bound of 1,000 consumers per
// stream), are all accepted. With the default, every cabin past about 140
// would have its subscriptions refused, and with them its
// acknowledgements: its outbox would never drain. (With three
// subscriptions, 1,500 cabins passed too, in 34 s under -race; the fleet
// generator holds 6,000: docs/BENCHMARKS.md.)
func TestManyCabinsSubscribe(t *testing.T) {
	s, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown) // after the sessions end
	const cabins = 250
	per := len(wire.TopicsFor("s", "c").Downlinks())
	granted, refused := subscribeSessions(t, s, cabins)
	if granted != per*cabins || refused != 0 {
		t.Fatalf("%d subscriptions granted and %d refused; want all %d granted", granted, refused, per*cabins)
	}
}

// TestMaxConsumersBounds shows that the bound is the one that refuses
// (so that the test above proves the bound was raised, not that
// something else let the subscriptions through): with room for 30
// consumers, every subscription past the thirtieth is refused.
func TestMaxConsumersBounds(t *testing.T) {
	s, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir(), MaxConsumers: 30}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	per := len(wire.TopicsFor("s", "c").Downlinks())
	granted, refused := subscribeSessions(t, s, 15)
	if granted != 30 || refused != 15*per-30 {
		t.Fatalf("%d subscriptions granted and %d refused; want 30 and %d", granted, refused, 15*per-30)
	}
}
