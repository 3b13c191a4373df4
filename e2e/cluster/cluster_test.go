package cluster_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/store/postgres/pgtest"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

var (
	cabins   = flag.Int("cluster.cabins", 12, "cabins sending through the leaf node")
	duration = flag.Duration("cluster.duration", 20*time.Second,
		"how long events flow while the faults are played (each fault once at least); the long form: -cluster.duration=10m -cluster.cabins=200 -timeout 30m")
)

const site = "monaco"

func logger(t testing.TB) *slog.Logger {
	if os.Getenv("PALIER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// TestFaultsAtClusterScale runs the cloud side as the seed fleet does: a
// hub of three clustered nats-servers holding the events stream with three
// replicas, a leaf node whose MQTT listener the cabins use, two receivers
// sharing the durable consumer and one PostgreSQL. While cabins send,
// the stream's leader node is killed and restarted, a receiver is killed
// (the other goes on alone), and the leaf node restarts under the cabins.
// Every sequence of every cabin must end stored exactly once and confirmed
// to the cabin, with no operator's help.
func TestFaultsAtClusterScale(t *testing.T) {
	pg := pgtest.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()

	hub := startHub(t, dir)
	leaf := &server{t: t, opts: leafOptions(filepath.Join(dir, "leaf"), hub.leafURLs())}
	leaf.start()
	t.Cleanup(leaf.stop)

	rcfg := func(name string) receiver.Config {
		c := receiver.DefaultConfig()
		c.StateDir = filepath.Join(dir, name)
		c.NATS.URL = strings.Join(hub.clientURLs(), ",")
		c.NATS.MQTTURL = "tcp://" + leaf.mqttAddr()
		c.Store.Driver, c.Store.URL = "postgres", pg
		c.Stream.Replicas = 3
		c.HTTP.Listen = "127.0.0.1:0"
		c.Acks.ResendInterval = time.Second
		return c
	}
	recvA := startReceiver(t, ctx, rcfg("receiver-a"))
	recvB := startReceiver(t, ctx, rcfg("receiver-b"))
	st := recvB.rcv.Store()

	// The cabins: each a real outbox and uplink, as in the agent.
	fleet := make([]*cabin, *cabins)
	for i := range fleet {
		fleet[i] = startCabin(t, ctx, filepath.Join(dir, "cabins"), fmt.Sprintf("c%03d", i), "tcp://"+leaf.mqttAddr())
	}
	sending, stopSending := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range fleet {
		wg.Add(1)
		go func() { defer wg.Done(); c.send(sending, 100*time.Millisecond) }()
	}
	step := *duration / 5
	pause := func(what string) {
		t.Logf("%s; %d events appended so far", what, appended(fleet))
		select {
		case <-time.After(step):
		case <-ctx.Done():
		}
	}

	pause("events flowing")
	leader := hub.streamLeader(t, "PALIER_EVENTS")
	hub.nodes[leader].stop()
	pause(fmt.Sprintf("killed %s, the events stream's leader", hub.nodes[leader].opts.ServerName))
	hub.nodes[leader].start()
	pause("restarted it")
	recvA.stop()
	pause("killed receiver a: receiver b goes on alone")
	leaf.stop()
	leaf.start()
	pause("restarted the leaf node under the cabins")
	stopSending()
	wg.Wait()
	total := appended(fleet)
	t.Logf("sending stopped: %d events appended by %d cabins", total, len(fleet))

	// Every cabin's outbox empties only by end-to-end acks: each event
	// stored once and confirmed.
	deadline := time.Now().Add(3 * time.Minute)
	for _, c := range fleet {
		for c.ob.Stats().Depth() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("cabin %s: %d events never confirmed (%+v)", c.name, c.ob.Stats().Depth(), c.up.Stats())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, c := range fleet {
		epochs, err := st.Epochs(ctx, site, c.name)
		if err != nil {
			t.Fatalf("cabin %s: %v", c.name, err)
		}
		var stored int64
		for _, e := range epochs {
			if e.Lost > 0 || e.Highest != e.Contiguous {
				t.Errorf("cabin %s epoch %s: %+v: a gap or a loss", c.name, e.Epoch, e)
			}
			stored += e.Events
		}
		if n := c.appended.Load(); stored != n {
			t.Errorf("cabin %s: %d events stored, %d appended", c.name, stored, n)
		}
	}
	t.Logf("%d events of %d cabins stored exactly once through a hub node's death, a receiver's and a leaf restart", total, len(fleet))
}

func appended(fleet []*cabin) int64 {
	var n int64
	for _, c := range fleet {
		n += c.appended.Load()
	}
	return n
}

// server is one nats-server that can be stopped and started again on the
// same ports and store.
type server struct {
	t    testing.TB
	opts *natsserver.Options // the ports the first start got, kept
	mu   sync.Mutex
	srv  *natsserver.Server
}

func (s *server) start() {
	s.t.Helper()
	o := s.opts.Clone()
	srv, err := natsserver.NewServer(o)
	if err != nil {
		s.t.Fatalf("nats-server %s: %v", o.ServerName, err)
	}
	if os.Getenv("PALIER_TEST_LOG") != "" {
		srv.ConfigureLogger()
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		s.t.Fatalf("nats-server %s not ready", o.ServerName)
	}
	// nats-server writes the ports it took into its options: keep them,
	// so that a restart comes back where the others and the cabins look.
	s.opts.Port, s.opts.Cluster.Port, s.opts.LeafNode.Port, s.opts.MQTT.Port = o.Port, o.Cluster.Port, o.LeafNode.Port, o.MQTT.Port
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

func (s *server) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

func (s *server) clientURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }
func (s *server) mqttAddr() string  { return fmt.Sprintf("127.0.0.1:%d", s.opts.MQTT.Port) }

// hub is three clustered nats-servers with JetStream.
type hub struct{ nodes []*server }

// startHub starts the three nodes, each routed to the two others, and
// waits for the hub's JetStream. A JetStream cluster refuses to start
// without its routes configured, so the cluster ports are chosen before:
// ports just released by the kernel, which nothing else on this loopback
// takes in the moment between (the client and leafnode ports are the
// servers' own).
func startHub(t *testing.T, dir string) *hub {
	h := &hub{}
	var cports []int
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cports = append(cports, l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	for i := range 3 {
		o := &natsserver.Options{
			ServerName: fmt.Sprintf("hub-%d", i), Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: os.Getenv("PALIER_TEST_LOG") == "",
			JetStream: true, JetStreamDomain: "palier-hub", StoreDir: filepath.Join(dir, fmt.Sprintf("hub-%d", i)),
			Cluster:  natsserver.ClusterOpts{Name: "palier-hub", Host: "127.0.0.1", Port: cports[i]},
			LeafNode: natsserver.LeafNodeOpts{Host: "127.0.0.1", Port: -1},
		}
		for j, p := range cports {
			if j != i {
				o.Routes = append(o.Routes, natsserver.RoutesFromStr(fmt.Sprintf("nats-route://127.0.0.1:%d", p))...)
			}
		}
		h.nodes = append(h.nodes, &server{t: t, opts: o})
	}
	for _, n := range h.nodes {
		n.start()
	}
	t.Cleanup(func() {
		for _, n := range h.nodes {
			n.stop()
		}
	})
	nc, err := nats.Connect(strings.Join(h.clientURLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub's JetStream never became ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (h *hub) clientURLs() []string {
	var out []string
	for _, n := range h.nodes {
		out = append(out, n.clientURL())
	}
	return out
}

func (h *hub) leafURLs() []string {
	var out []string
	for _, n := range h.nodes {
		out = append(out, fmt.Sprintf("nats-leaf://127.0.0.1:%d", n.opts.LeafNode.Port))
	}
	return out
}

// streamLeader returns the index of the node that leads stream.
func (h *hub) streamLeader(t *testing.T, stream string) int {
	t.Helper()
	for i, n := range h.nodes {
		n.mu.Lock()
		srv := n.srv
		n.mu.Unlock()
		if srv != nil && srv.JetStreamIsStreamLeader(natsserver.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	t.Fatalf("no node leads %s", stream)
	return -1
}

// leafOptions is the device-facing leaf node: MQTT, its own JetStream
// domain for the MQTT sessions, and the hub as its remote.
func leafOptions(dir string, hubLeafURLs []string) *natsserver.Options {
	var remotes []*url.URL
	for _, u := range hubLeafURLs {
		p, _ := url.Parse(u)
		remotes = append(remotes, p)
	}
	return &natsserver.Options{
		ServerName: "leaf-0", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: os.Getenv("PALIER_TEST_LOG") == "",
		JetStream: true, JetStreamDomain: "palier-leaf", StoreDir: dir,
		MQTT:     natsserver.MQTTOpts{Host: "127.0.0.1", Port: -1, JsDomain: "palier-leaf"},
		LeafNode: natsserver.LeafNodeOpts{Remotes: []*natsserver.RemoteLeafOpts{{URLs: remotes}}, ReconnectInterval: 200 * time.Millisecond},
	}
}

// runningReceiver is a receiver that can be killed.
type runningReceiver struct {
	rcv  *receiver.Receiver
	stop func()
}

func startReceiver(t *testing.T, ctx context.Context, cfg receiver.Config) *runningReceiver {
	t.Helper()
	rcv, err := receiver.New(ctx, cfg, logger(t).With("part", "receiver", "state_dir", cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rcv.Run(ctx); err != nil {
			t.Errorf("receiver %s: %v", cfg.StateDir, err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return &runningReceiver{rcv: rcv, stop: stop}
}

// cabin is what the agent is to the cloud: a real outbox and uplink.
type cabin struct {
	name     string
	ob       *outbox.Outbox
	up       *uplink.Uplink
	appended atomic.Int64
}

func startCabin(t *testing.T, ctx context.Context, dir, name, broker string) *cabin {
	t.Helper()
	ob, err := outbox.Open(ctx, filepath.Join(dir, name, "outbox.db"), outbox.Options{Logger: logger(t), ResendAfter: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	cfg := uplink.DefaultConfig()
	cfg.Broker = broker
	cfg.Protocol = uplink.Protocol311
	cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, 2*time.Second
	cfg.KeepAlive = 2 * time.Second
	up, err := uplink.New(cfg, site, name, ob, logger(t).With("part", "uplink", "cabin", name))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &cabin{name: name, ob: ob, up: up}
}

// send appends an arrival every interval until ctx is done.
func (c *cabin) send(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for floor := 0; ; floor = (floor + 1) % 8 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ev, err := wire.NewEvent(time.Now(), wire.TypeArrival, wire.ArrivalData{Floor: floor})
		if err != nil {
			panic(err)
		}
		b, _ := json.Marshal(ev)
		// Not ctx: an append cut short by the stop may still commit, and
		// this count must be what the outbox holds.
		if _, err := c.ob.Append(context.Background(), outbox.ClassEvents, b); err == nil {
			c.appended.Add(1)
		}
	}
}
