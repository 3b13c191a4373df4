package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// BenchmarkInsertBatches measures ingestion into SQLite: each iteration is
// one transaction, as one JetStream fetch is, of msgs batches of events each
// (50 cabins, so the cabins and epochs updates are realistic).
func BenchmarkInsertBatches(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		for _, shape := range []struct{ msgs, events int }{{256, 10}, {64, 50}, {16, 50}} {
			b.Run(fmt.Sprintf("sync=%s/msgs=%d/events=%d", sync, shape.msgs, shape.events), func(b *testing.B) {
				s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: sync})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				next := map[int]uint64{}
				batches := make([]wire.Batch, shape.msgs)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer() // making the batches is the agent's work, not the store's
					for m := range batches {
						cabin := (i*shape.msgs + m) % 50
						seqs := make([]uint64, shape.events)
						for k := range seqs {
							next[cabin]++
							seqs[k] = next[cabin]
						}
						batches[m] = storetest.Batch("bench", fmt.Sprintf("c%d", cabin), "e1", seqs...)
					}
					b.StartTimer()
					res, err := s.InsertBatches(context.Background(), batches, time.Now())
					if err != nil {
						b.Fatal(err)
					}
					if res.Inserted != shape.msgs*shape.events {
						b.Fatalf("inserted %d", res.Inserted)
					}
				}
				b.ReportMetric(float64(b.N*shape.msgs*shape.events)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
