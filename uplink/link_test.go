package uplink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

func ackUpTo(t *testing.T, b *broker, epoch string, seq uint64) {
	t.Helper()
	ack, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: epoch, Seq: seq})
	nc := b.nats()
	if err := nc.Publish(wire.AckSubject(site, cabin), ack); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
}

// target is a broker of either kind, seen the way the tests need it.
type target struct {
	proto  string
	addr   string      // MQTT listener
	events *seqCounter // what reached a subscriber of the cabin's events
	ack    func(epoch string, seq uint64)
}

// startTarget starts NATS (for 3.1.1) or mochi (for 5) with an events
// subscriber and a way to send the receiver's acknowledgement.
func startTarget(t *testing.T, proto string) target {
	t.Helper()
	tg := target{proto: proto, events: newSeqCounter()}
	topics := wire.TopicsFor(site, cabin)
	if proto == uplink.Protocol5 {
		mb := startMQTT5Broker(t, nil)
		mb.subscribe(t, topics.Events, tg.events.add)
		tg.addr = mb.addr
		tg.ack = func(epoch string, seq uint64) {
			ack, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: epoch, Seq: seq})
			if err := mb.srv.Publish(topics.Ack, ack, false, 0); err != nil {
				t.Error(err)
			}
		}
		return tg
	}
	b := startBroker(t)
	nc := b.nats()
	sub, err := nc.Subscribe("palier.v1."+site+"."+cabin+".events", func(m *nats.Msg) { tg.events.add(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
	tg.addr = b.mqttAddr
	tg.ack = func(epoch string, seq uint64) { ackUpTo(t, b, epoch, seq) }
	return tg
}

// config is a test config for the target, through addr (a proxy).
func (tg target) config(addr string) uplink.Config {
	cfg := mqtt5Config(addr)
	cfg.Protocol = tg.proto
	return cfg
}

// A link cut mid-drain, by resets or by a black hole, loses nothing: every
// event reaches the broker and the outbox keeps each one until confirmed.
func TestCutLinkMidDrainLosesNothing(t *testing.T) {
	for _, proto := range []string{uplink.Protocol311, uplink.Protocol5} {
		for _, mode := range []string{"drop", "blackhole"} {
			t.Run("mqtt"+proto+"/"+mode, func(t *testing.T) {
				tg := startTarget(t, proto)
				px := nettest.StartProxy(t, tg.addr)
				ob := openOutbox(t)
				const n = 1500
				appendConcurrently(t, ob, n)
				cfg := tg.config(px.Addr())
				cfg.KeepAlive = 2 * time.Second // so the black hole is noticed soon
				cfg.RateLimit = 1000            // so the cut lands mid-drain
				up, _ := runUplink(t, cfg, ob)

				eventually(t, "some events sent", func() bool { return up.Stats().Events >= 100 })
				if mode == "drop" {
					px.Drop()
				} else {
					px.SetBlackout(true)
					eventually(t, "the dead session noticed", func() bool { return !up.Connected() })
					px.SetBlackout(false)
				}
				if sent := up.Stats().Events; sent >= n {
					t.Fatalf("the whole backlog (%d) went before the cut; slow the drain down", sent)
				}
				eventually(t, "every event delivered", func() bool { return tg.events.distinct() == n })
				if c := up.Stats().Connects; c < 2 {
					t.Fatalf("%d sessions, want a reconnect", c)
				}
				if d := ob.Stats().Depth(); d != n {
					t.Fatalf("depth %d before the ack, want %d", d, n)
				}
				tg.events.mu.Lock()
				bad := tg.events.bad
				tg.events.mu.Unlock()
				if bad > 0 {
					t.Errorf("%d undecodable batches", bad)
				}
				tg.ack(ob.Epoch(), n)
				eventually(t, "all confirmed", func() bool { return ob.Stats().Depth() == 0 })
			})
		}
	}
}

// A broker slow to answer is waited for: no publish fails, nothing is sent twice.
func TestSlowBrokerIsWaitedFor(t *testing.T) {
	for _, proto := range []string{uplink.Protocol311, uplink.Protocol5} {
		t.Run("mqtt"+proto, func(t *testing.T) {
			tg := startTarget(t, proto)
			px := nettest.StartProxy(t, tg.addr)
			px.SetDelay(150 * time.Millisecond)
			cfg := tg.config(px.Addr())
			cfg.BatchEvents = 20
			cfg.InFlight = 2
			ob := openOutbox(t)
			const n = 200
			appendArrivals(t, ob, n)
			up, _ := runUplink(t, cfg, ob)
			eventually(t, "all PUBACKs", func() bool { return up.Stats().Events == n })
			eventually(t, "all delivered", func() bool { return tg.events.distinct() == n })
			if e := up.Stats().PublishErrors; e != 0 {
				t.Fatalf("%d publish errors against a slow broker", e)
			}
			for seq := uint64(1); seq <= n; seq++ {
				if c := tg.events.count(seq); c != 1 {
					t.Fatalf("sequence %d delivered %d times, want once", seq, c)
				}
			}
		})
	}
}

// An entry too large to ever send, or undecodable, is quarantined; a
// "dropped" stand-in takes its sequence so acknowledgements move past it.
func TestUnsendableEntriesAreQuarantined(t *testing.T) {
	b := startBroker(t)
	count := watchEvents(t, b.nats())
	ob := openOutbox(t)
	appendArrivals(t, ob, 3)
	big := fmt.Sprintf(`{"v":1,"type":"arrival","time":"2026-11-24T10:00:00Z","data":{"floor":1,"pad":%q}}`, strings.Repeat("x", 6000))
	for _, p := range []string{big, "not json at all"} {
		if _, err := ob.Append(context.Background(), outbox.ClassEvents, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	appendArrivals(t, ob, 3)
	cfg := testConfig(b)
	cfg.BatchBytes = 8 << 10
	up, _ := runUplink(t, cfg, ob)

	eventually(t, "all 8 sequences delivered", func() bool { return count.distinct() == 8 })
	count.mu.Lock()
	for seq := uint64(1); seq <= 8; seq++ {
		want := wire.TypeArrival
		if seq == 4 || seq == 5 {
			want = wire.TypeDropped
		}
		if count.types[seq] != want {
			t.Errorf("sequence %d has type %q, want %q", seq, count.types[seq], want)
		}
	}
	count.mu.Unlock()
	if q := ob.Stats().Quarantined; q != 0 {
		t.Fatalf("%d entries quarantined before their stand-ins were confirmed", q)
	}
	if d := ob.Stats().Depth(); d != 8 {
		t.Fatalf("depth %d before the ack, want 8: unsendable entries wait for their stand-in's ack", d)
	}
	if s := up.Stats().StandIns; s != 2 {
		t.Fatalf("%d stand-ins sent, want 2", s)
	}
	ackUpTo(t, b, ob.Epoch(), 8)
	eventually(t, "all confirmed", func() bool { return ob.Stats().Depth() == 0 })
	if q := ob.Stats().Quarantined; q != 2 {
		t.Fatalf("outbox quarantined %d, want 2", q)
	}
	if q := up.Stats().Quarantined; q != 2 {
		t.Fatalf("uplink counted %d quarantined, want 2", q)
	}
}

// fakeClock is the outbox's injected clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Entries the receiver does not acknowledge in time are sent again; the
// acknowledged ones are not.
func TestUnconfirmedEntriesAreSentAgain(t *testing.T) {
	b := startBroker(t)
	count := watchEvents(t, b.nats())
	clock := &fakeClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	ob, err := outbox.Open(context.Background(), filepath.Join(t.TempDir(), "outbox.db"), outbox.Options{ResendAfter: 2 * time.Minute, Now: clock.Now, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	const n = 20
	appendArrivals(t, ob, n)
	up, _ := runUplink(t, testConfig(b), ob)
	eventually(t, "all sent once", func() bool { return up.Stats().Events == n && count.distinct() == n })

	ackUpTo(t, b, ob.Epoch(), 10)
	eventually(t, "first 10 confirmed", func() bool { return ob.Stats().Depth() == n-10 })
	clock.Advance(3 * time.Minute)
	// The outbox's wait for the resend time runs on a real timer set from
	// the old clock reading; one more append wakes the drain now.
	appendArrivals(t, ob, 1)
	eventually(t, "unconfirmed entries sent again", func() bool {
		for seq := uint64(11); seq <= n; seq++ {
			if count.count(seq) < 2 {
				return false
			}
		}
		return count.count(n+1) == 1
	})
	for seq := uint64(1); seq <= 10; seq++ {
		if c := count.count(seq); c != 1 {
			t.Fatalf("confirmed sequence %d sent %d times, want once", seq, c)
		}
	}
	ackUpTo(t, b, ob.Epoch(), n+1)
	eventually(t, "all confirmed", func() bool { return ob.Stats().Depth() == 0 })
}

// What a session sent and the receiver did not confirm goes again as soon
// as the next session begins, not after outbox.resend_after (an hour
// here): the broker may have acknowledged it and lost it in a restart.
func TestNewSessionSendsUnconfirmedAtOnce(t *testing.T) {
	for _, proto := range []string{uplink.Protocol311, uplink.Protocol5} {
		t.Run("mqtt"+proto, func(t *testing.T) {
			tg := startTarget(t, proto)
			px := nettest.StartProxy(t, tg.addr)
			ob, err := outbox.Open(context.Background(), filepath.Join(t.TempDir(), "outbox.db"), outbox.Options{ResendAfter: time.Hour, Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ob.Close() })
			const n = 30
			appendArrivals(t, ob, n)
			up, _ := runUplink(t, tg.config(px.Addr()), ob)
			eventually(t, "all sent once", func() bool { return up.Stats().Events == n && tg.events.distinct() == n })
			tg.ack(ob.Epoch(), 10)
			eventually(t, "the first 10 confirmed", func() bool { return ob.Stats().Depth() == n-10 })

			px.Drop()
			eventually(t, "every unconfirmed entry sent again on the new session", func() bool {
				for seq := uint64(11); seq <= n; seq++ {
					if tg.events.count(seq) < 2 {
						return false
					}
				}
				return true
			})
			if c := up.Stats().Connects; c < 2 {
				t.Fatalf("%d sessions, want a reconnect", c)
			}
			for seq := uint64(1); seq <= 10; seq++ {
				if c := tg.events.count(seq); c != 1 {
					t.Fatalf("confirmed sequence %d sent %d times, want once", seq, c)
				}
			}
			tg.ack(ob.Epoch(), n)
			eventually(t, "all confirmed", func() bool { return ob.Stats().Depth() == 0 })
		})
	}
}

// promptGuard is how long Run may take to return after cancellation. It is
// a failure guard, well under the 10 s connect timeout and the 60 s PUBACK
// timeout that would otherwise end the wait.
const promptGuard = 5 * time.Second

func TestShutdownIsPromptInEveryState(t *testing.T) {
	targets := func(t *testing.T) []target {
		return []target{startTarget(t, uplink.Protocol311), startTarget(t, uplink.Protocol5)}
	}
	start := func(t *testing.T, tg target, px *nettest.Proxy, ob *outbox.Outbox, rate float64) (*uplink.Uplink, context.CancelFunc, chan error) {
		cfg := tg.config(px.Addr())
		cfg.RateLimit = rate
		up, err := uplink.New(cfg, site, cabin, ob, discard())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- up.Run(ctx) }()
		t.Cleanup(cancel)
		return up, cancel, done
	}
	stopPromptly := func(t *testing.T, cancel context.CancelFunc, done chan error) {
		t.Helper()
		t0 := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Run returned %s after cancellation", time.Since(t0).Round(time.Millisecond))
		case <-time.After(promptGuard):
			t.Fatal("Run did not return promptly after cancellation")
		}
	}
	for _, tg := range targets(t) {
		t.Run("mqtt"+tg.proto, func(t *testing.T) {
			t.Run("connecting to a black hole", func(t *testing.T) {
				px := nettest.StartProxy(t, tg.addr)
				px.SetBlackout(true)
				_, cancel, done := start(t, tg, px, openOutbox(t), 0)
				eventually(t, "a connection attempt", func() bool { return px.Accepted() >= 1 })
				stopPromptly(t, cancel, done)
			})
			t.Run("draining", func(t *testing.T) {
				px := nettest.StartProxy(t, tg.addr)
				ob := openOutbox(t)
				appendConcurrently(t, ob, 3000)
				up, cancel, done := start(t, tg, px, ob, 500)
				eventually(t, "draining", func() bool { return up.Stats().Events > 0 })
				stopPromptly(t, cancel, done)
				if up.Stats().Events >= 3000 {
					t.Fatal("the backlog drained before the stop")
				}
			})
			t.Run("waiting for a PUBACK that never comes", func(t *testing.T) {
				px := nettest.StartProxy(t, tg.addr)
				ob := openOutbox(t)
				up, cancel, done := start(t, tg, px, ob, 0)
				eventually(t, "connected", up.Connected)
				px.SetBlackout(true)
				appendArrivals(t, ob, 5)
				eventually(t, "a batch in flight", func() bool { return ob.Stats().Leased > 0 })
				stopPromptly(t, cancel, done)
				if up.Stats().Events != 0 {
					t.Fatal("a batch was acknowledged through a black hole")
				}
			})
		})
	}
}

// A broker that accepts the session but refuses the events (a negative
// PUBACK in MQTT 5, a disconnection in 3.1.1) gets new sessions with
// backoff, not a publish loop spinning on the same batch.
func TestRefusedPublishesAreRetriedWithBackoff(t *testing.T) {
	topics := wire.TopicsFor(site, cabin)
	for _, proto := range []string{uplink.Protocol311, uplink.Protocol5} {
		t.Run("mqtt"+proto, func(t *testing.T) {
			srv := mochi.New(&mochi.Options{Logger: discard()})
			allow := auth.Filters{}
			for _, tp := range []string{topics.Status, topics.State, topics.Ack, topics.Notices} {
				allow[auth.RString(tp)] = auth.ReadWrite
			}
			allow[auth.RString(topics.Events)] = auth.Deny
			if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
				Auth: auth.AuthRules{{Allow: true}},
				ACL:  auth.ACLRules{{Filters: allow}},
			}}); err != nil {
				t.Fatal(err)
			}
			cfg := mqtt5Config(serveMochi(t, srv))
			cfg.Protocol = proto
			cfg.BackoffMin = 50 * time.Millisecond
			cfg.BackoffMax = 400 * time.Millisecond
			cfg.BatchEvents = 5
			cfg.InFlight = 2
			ob := openOutbox(t)
			appendArrivals(t, ob, 20)
			up, _ := runUplink(t, cfg, ob)
			eventually(t, "several refused sessions", func() bool { return up.Stats().Connects >= 4 })
			st := up.Stats()
			if st.Events != 0 {
				t.Fatalf("%d events acknowledged by a broker that refuses them", st.Events)
			}
			// Each session ends at its first refusal: at most the batches in
			// flight fail per session (a spinning drain would fail thousands).
			if st.PublishErrors > uint64(cfg.InFlight)*(st.Connects+1) {
				t.Fatalf("%d publish errors over %d sessions: the drain spins", st.PublishErrors, st.Connects)
			}
			if d := ob.Stats().Depth(); d != 20 {
				t.Fatalf("depth %d, want 20: nothing may leave the outbox", d)
			}
		})
	}
}

// A session that delivered and then lost its link reconnects at once; the
// backoff is for failures, not for the first retry after a working link.
func TestWorkingSessionReconnectsAtOnce(t *testing.T) {
	tg := startTarget(t, uplink.Protocol311)
	px := nettest.StartProxy(t, tg.addr)
	cfg := tg.config(px.Addr())
	cfg.BackoffMin = time.Hour // any backoff would outlast the test
	cfg.BackoffMax = time.Hour
	ob := openOutbox(t)
	appendArrivals(t, ob, 3)
	up, _ := runUplink(t, cfg, ob)
	eventually(t, "delivering", func() bool { return up.Stats().Events == 3 })
	px.Drop()
	eventually(t, "reconnected without backoff", func() bool { return up.Stats().Connects == 2 && up.Connected() })
}
