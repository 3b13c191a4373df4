package connstorm

import (
	"sync"
	"testing"
	"time"
)

// Clients is how many connect at once.
const Clients = 8

// Measure calls connect(i) for i in [0, b.N) from Clients goroutines,
// fails b with the first error, and reports connects/s and
// s/2000-cabin-storm. connect opens and closes one connection.
func Measure(b *testing.B, connect func(i int) error) {
	b.Helper()
	b.ResetTimer()
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	for range Clients {
		wg.Go(func() {
			for i := range work {
				if err := connect(i); err != nil {
					once.Do(func() { failed = err })
				}
			}
		})
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if failed != nil {
		b.Fatal(failed)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "connects/s")
	b.ReportMetric(elapsed.Seconds()*2000/float64(b.N), "s/2000-cabin-storm")
}
