package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/palier-lifts/palier/receiver/store/storetest"
)

// BenchmarkIngestEndToEnd measures the receiver's side of the path: b.N
// batches of 50 events wait in JetStream (embedded server, sync always);
// the timer runs while the receiver consumes them, stores them in SQLite
// (synchronous full), acks them to JetStream and publishes the device acks.
// publish-events/s is the rate at which JetStream took them before that.
func BenchmarkIngestEndToEnd(b *testing.B) {
	cfg := DefaultConfig()
	cfg.StateDir = b.TempDir()
	cfg.NATS.Embedded.Port, cfg.NATS.Embedded.MQTTPort = -1, -1
	cfg.HTTP.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(ctx, cfg, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	nc := connect(b, r.NATSURL())
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	const perBatch, cabins = 50, 20
	start := time.Now()
	for i := 0; i < b.N; i++ {
		from := uint64(i/cabins*perBatch) + 1
		seqs := make([]uint64, perBatch)
		for k := range seqs {
			seqs[k] = from + uint64(k)
		}
		p, _ := json.Marshal(storetest.Batch("bench", fmt.Sprintf("c%d", i%cabins), "e1", seqs...))
		if _, err := js.PublishAsync(fmt.Sprintf("palier.v1.bench.c%d.events", i%cabins), p); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("publish did not complete")
	}
	want := float64(b.N * perBatch)
	publishRate := want / time.Since(start).Seconds()

	b.ResetTimer()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for counter(b, r, "palier_receiver_events_stored_total") < want {
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(want/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(publishRate, "publish-events/s")
}

// BenchmarkIngestConcurrent publishes and consumes at the same time, as in
// steady operation: the timer covers publishing b.N batches of 50 events
// and waiting until all are stored.
func BenchmarkIngestConcurrent(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		b.Run("sqlite-sync="+sync, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.StateDir = b.TempDir()
			cfg.NATS.Embedded.Port, cfg.NATS.Embedded.MQTTPort = -1, -1
			cfg.HTTP.Listen = "127.0.0.1:0"
			cfg.Store.Synchronous = sync
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := New(ctx, cfg, testLogger(b))
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			defer func() { cancel(); <-done }()
			nc := connect(b, r.NATSURL())
			js, err := jetstream.New(nc)
			if err != nil {
				b.Fatal(err)
			}
			const perBatch, cabins = 50, 20
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				from := uint64(i/cabins*perBatch) + 1
				seqs := make([]uint64, perBatch)
				for k := range seqs {
					seqs[k] = from + uint64(k)
				}
				p, _ := json.Marshal(storetest.Batch("bench", fmt.Sprintf("c%d", i%cabins), "e1", seqs...))
				if _, err := js.PublishAsync(fmt.Sprintf("palier.v1.bench.c%d.events", i%cabins), p); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			want := float64(b.N * perBatch)
			for counter(b, r, "palier_receiver_events_stored_total") < want {
				time.Sleep(2 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(want/b.Elapsed().Seconds(), "events/s")
		})
	}
}
