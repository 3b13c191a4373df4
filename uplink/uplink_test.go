package uplink_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

const site, cabin = "test-site", "cabin-1"

// broker is an embedded nats-server that can be stopped and started again
// on the same ports and storage.
type broker struct {
	t        testing.TB
	cfg      natsembed.Config
	srv      *natsembed.Server
	mqttAddr string
}

func startBroker(t testing.TB) *broker {
	t.Helper()
	b := &broker{t: t, cfg: natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}}
	b.start()
	t.Cleanup(func() { b.stop() })
	return b
}

func (b *broker) start() {
	b.t.Helper()
	srv, err := natsembed.Start(b.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.t.Fatal(err)
	}
	b.srv = srv
	b.mqttAddr = srv.MQTTAddr()
	// The first start binds free ports; restarts come back on them, as a
	// restarted broker does, since the uplink under test keeps its address.
	b.cfg.Port = port(b.t, srv.ClientURL())
	b.cfg.MQTTPort = port(b.t, "tcp://"+srv.MQTTAddr())
}

// port is the port of a URL a server reported.
func port(t testing.TB, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("server address %q: %v", rawURL, err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("server address %q has no port: %v", rawURL, err)
	}
	return p
}

func (b *broker) stop() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv = nil
	}
}

func (b *broker) nats() *nats.Conn {
	b.t.Helper()
	nc, err := nats.Connect(b.srv.ClientURL())
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(nc.Close)
	return nc
}

func openOutbox(t testing.TB) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.Open(context.Background(), filepath.Join(t.TempDir(), "outbox.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	return ob
}

func appendArrivals(t testing.TB, ob *outbox.Outbox, n int) {
	t.Helper()
	for i := range n {
		ev, err := wire.NewEvent(time.Now(), wire.TypeArrival, wire.ArrivalData{Floor: i % 9})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ev)
		if _, err := ob.Append(context.Background(), outbox.ClassEvents, b); err != nil {
			t.Fatal(err)
		}
	}
}

func testConfig(b *broker) uplink.Config {
	cfg := uplink.DefaultConfig()
	cfg.Broker = "tcp://" + b.mqttAddr
	cfg.BackoffMin = 20 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	cfg.BatchEvents = 50
	return cfg
}

// runUplink runs an uplink until the test ends; stop cancels it and returns
// Run's result, and may be called more than once.
func runUplink(t testing.TB, cfg uplink.Config, ob *outbox.Outbox) (*uplink.Uplink, func() error) {
	t.Helper()
	up, err := uplink.New(cfg, site, cabin, ob, discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = up.Run(ctx); close(done) }()
	stop := func() error {
		cancel()
		within(t, 30*time.Second, "Uplink.Run after its context ended", func() { <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return up, stop
}

// collector gathers the sequences published on the cabin's events subject.
type collector struct {
	mu    sync.Mutex
	seqs  map[uint64]int
	bad   []error
	epoch string
}

func collect(t testing.TB, nc *nats.Conn) *collector {
	c := &collector{seqs: map[uint64]int{}}
	sub, err := nc.Subscribe("palier.v1."+site+"."+cabin+".events", func(m *nats.Msg) {
		batch, err := wire.DecodeBatch(m.Data)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.bad = append(c.bad, err)
			return
		}
		c.epoch = batch.Epoch
		for _, e := range batch.Events {
			c.seqs[e.Seq]++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs)
}

// eventually polls cond until it holds or a generous guard expires.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDrainsOutboxAndConfirmsOnAck(t *testing.T) {
	b := startBroker(t)
	nc := b.nats()
	got := collect(t, nc)
	ob := openOutbox(t)
	const n = 230
	appendArrivals(t, ob, n)

	up, _ := runUplink(t, testConfig(b), ob)
	eventually(t, "all events published", func() bool { return got.distinct() == n })
	got.mu.Lock()
	for seq := uint64(1); seq <= n; seq++ {
		if got.seqs[seq] == 0 {
			t.Errorf("sequence %d never published", seq)
		}
	}
	if len(got.bad) > 0 {
		t.Errorf("undecodable batches: %v", got.bad)
	}
	got.mu.Unlock()
	eventually(t, "batches marked sent", func() bool { return up.Stats().Events == n })
	if d := ob.Stats().Depth(); d != n {
		t.Fatalf("outbox depth before any ack = %d, want %d (a PUBACK must not delete)", d, n)
	}

	// A cumulative ack from the receiver, over NATS (it reaches MQTT at QoS 0).
	ack, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: ob.Epoch(), Seq: 100})
	if err := nc.Publish(wire.AckSubject(site, cabin), ack); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first 100 confirmed", func() bool { return ob.Stats().Depth() == n-100 })

	// A malformed ack and an ack of another epoch change nothing.
	nc.Publish(wire.AckSubject(site, cabin), []byte(`{"v":1,"epoch":"BAD EPOCH","seq":9999}`))
	other, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: "another-epoch", Seq: 9999})
	nc.Publish(wire.AckSubject(site, cabin), other)
	eventually(t, "bad ack counted", func() bool { return up.Stats().BadAcks == 1 })
	if d := ob.Stats().Depth(); d != n-100 {
		t.Fatalf("depth after foreign acks = %d, want %d", d, n-100)
	}

	ack, _ = json.Marshal(wire.Ack{V: wire.Version, Epoch: ob.Epoch(), Seq: n})
	nc.Publish(wire.AckSubject(site, cabin), ack)
	eventually(t, "all confirmed", func() bool { return ob.Stats().Depth() == 0 })
}

func TestSurvivesBrokerRestartMidDrain(t *testing.T) {
	b := startBroker(t)
	ob := openOutbox(t)
	const n = 2000
	appendArrivals(t, ob, n)
	cfg := testConfig(b)
	cfg.RateLimit = 2000 // slow enough that the restart lands mid-drain
	up, _ := runUplink(t, cfg, ob)

	eventually(t, "some batches sent", func() bool { return up.Stats().Events > 0 })
	b.stop()
	eventually(t, "uplink notices the loss", func() bool { return !up.Connected() })
	sentBefore := up.Stats().Events
	if sentBefore >= n {
		t.Fatalf("the whole backlog drained before the restart (%d events); slow the drain down", sentBefore)
	}
	b.start()
	got := collect(t, b.nats())
	eventually(t, "reconnected", func() bool { return up.Stats().Connects >= 2 })

	// Whatever was not acknowledged by the broker before the cut is sent after it;
	// nothing is lost, and the outbox still holds everything until confirmed.
	eventually(t, "every pending event sent", func() bool { return ob.Stats().Depth() == n && up.Stats().Events >= n })
	if d := got.distinct(); d == 0 {
		t.Fatal("nothing published after the restart")
	}
	ack, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: ob.Epoch(), Seq: n})
	b.nats().Publish(wire.AckSubject(site, cabin), ack)
	eventually(t, "all confirmed", func() bool { return ob.Stats().Depth() == 0 })
}

func TestRetainedStatusAndLastWill(t *testing.T) {
	b := startBroker(t)
	ob := openOutbox(t)
	up, stop := runUplink(t, testConfig(b), ob)
	eventually(t, "connected", up.Connected)

	status := func() string {
		t.Helper()
		got := make(chan string, 1)
		c := mqttClient(t, b, "status-reader-"+strconv.Itoa(int(time.Now().UnixNano()%1e6)))
		defer c.Disconnect(0)
		c.Subscribe(wire.TopicsFor(site, cabin).Status, 1, func(_ mqtt.Client, m mqtt.Message) {
			select {
			case got <- string(m.Payload()):
			default:
			}
		}).Wait()
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no retained status")
			return ""
		}
	}
	if s := status(); s != uplink.StatusOnline {
		t.Fatalf("retained status = %q, want online", s)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != uplink.StatusOffline {
		t.Fatalf("retained status after clean stop = %q, want offline", s)
	}
}

func TestNoticesAreValidatedAndVersioned(t *testing.T) {
	b := startBroker(t)
	ob := openOutbox(t)
	up, err := uplink.New(testConfig(b), site, cabin, ob, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan wire.NoticeSet, 10)
	up.OnNotices = func(s wire.NoticeSet) { got <- s }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go up.Run(ctx)
	eventually(t, "connected", up.Connected)

	pub := mqttClient(t, b, "notice-publisher")
	defer pub.Disconnect(0)
	topic := wire.TopicsFor(site, cabin).Notices
	set := func(version uint64, title string) []byte {
		s := wire.NoticeSet{V: wire.Version, Site: site, Version: version, Notices: []wire.Notice{{
			ID: "water-cut", Category: wire.CategoryWater, Priority: wire.PriorityUrgent,
			Title: wire.Text{FR: title}, Body: wire.Text{FR: "Coupure d'eau de 9h à 12h."},
			ValidFrom: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		}}}
		b, _ := json.Marshal(s)
		return b
	}
	publish := func(b []byte) {
		if tok := pub.Publish(topic, 1, true, b); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	publish(set(2, "Coupure d'eau"))
	select {
	case s := <-got:
		if s.Version != 2 || s.Notices[0].Title.FR != "Coupure d'eau" {
			t.Fatalf("got notice set %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("notice set not delivered")
	}
	publish([]byte(`{"v":1,"site":"test-site","version":3,"notices":[{"id":"x"}]}`)) // invalid
	publish(set(1, "Ancienne"))                                                      // older
	publish(set(4, "Nouvelle"))
	select {
	case s := <-got:
		if s.Version != 4 {
			t.Fatalf("got version %d after invalid and older sets, want 4", s.Version)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("newer notice set not delivered")
	}
	if n := up.Stats().BadNotices; n != 1 {
		t.Fatalf("bad notices counted = %d, want 1", n)
	}
}

func TestShutdownIsPromptWhileBrokerIsDown(t *testing.T) {
	ob := openOutbox(t)
	cfg := uplink.DefaultConfig()
	cfg.Broker = "tcp://" + nettest.RefusedAddr(t) // nothing listens
	cfg.BackoffMin = time.Minute                   // it would sleep long
	cfg.BackoffMax = time.Hour
	up, err := uplink.New(cfg, site, cabin, ob, discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // let it fail once and start backing off
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run ignored cancellation while backing off")
	}
}

func TestConnectErrorsNameTheCause(t *testing.T) {
	ob := openOutbox(t)
	cfg := uplink.DefaultConfig()
	cfg.Broker = "tcp://" + nettest.RefusedAddr(t)
	_ = ob
	_, err := probe(t, cfg)
	if !errors.Is(err, uplink.ErrRefused) {
		t.Fatalf("connecting to a closed port: %v, want ErrRefused", err)
	}
	var ce *uplink.ConnectError
	if !errors.As(err, &ce) || ce.Hint == "" {
		t.Fatalf("error %v carries no hint", err)
	}
}

func TestBackoffIsCappedWithFullJitter(t *testing.T) {
	min, max := time.Second, time.Minute
	for n := range 40 {
		if d := uplink.Backoff(min, max, n, func() float64 { return 0.999999 }); d > max {
			t.Fatalf("attempt %d: %s exceeds the cap %s", n, d, max)
		}
		if d := uplink.Backoff(min, max, n, func() float64 { return 0 }); d != 0 {
			t.Fatalf("attempt %d: jitter floor %s, want 0 (full jitter)", n, d)
		}
	}
	if d := uplink.Backoff(min, max, 3, func() float64 { return 0.5 }); d != 4*time.Second {
		t.Fatalf("attempt 3 at half jitter = %s, want 4s", d)
	}
}

func mqttClient(t *testing.T, b *broker, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + b.mqttAddr).SetClientID(id).SetProtocolVersion(4))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return c
}
