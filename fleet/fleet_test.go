package fleet_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/palier-lifts/palier/fleet"
	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

func logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

func repoFile(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", rel)
}

// startReceiver runs a receiver with its embedded NATS (MQTT, JetStream)
// and SQLite until the test ends, as the end-to-end tests do.
func startReceiver(t testing.TB, ctx context.Context) *receiver.Receiver {
	t.Helper()
	rcfg := receiver.DefaultConfig()
	rcfg.StateDir = filepath.Join(t.TempDir(), "receiver")
	rcfg.NATS.Embedded.Port = -1
	rcfg.NATS.Embedded.MQTTPort = -1
	rcfg.HTTP.Listen = "127.0.0.1:0"
	rcfg.Acks.ResendInterval = time.Second
	rcv, err := receiver.New(ctx, rcfg, logger(t).With("part", "receiver"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rcv.Run(ctx); err != nil {
			t.Errorf("receiver: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return rcv
}

// testConfig is a short, busy run: simulated time 120 times faster, a
// heartbeat every simulated minute.
func testConfig(t testing.TB, rcv *receiver.Receiver, cabins int) fleet.Config {
	cfg := fleet.DefaultConfig()
	cfg.Cabins = cabins
	cfg.Dir = t.TempDir()
	cfg.Profile = repoFile("sensors/profiles/palier-sim.yaml")
	cfg.Brokers = []string{"tcp://" + rcv.MQTTAddr()}
	cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
	cfg.TimeFactor = 120
	cfg.Tick = 200 * time.Millisecond
	cfg.HeartbeatInterval = time.Minute
	cfg.AlarmRate = 0.05
	cfg.ConnectRate = 500
	cfg.DrainTimeout = 2 * time.Minute // a failure guard, not a measure
	return cfg
}

// checkStored checks that every sequence each cabin's outbox gave is
// stored once at the receiver, in the cabin's epoch, and nothing else.
func checkStored(t *testing.T, f *fleet.Fleet, st store.Store) map[string]int {
	t.Helper()
	types := map[string]int{}
	for _, c := range f.Cabins() {
		var events []store.StoredEvent
		q := store.EventQuery{Site: c.Site(), Cabin: c.Name(), Limit: store.MaxLimit}
		for {
			page, err := st.Events(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, page.Events...)
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		if uint64(len(events)) != c.Appended() {
			t.Errorf("%s/%s: %d events stored, %d appended", c.Site(), c.Name(), len(events), c.Appended())
		}
		seen := map[uint64]bool{}
		for _, e := range events {
			if e.Epoch != c.Epoch() {
				t.Errorf("%s/%s: event of epoch %q, the outbox's is %q", c.Site(), c.Name(), e.Epoch, c.Epoch())
			}
			if seen[e.Seq] {
				t.Errorf("%s/%s: sequence %d stored twice", c.Site(), c.Name(), e.Seq)
			}
			seen[e.Seq] = true
			types[e.Type]++
		}
		for seq := uint64(1); seq <= c.Appended(); seq++ {
			if !seen[seq] {
				t.Errorf("%s/%s: sequence %d of %d missing from the store", c.Site(), c.Name(), seq, c.Appended())
			}
		}
		if c.Confirmed() != c.Appended() || c.Depth() != 0 {
			t.Errorf("%s/%s: %d of %d confirmed, %d left in the outbox", c.Site(), c.Name(), c.Confirmed(), c.Appended(), c.Depth())
		}
	}
	return types
}

func summary(t *testing.T, rep *fleet.Report) {
	var b bytes.Buffer
	rep.WriteSummary(&b)
	t.Log("\n" + b.String())
}

// TestDayStoredOnce plays 50 cabins against a receiver with its embedded
// NATS: every event every cabin appended is stored exactly once, and
// every outbox drains.
func TestDayStoredOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rcv := startReceiver(t, ctx)
	cfg := testConfig(t, rcv, 50)
	cfg.Duration = 4 * time.Second
	f, err := fleet.Open(ctx, cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.Run(ctx)
	if rep != nil {
		summary(t, rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	if rep.Appended == 0 || rep.Confirmed != rep.Appended || rep.Depth != 0 || !rep.Drained {
		t.Fatalf("appended %d, confirmed %d, left %d, drained %v", rep.Appended, rep.Confirmed, rep.Depth, rep.Drained)
	}
	if len(rep.Errors) != 0 || rep.AppendErrors != 0 {
		t.Errorf("errors: %v, append errors %d", rep.Errors, rep.AppendErrors)
	}
	if len(rep.Outages) != 0 {
		t.Errorf("outages %+v in a run where the broker never went away", rep.Outages)
	}
	types := checkStored(t, f, rcv.Store())
	// A simulated quarter of an hour of a morning: trips and their
	// arrivals, door cycles, heartbeats and health.
	for _, typ := range []string{wire.TypeTrip, wire.TypeArrival, wire.TypeDoorCycle, wire.TypeHeartbeat, wire.TypeHealth} {
		if types[typ] == 0 {
			t.Errorf("no %s event among %v", typ, types)
		}
	}
}

// TestStormRecovers stops every uplink while the cabins go on, then
// starts them all at once: every cabin connects again, every backlog is
// confirmed, every event is stored once.
func TestStormRecovers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rcv := startReceiver(t, ctx)
	cfg := testConfig(t, rcv, 20)
	cfg.Mode = fleet.ModeStorm
	cfg.Warmup, cfg.Outage, cfg.Duration = 1500*time.Millisecond, 1500*time.Millisecond, 5*time.Second
	f, err := fleet.Open(ctx, cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.Run(ctx)
	if rep != nil {
		summary(t, rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Storm
	if s == nil || !s.Recovered || s.Backlog == 0 || s.PeakConnected != cfg.Cabins {
		t.Fatalf("storm: %+v; want a backlog, every cabin connected again and the backlog confirmed", s)
	}
	// Each cabin had a session before the outage and one after.
	if rep.Connects < 2*uint64(cfg.Cabins) {
		t.Errorf("%d sessions for %d cabins, want at least two each", rep.Connects, cfg.Cabins)
	}
	checkStored(t, f, rcv.Store())
}

// BenchmarkFleet plays PALIER_FLEET_CABINS cabins (default 2,000) in
// PALIER_FLEET_MODE (day or storm, default day) for PALIER_FLEET_DURATION
// (default 2m), simulated time PALIER_FLEET_TIME_FACTOR times faster
// (default 1), against a receiver with its embedded NATS in the same
// process, and reports what the run measured. One iteration is one run:
//
//	PALIER_FLEET_CABINS=2000 go test -run '^$' -bench BenchmarkFleet -benchtime 1x -timeout 30m ./fleet
func BenchmarkFleet(b *testing.B) {
	cabins, mode, duration, factor := 2000, fleet.ModeDay, 2*time.Minute, 1.0
	if v := os.Getenv("PALIER_FLEET_CABINS"); v != "" {
		if _, err := fmt.Sscan(v, &cabins); err != nil {
			b.Fatalf("PALIER_FLEET_CABINS: %v", err)
		}
	}
	if v := os.Getenv("PALIER_FLEET_TIME_FACTOR"); v != "" {
		if _, err := fmt.Sscan(v, &factor); err != nil {
			b.Fatalf("PALIER_FLEET_TIME_FACTOR: %v", err)
		}
	}
	if v := os.Getenv("PALIER_FLEET_MODE"); v != "" {
		mode = v
	}
	if v := os.Getenv("PALIER_FLEET_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("PALIER_FLEET_DURATION: %v", err)
		}
		duration = d
	}
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		rcv := startReceiver(b, ctx)
		cfg := fleet.DefaultConfig()
		cfg.Cabins, cfg.Mode, cfg.Duration = cabins, mode, duration
		cfg.Dir = b.TempDir()
		cfg.Profile = repoFile("sensors/profiles/palier-sim.yaml")
		cfg.Brokers = []string{"tcp://" + rcv.MQTTAddr()}
		cfg.TimeFactor = factor
		cfg.Warmup, cfg.Outage = duration/4, duration/4
		cfg.DrainTimeout = 10 * time.Minute
		f, err := fleet.Open(ctx, cfg, logger(b))
		if err != nil {
			b.Fatal(err)
		}
		rep, err := f.Run(ctx)
		cancel()
		if rep != nil {
			var s bytes.Buffer
			rep.WriteSummary(&s)
			b.Log("\n" + s.String())
			b.ReportMetric(float64(rep.ConnectedAtEnd), "connected")
			b.ReportMetric(rep.AppendedPerSecond, "appended/s")
			b.ReportMetric(rep.ConfirmedPerSecond, "confirmed/s")
			b.ReportMetric(rep.LatencyP50ms, "p50-ms")
			b.ReportMetric(rep.LatencyP99ms, "p99-ms")
			b.ReportMetric(float64(rep.Process.PeakRSSBytes)/(1<<20), "peak-rss-MiB")
			b.ReportMetric(rep.CPUPercent, "cpu-%")
			b.ReportMetric(rep.MaxLagSeconds, "lag-s")
			if s := rep.Storm; s != nil {
				b.ReportMetric(s.AllConnectedSeconds, "storm-connected-s")
				b.ReportMetric(s.BacklogConfirmedSeconds, "storm-confirmed-s")
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestBrokerRestartMeasured restarts the broker under a day's fleet, as
// scripts/fleet.sh restarts the leaf node: the report gives the outage,
// every cabin connects again, its backlog is confirmed, and every event
// is stored once.
func TestBrokerRestartMeasured(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	broker := &natsserver.Options{
		ServerName: "broker", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: filepath.Join(t.TempDir(), "js"),
		MQTT: natsserver.MQTTOpts{Host: "127.0.0.1", Port: -1},
	}
	srv := startBroker(t, broker)
	rcfg := receiver.DefaultConfig()
	rcfg.StateDir = filepath.Join(t.TempDir(), "receiver")
	rcfg.NATS.URL = srv.ClientURL()
	rcfg.NATS.MQTTURL = fmt.Sprintf("tcp://127.0.0.1:%d", broker.MQTT.Port)
	rcfg.HTTP.Listen = "127.0.0.1:0"
	rcfg.Acks.ResendInterval = time.Second
	rcv, err := receiver.New(ctx, rcfg, logger(t).With("part", "receiver"))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stopReceiver := context.WithCancel(ctx)
	rdone := make(chan struct{})
	go func() {
		defer close(rdone)
		if err := rcv.Run(rctx); err != nil {
			t.Errorf("receiver: %v", err)
		}
	}()
	defer func() { stopReceiver(); <-rdone }()

	cfg := testConfig(t, rcv, 20)
	cfg.Brokers = []string{fmt.Sprintf("tcp://127.0.0.1:%d", broker.MQTT.Port)}
	cfg.Duration = 8 * time.Second
	// A batch the broker took (PUBACK) as it stopped, but never stored, is
	// sent again only after ResendAfter (the agent's 2 minutes).
	cfg.ResendAfter = 5 * time.Second
	f, err := fleet.Open(ctx, cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(2500 * time.Millisecond) // 20 cabins connect in 40 ms
		srv.Shutdown()
		srv.WaitForShutdown()
		time.Sleep(500 * time.Millisecond)
		srv = startBroker(t, broker)
	}()
	rep, err := f.Run(ctx)
	<-restarted
	defer srv.Shutdown()
	if rep != nil {
		summary(t, rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Outages) == 0 {
		t.Fatalf("no outage reported for the broker's restart")
	}
	o := rep.Outages[0]
	if !o.Recovered || o.MinConnected >= cfg.Cabins || o.AllConnectedSeconds <= 0 || o.BacklogConfirmedSeconds < o.AllConnectedSeconds {
		t.Errorf("outage %+v: want fewer than %d connected, then all connected and the backlog confirmed after", o, cfg.Cabins)
	}
	checkStored(t, f, rcv.Store())
}

// startBroker starts an in-process nats-server with o, keeping the ports
// it took in o so that a restart comes back at the same address.
func startBroker(t *testing.T, o *natsserver.Options) *natsserver.Server {
	t.Helper()
	c := o.Clone()
	srv, err := natsserver.NewServer(c)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("broker not ready")
	}
	o.Port, o.MQTT.Port = c.Port, c.MQTT.Port
	return srv
}
