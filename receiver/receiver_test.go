package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/postgres/pgtest"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// guard bounds every wait: a failure guard on slow shared machines, never a
// timing assertion.
const guard = 20 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.NATS.Embedded.Port = -1
	cfg.NATS.Embedded.MQTTPort = -1
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Store.Synchronous = "normal" // tests do not survive power cuts anyway
	cfg.Acks.ResendInterval = 200 * time.Millisecond
	cfg.Stream.FetchBatch = 16
	return cfg
}

// start runs a receiver until the test ends.
func start(t *testing.T, cfg Config) *Receiver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(guard):
			t.Error("receiver did not stop")
		}
	})
	return r
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func publish(t *testing.T, nc *nats.Conn, b wire.Batch) {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsOf(t, nc).Publish(context.Background(), "palier.v1."+b.Site+"."+b.Cabin+".events", data); err != nil {
		t.Fatal(err)
	}
}

func jsOf(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// eventually polls cond until it holds or the guard expires.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", guard, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allEvents(t *testing.T, st store.Store, site, cabin string) []store.StoredEvent {
	t.Helper()
	var out []store.StoredEvent
	cursor := ""
	for {
		p, err := st.Events(context.Background(), store.EventQuery{Site: site, Cabin: cabin, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.Next == "" {
			return out
		}
		cursor = p.Next
	}
}

// checkOnce fails unless the store holds exactly sequences 1..n of epoch, once each.
func checkOnce(t *testing.T, st store.Store, site, cabin, epoch string, n int) {
	t.Helper()
	seen := map[uint64]int{}
	for _, e := range allEvents(t, st, site, cabin) {
		if e.Epoch == epoch {
			seen[e.Seq]++
		}
	}
	for s := uint64(1); s <= uint64(n); s++ {
		if seen[s] != 1 {
			t.Fatalf("%s/%s %s seq %d stored %d times, want once", site, cabin, epoch, s, seen[s])
		}
	}
	if len(seen) != n {
		t.Fatalf("%s/%s %s: %d distinct sequences, want %d", site, cabin, epoch, len(seen), n)
	}
}

func counter(t testing.TB, r *Receiver, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return total
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		ok := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ackWatcher collects the acks published to one cabin.
type ackWatcher struct {
	mu   sync.Mutex
	last map[string]uint64 // by epoch
	n    int
}

func watchAcks(t *testing.T, nc *nats.Conn, site, cabin string) *ackWatcher {
	w := &ackWatcher{last: map[string]uint64{}}
	sub, err := nc.Subscribe(wire.AckSubject(site, cabin), func(m *nats.Msg) {
		a, err := wire.DecodeAck(m.Data)
		if err != nil {
			t.Errorf("bad ack %q: %v", m.Data, err)
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if a.Seq < w.last[a.Epoch] {
			// Re-sends may interleave; the device keeps the highest.
			return
		}
		w.last[a.Epoch] = a.Seq
		w.n++
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
	return w
}

func (w *ackWatcher) get(epoch string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[epoch]
}

func TestEndToEndDuplicatesAndReordering(t *testing.T) {
	r := start(t, testConfig(t))
	nc := connect(t, r.NATSURL())
	acks := watchAcks(t, nc, "s1", "c1")

	// 200 events in batches of 1..10, delivered shuffled, a third of the
	// batches delivered twice, and sequence 1 held back to the end.
	const n = 200
	var batches []wire.Batch
	for from := uint64(2); from <= n; {
		to := min(from+uint64(rand.IntN(10)), n)
		var seqs []uint64
		for s := from; s <= to; s++ {
			seqs = append(seqs, s)
		}
		batches = append(batches, storetest.Batch("s1", "c1", "e1", seqs...))
		from = to + 1
	}
	rand.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	for i, b := range batches {
		publish(t, nc, b)
		if i%3 == 0 {
			publish(t, nc, b)
		}
	}
	eventually(t, "199 events stored", func() bool {
		c, err := r.Store().Cabin(context.Background(), "s1", "c1")
		return err == nil && c.Events == n-1
	})
	if got := acks.get("e1"); got != 0 {
		t.Fatalf("ack %d while sequence 1 is missing, want none (0)", got)
	}
	publish(t, nc, storetest.Batch("s1", "c1", "e1", 1))
	eventually(t, "ack of 200", func() bool { return acks.get("e1") == n })
	checkOnce(t, r.Store(), "s1", "c1", "e1", n)
	if dup := counter(t, r, "palier_receiver_events_duplicate_total"); dup == 0 {
		t.Fatal("no duplicates counted though a third of the batches were sent twice")
	}
	if stored := counter(t, r, "palier_receiver_events_stored_total"); stored != n {
		t.Fatalf("events_stored_total %v, want %d", stored, n)
	}
}

func TestDeadLetterAndIngestionContinues(t *testing.T) {
	r := start(t, testConfig(t))
	nc := connect(t, r.NATSURL())
	js := jsOf(t, nc)
	ctx := context.Background()
	good, _ := json.Marshal(storetest.Batch("s1", "c1", "e1", 1, 2))
	other, _ := json.Marshal(storetest.Batch("s2", "c9", "e1", 1))
	huge := strings.Replace(string(good), `"s1"`, `"s1","pad":"`+strings.Repeat("x", 300<<10)+`"`, 1)
	bigSeq := strings.Replace(string(good), `"seq":2`, `"seq":18446744073709551615`, 1)
	bad := []struct{ subject, data, want string }{
		{"palier.v1.s1.c1.events", `{"v":1,"site":`, "decode"},
		{"palier.v1.s1.c1.events", strings.Replace(string(good), `"v":1`, `"v":7`, 1), "unknown version 7"},
		{"palier.v1.s1.c1.events", huge, "too large"},
		{"palier.v1.s1.c1.events", string(other), "published on s1/c1"},
		{"palier.v1.s1.c1.events", bigSeq, "above"},
		{"palier.v1.s1.c1.events", `{"v":1,"site":"s1","cabin":"c1","epoch":"e1","events":[{"seq":3,"time":"2026-03-01T08:00:00Z","type":"Levitation!","data":{}}]}`, "want [a-z0-9_]"},
	}
	for _, b := range bad {
		if _, err := js.Publish(ctx, b.subject, []byte(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, "palier.v1.s1.c1.events", good); err != nil {
		t.Fatal(err)
	}
	eventually(t, "good batch stored after the bad ones", func() bool {
		c, err := r.Store().Cabin(ctx, "s1", "c1")
		return err == nil && c.Events == 2
	})
	eventually(t, "6 dead letters counted", func() bool { return counter(t, r, "palier_receiver_dead_letters_total") == float64(len(bad)) })

	dl, err := js.Stream(ctx, "PALIER_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bad {
		m, err := dl.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatalf("dead letter %d: %v", i+1, err)
		}
		if reason := m.Header.Get(HeaderReason); !strings.Contains(reason, b.want) {
			t.Errorf("dead letter %d reason %q, want it to mention %q", i+1, reason, b.want)
		}
		if m.Subject != "palier.deadletter.s1.c1" || m.Header.Get(HeaderSubject) != b.subject || string(m.Data) != b.data {
			t.Errorf("dead letter %d: subject %s, header subject %s, %d bytes: want the original kept", i+1, m.Subject, m.Header.Get(HeaderSubject), len(m.Data))
		}
	}
	if _, err := r.Store().Cabin(ctx, "s2", "c9"); err == nil {
		t.Fatal("the batch published under another cabin's subject was stored")
	}
}

func TestTwoReceiversShareTheConsumer(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		cfg1 := testConfig(t)
		cfg2 := testConfig(t)
		cfg2.Store.Path = cfg1.withPaths().Store.Path // one database file for both
		testTwoReceivers(t, cfg1, cfg2)
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		cfg1, cfg2 := testConfig(t), testConfig(t)
		for _, c := range []*Config{&cfg1, &cfg2} {
			c.Store.Driver, c.Store.URL = "postgres", url
		}
		testTwoReceivers(t, cfg1, cfg2)
	})
}

func testTwoReceivers(t *testing.T, cfg1, cfg2 Config) {
	r1 := start(t, cfg1)
	cfg2.NATS.URL = r1.NATSURL()
	cfg2.NATS.MQTTURL = "tcp://" + r1.MQTTAddr()
	r2 := start(t, cfg2)

	nc := connect(t, r1.NATSURL())
	const cabins, perCabin = 4, 300
	for c := 0; c < cabins; c++ {
		for from := uint64(1); from <= perCabin; from += 5 {
			publish(t, nc, storetest.Batch("s1", fmt.Sprintf("c%d", c), "e1", from, from+1, from+2, from+3, from+4))
		}
	}
	eventually(t, "every event stored", func() bool {
		cs, err := r1.Store().Cabins(context.Background())
		if err != nil || len(cs) != cabins {
			return false
		}
		for _, c := range cs {
			if c.Events != perCabin {
				return false
			}
		}
		return true
	})
	for c := 0; c < cabins; c++ {
		checkOnce(t, r1.Store(), "s1", fmt.Sprintf("c%d", c), "e1", perCabin)
	}
	n1 := counter(t, r1, "palier_receiver_events_stored_total")
	n2 := counter(t, r2, "palier_receiver_events_stored_total")
	if n1+n2 != cabins*perCabin {
		t.Fatalf("receivers stored %v + %v events, want %d in all", n1, n2, cabins*perCabin)
	}
	m1 := counter(t, r1, "palier_receiver_messages_total")
	m2 := counter(t, r2, "palier_receiver_messages_total")
	t.Logf("receiver 1 handled %v messages, receiver 2 %v", m1, m2)
	if m1 == 0 || m2 == 0 {
		t.Fatalf("one receiver did all the work (%v and %v messages): the consumer is not shared", m1, m2)
	}
}

func TestMQTTEndToEnd(t *testing.T) {
	r := start(t, testConfig(t))
	topics := wire.TopicsFor("s1", "c1")

	// The agent's side: MQTT 3.1.1 QoS 1, like cmd/agent.
	acks := make(chan wire.Ack, 100)
	agent := dial(t, r.MQTTAddr(), "palier-s1-c1")
	if err := wait(context.Background(), agent.Subscribe(topics.Ack, 1, func(_ mqtt.Client, m mqtt.Message) {
		if a, err := wire.DecodeAck(m.Payload()); err == nil {
			acks <- a
		}
	})); err != nil {
		t.Fatal(err)
	}
	b1, _ := json.Marshal(storetest.Batch("s1", "c1", "e1", 2, 3))
	b2, _ := json.Marshal(storetest.Batch("s1", "c1", "e1", 1, 2))
	for _, b := range [][]byte{b1, b1, b2} { // a duplicate and a reordering
		if err := wait(context.Background(), agent.Publish(topics.Events, 1, false, b)); err != nil {
			t.Fatal(err)
		}
	}
	st := wire.State{V: 1, Site: "s1", Cabin: "c1", Time: time.Now().UTC(), Floor: 4, Direction: "none", Mode: "normal", Faults: []int{31}, Link: "ok", Uplink: true}
	sb, _ := json.Marshal(st)
	if err := wait(context.Background(), agent.Publish(topics.State, 1, true, sb)); err != nil {
		t.Fatal(err)
	}
	if err := wait(context.Background(), agent.Publish(topics.Status, 1, true, []byte("online"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(guard)
	for got := uint64(0); got < 3; {
		select {
		case a := <-acks:
			if a.Epoch != "e1" {
				t.Fatalf("ack for epoch %q", a.Epoch)
			}
			got = max(got, a.Seq)
		case <-deadline:
			t.Fatal("no ack of sequence 3 over MQTT")
		}
	}
	checkOnce(t, r.Store(), "s1", "c1", "e1", 3)
	eventually(t, "state and status applied", func() bool {
		c, err := r.Store().Cabin(context.Background(), "s1", "c1")
		return err == nil && c.Online && c.Floor != nil && *c.Floor == 4 && len(c.Faults) == 1
	})

	// Notices: the API publishes the set retained; an agent connecting
	// afterwards still gets it.
	body := `{"category":"water","priority":"urgent","title":{"fr":"Coupure d'eau","en":"Water cut"},"body":{"fr":"Mardi 9h-12h"},"valid_from":"2026-03-01T00:00:00Z"}`
	resp, err := http.Post("http://"+r.HTTPAddr()+"/api/v1/sites/s1/notices", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST notice: %s", resp.Status)
	}
	sets := make(chan wire.NoticeSet, 4)
	late := dial(t, r.MQTTAddr(), "palier-s1-c2")
	if err := wait(context.Background(), late.Subscribe(wire.NoticesTopic("s1"), 1, func(_ mqtt.Client, m mqtt.Message) {
		s, err := wire.DecodeNoticeSet(m.Payload())
		if err != nil {
			t.Errorf("notice set: %v", err)
			return
		}
		sets <- s
	})); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-sets:
		if s.Version != 1 || len(s.Notices) != 1 || s.Notices[0].Title.EN != "Water cut" {
			t.Fatalf("retained notice set %+v, want version 1 with the water cut", s)
		}
	case <-time.After(guard):
		t.Fatal("no retained notice set for an agent connecting after the change")
	}
}

func dial(t *testing.T, addr, clientID string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).SetProtocolVersion(4).SetCleanSession(true))
	if err := wait(context.Background(), c.Connect()); err != nil {
		t.Fatalf("MQTT connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func TestLostAckIsResent(t *testing.T) {
	r := start(t, testConfig(t))
	nc := connect(t, r.NATSURL())
	publish(t, nc, storetest.Batch("s1", "c1", "e1", 1, 2, 3))
	eventually(t, "events stored", func() bool {
		c, err := r.Store().Cabin(context.Background(), "s1", "c1")
		return err == nil && c.Events == 3
	})
	// Subscribing only now, the first ack is lost to us; a re-send repairs it.
	acks := watchAcks(t, nc, "s1", "c1")
	eventually(t, "re-sent ack of 3", func() bool { return acks.get("e1") == 3 })
}

func TestRestartKeepsExactlyOnce(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	nc := connect(t, r.NATSURL())
	publish(t, nc, storetest.Batch("s1", "c1", "e1", 1, 2, 3))
	eventually(t, "first events stored", func() bool {
		c, err := r.Store().Cabin(context.Background(), "s1", "c1")
		return err == nil && c.Events == 3
	})
	nc.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Same state dir: the stream, consumer position and database survive.
	r2 := start(t, cfg)
	nc2 := connect(t, r2.NATSURL())
	publish(t, nc2, storetest.Batch("s1", "c1", "e1", 2, 3, 4))
	eventually(t, "4 events after restart", func() bool {
		c, err := r2.Store().Cabin(context.Background(), "s1", "c1")
		return err == nil && c.Events == 4
	})
	checkOnce(t, r2.Store(), "s1", "c1", "e1", 4)
}

// lastCommitStore holds the first commit until shutdown has begun, as a
// commit still running when the receiver is told to stop, and records
// whether the NATS server went away while it ran.
type lastCommitStore struct {
	store.Store
	entered    chan struct{}   // closed when the held commit starts
	serverGone <-chan struct{} // closed when the server drops a watcher
	once       sync.Once
	goneDuring bool
}

func (s *lastCommitStore) InsertBatches(ctx context.Context, b []wire.Batch, at time.Time) (store.InsertResult, error) {
	held := false
	s.once.Do(func() { held = true })
	if !held {
		return s.Store.InsertBatches(ctx, b, at)
	}
	close(s.entered)
	<-ctx.Done()
	// Give a server that stops on the same context time to go: it would
	// within milliseconds. A server owned by Run cannot stop before this
	// commit returns, so the wait always runs out there.
	select {
	case <-s.serverGone:
		s.goneDuring = true
	case <-time.After(time.Second):
	}
	// The commit was past its point of no return when ctx ended.
	return s.Store.InsertBatches(context.WithoutCancel(ctx), b, at)
}

// The receiver alone stops its embedded NATS server, after ingestion has
// returned: a commit running at shutdown still finds the server up, and the
// device ack that follows it still reaches NATS.
func TestEmbeddedNATSOutlivesLastCommit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(ctx, testConfig(t), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	watcher, err := nats.Connect(r.NATSURL(), nats.NoReconnect(),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { close(gone) }))
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	st := &lastCommitStore{Store: r.st, entered: make(chan struct{}), serverGone: gone}
	r.ingest.st = st
	// A channel, not a callback: what the connection read before the
	// server closed it stays readable after.
	acks := make(chan *nats.Msg, 16)
	if _, err := watcher.ChanSubscribe(wire.AckSubject("s1", "c1"), acks); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	publish(t, watcher, storetest.Batch("s1", "c1", "e1", 1, 2, 3))
	select {
	case <-st.entered:
	case <-time.After(guard):
		t.Fatal("the batch never reached the store")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(guard):
		t.Fatal("receiver did not stop")
	}
	if st.goneDuring {
		t.Fatal("the embedded NATS server stopped while the last commit ran")
	}
	for {
		select {
		case m := <-acks:
			if m == nil {
				t.Fatal("no device ack after the last commit: the server was gone before it left")
			}
			a, err := wire.DecodeAck(m.Data)
			if err != nil {
				t.Fatalf("bad ack %q: %v", m.Data, err)
			}
			if a.Epoch == "e1" && a.Seq == 3 {
				return
			}
		case <-time.After(guard):
			t.Fatal("no device ack after the last commit: the server was gone before it left")
		}
	}
}

// Port -1 in the embedded config is a free port, and the receiver reports
// the ports the server bound: tests and the e2e chain dial those.
func TestEmbeddedFreePortsAreReported(t *testing.T) {
	cfg := testConfig(t)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("ports -1 refused: %v", err)
	}
	r := start(t, cfg)
	for what, addr := range map[string]string{"NATS": strings.TrimPrefix(r.NATSURL(), "nats://"), "MQTT": r.MQTTAddr()} {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" || port == "-1" {
			t.Fatalf("%s address %q has no bound port (%v)", what, addr, err)
		}
		c, err := net.DialTimeout("tcp", addr, guard)
		if err != nil {
			t.Fatalf("%s listener at %s: %v", what, addr, err)
		}
		c.Close()
	}
	// Let ingestion start before the cleanup stops it: a receiver stopped
	// before it opened its consumer reports the cancellation as an error.
	publish(t, connect(t, r.NATSURL()), storetest.Batch("s1", "c1", "e1", 1))
	eventually(t, "event stored", func() bool {
		c, err := r.Store().Cabin(context.Background(), "s1", "c1")
		return err == nil && c.Events == 1
	})
}

// TestPlatformMetrics: what the platform's alerting rules read
// (packaging/prometheus) is exposed: the version, the shared consumers'
// backlog and when events were last committed.
func TestPlatformMetrics(t *testing.T) {
	r := start(t, testConfig(t))
	nc := connect(t, r.NATSURL())
	js := jsOf(t, nc)
	b, _ := json.Marshal(storetest.Batch("s1", "c1", "e1", 1))
	if _, err := js.Publish(context.Background(), "palier.v1.s1.c1.events", b); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a commit time", func() bool { return counter(t, r, "palier_receiver_last_commit_timestamp_seconds") > 0 })
	if counter(t, r, "palier_receiver_build_info") != 1 {
		t.Error("no build_info")
	}
	eventually(t, "the consumers' backlog measured", func() bool {
		mfs, err := r.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, mf := range mfs {
			seen[mf.GetName()] = len(mf.GetMetric())
		}
		return seen["palier_receiver_consumer_pending"] == 2 && seen["palier_receiver_consumer_ack_pending"] == 2
	})
}

// A client in the middle of a request when the receiver stops (here one
// that sent half its headers and waits) is cut off after the grace
// period; the stop is still a clean one: Run returns nil.
func TestStopCutsASlowClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(ctx, testConfig(t), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	conn, err := net.Dial("tcp", r.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /api/v1/cabins HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// The server has the request's first bytes: the connection is active.
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after a stop with a slow client: %v, want nil", err)
		}
	case <-time.After(guard):
		t.Fatal("the receiver did not stop")
	}
	conn.SetReadDeadline(time.Now().Add(guard))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the slow client's connection is still open (read %d bytes)", n)
	}
}
