package uplink_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// appendConcurrently fills the outbox from several writers so that the
// outbox's group commit keeps the set-up short.
func appendConcurrently(b testing.TB, ob *outbox.Outbox, n int) {
	b.Helper()
	ev, _ := wire.NewEvent(time.Now(), wire.TypeArrival, wire.ArrivalData{Floor: 3})
	payload, _ := json.Marshal(ev)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := ob.Append(context.Background(), outbox.ClassEvents, payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// arrivals counts distinct sequences at a NATS subscriber and closes done
// when want of them have arrived.
func arrivals(b testing.TB, nc *nats.Conn, want int, onSeq func(seq uint64, at time.Time)) <-chan struct{} {
	done := make(chan struct{})
	var mu sync.Mutex
	seen := map[uint64]bool{}
	sub, err := nc.Subscribe("palier.v1."+site+"."+cabin+".events", func(m *nats.Msg) {
		at := time.Now()
		batch, err := wire.DecodeBatch(m.Data)
		if err != nil {
			b.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range batch.Events {
			if !seen[e.Seq] {
				seen[e.Seq] = true
				if onSeq != nil {
					onSeq(e.Seq, at)
				}
				if len(seen) == want {
					close(done)
				}
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1)
	b.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
	return done
}

func startUplink(b testing.TB, cfg uplink.Config, ob *outbox.Outbox) *uplink.Uplink {
	up, err := uplink.New(cfg, site, cabin, ob, discard())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return up
}

// BenchmarkDrainBacklog drains a 100,000-event backlog to the embedded NATS
// with the shipped batch and in-flight settings, until every event has
// reached a NATS subscriber.
func BenchmarkDrainBacklog(b *testing.B) {
	const n = 100_000
	for range b.N {
		b.StopTimer()
		br := startBroker(b)
		ob := openOutbox(b)
		appendConcurrently(b, ob, n)
		all := arrivals(b, br.nats(), n, nil)
		cfg := uplink.DefaultConfig()
		cfg.Broker = "tcp://" + br.mqttAddr
		cfg.Protocol = uplink.Protocol311
		b.StartTimer()
		start := time.Now()
		startUplink(b, cfg, ob)
		select {
		case <-all:
		case <-time.After(5 * time.Minute):
			b.Fatal("backlog not drained")
		}
		b.ReportMetric(n/time.Since(start).Seconds(), "events/s")
	}
}

// BenchmarkAppendToArrival is the latency from outbox Append (durable) to
// arrival at a NATS subscriber, at 10 events/s. One event per iteration:
// run with -benchtime=200x or so.
func BenchmarkAppendToArrival(b *testing.B) {
	br := startBroker(b)
	ob := openOutbox(b)
	var mu sync.Mutex
	appended := map[uint64]time.Time{}
	durable := map[uint64]time.Time{}
	var lat, wireLat, appendLat []time.Duration
	arrived := make(chan struct{}, b.N)
	arrivals(b, br.nats(), -1, func(seq uint64, at time.Time) {
		mu.Lock()
		if t0, ok := appended[seq]; ok {
			lat = append(lat, at.Sub(t0))
			wireLat = append(wireLat, at.Sub(durable[seq]))
		}
		mu.Unlock()
		arrived <- struct{}{}
	})
	cfg := uplink.DefaultConfig()
	cfg.Broker = "tcp://" + br.mqttAddr
	cfg.Protocol = uplink.Protocol311
	up := startUplink(b, cfg, ob)
	eventually(b, "connected", up.Connected)
	ev, _ := wire.NewEvent(time.Now(), wire.TypeArrival, wire.ArrivalData{Floor: 3})
	payload, _ := json.Marshal(ev)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		mu.Lock() // held across Append so the arrival cannot beat the bookkeeping
		t0 := time.Now()
		seq, err := ob.Append(context.Background(), outbox.ClassEvents, payload)
		if err != nil {
			mu.Unlock()
			b.Fatal(err)
		}
		appended[seq] = t0
		durable[seq] = time.Now()
		appendLat = append(appendLat, durable[seq].Sub(t0))
		mu.Unlock()
	}
	for range b.N {
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			b.Fatal("events missing")
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	q := func(lat []time.Duration, p float64) float64 {
		slices.Sort(lat)
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(lat, 0.50), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	b.ReportMetric(q(lat, 1), "max-ms")
	// The split: the durable Append (fsync) and the rest (lease, publish, NATS).
	b.ReportMetric(q(appendLat, 0.99), "append-p99-ms")
	b.ReportMetric(q(wireLat, 0.50), "uplink-p50-ms")
	b.ReportMetric(q(wireLat, 0.99), "uplink-p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFirstEventAfterOutage stops the broker for an outage (5 s, or
// PALIER_BENCH_OUTAGE such as 30s), with events appended meanwhile, and
// measures from the broker's return to the first event at a NATS
// subscriber, with the shipped backoff settings (PALIER_BENCH_BACKOFF_MAX
// overrides the cap, to compare).
func BenchmarkFirstEventAfterOutage(b *testing.B) {
	outage := 5 * time.Second
	if s := os.Getenv("PALIER_BENCH_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		outage = d
	}
	var total, worst time.Duration
	for range b.N {
		b.StopTimer()
		br := startBroker(b)
		ob := openOutbox(b)
		cfg := uplink.DefaultConfig()
		cfg.Broker = "tcp://" + br.mqttAddr
		cfg.Protocol = uplink.Protocol311
		if s := os.Getenv("PALIER_BENCH_BACKOFF_MAX"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				b.Fatal(err)
			}
			cfg.BackoffMax = d
		}
		up := startUplink(b, cfg, ob)
		appendConcurrently(b, ob, 1) // a working cabin: its session delivers
		eventually(b, "delivering", func() bool { return up.Stats().Events == 1 })
		br.stop()
		appendConcurrently(b, ob, 100)
		time.Sleep(outage)
		br.start()
		back := time.Now()
		first := make(chan struct{})
		var once sync.Once
		arrivals(b, br.nats(), -1, func(uint64, time.Time) { once.Do(func() { close(first) }) })
		select {
		case <-first:
		case <-time.After(5 * time.Minute):
			b.Fatal("nothing delivered after the outage")
		}
		d := time.Since(back)
		total += d
		worst = max(worst, d)
		br.stop()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-first-event")
	b.ReportMetric(worst.Seconds(), "worst-s")
	b.ReportMetric(0, "ns/op")
}
