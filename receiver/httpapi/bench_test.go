package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// BenchmarkListCabins1000 measures GET /api/v1/cabins over real HTTP with
// 1,000 cabins in SQLite and reports the p50 and p99 latency.
func BenchmarkListCabins1000(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		site, cabin := fmt.Sprintf("site-%d", i/10), fmt.Sprintf("c%d", i%10)
		if err := f.st.UpdateState(ctx, wire.State{V: 1, Site: site, Cabin: cabin, Time: time.Now(), Floor: i % 12,
			Direction: "none", Mode: "normal", Faults: []int{}, Counters: wire.Counters{Trips: uint64(i)}}, time.Now()); err != nil {
			b.Fatal(err)
		}
		if err := f.st.UpdateStatus(ctx, site, cabin, i%7 != 0, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := client.Get(f.srv.URL + "/api/v1/cabins")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 100_000 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
