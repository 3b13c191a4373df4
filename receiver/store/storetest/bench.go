package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// BenchInsertBatches measures ingestion into stores made by open. Each
// iteration is one InsertBatches call, as one JetStream fetch is, of msgs
// batches of events each over 50 cabins (so the cabins and epochs updates
// are realistic). Sub-benchmarks are named msgs=M/events=E and report
// events/s, which docs/BENCHMARKS.md quotes.
func BenchInsertBatches(b *testing.B, open Opener) {
	for _, shape := range []struct{ msgs, events int }{{256, 10}, {64, 50}, {16, 50}} {
		b.Run(fmt.Sprintf("msgs=%d/events=%d", shape.msgs, shape.events), func(b *testing.B) {
			s := open(b)
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
					batches[m] = Batch("bench", fmt.Sprintf("c%d", cabin), "e1", seqs...)
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
