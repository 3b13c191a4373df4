package outbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchPayload is about the size of an encoded elevator event.
var benchPayload = []byte(strings.Repeat("e", 200))

// fsyncsPerCommit: a bbolt commit syncs the data pages, then the meta page.
// (Growing the file adds a sync now and then, not counted here.)
const fsyncsPerCommit = 2

func benchOpen(b *testing.B) (*Outbox, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "outbox.db")
	o, err := Open(context.Background(), path, Options{MaxBytes: 4 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	return o, path
}

// BenchmarkAppend measures durable appends with 1, 8 and 64 producers.
func BenchmarkAppend(b *testing.B) {
	for _, producers := range []int{1, 8, 64} {
		b.Run("producers="+strconv.Itoa(producers), func(b *testing.B) {
			o, _ := benchOpen(b)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range producers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := o.Append(context.Background(), ClassEvents, benchPayload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			st := o.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(st.Commits*fsyncsPerCommit)/float64(st.Appends), "fsyncs/append")
			b.ReportMetric(float64(st.Appends)/float64(st.Commits), "appends/commit")
		})
	}
}

// BenchmarkAppendBaseline is one bbolt transaction per event, the way a
// naive outbox would write.
func BenchmarkAppendBaseline(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "baseline.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("q")); return err }); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := db.Update(func(tx *bolt.Tx) error {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], uint64(i+1))
			return tx.Bucket([]byte("q")).Put(k[:], benchPayload)
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(fsyncsPerCommit, "fsyncs/append")
}

// fill appends n entries in batches of 1000 through the group committer's
// own path, without producer goroutines.
func fill(b *testing.B, o *Outbox, n int, class func(i int) Class) {
	b.Helper()
	for n > 0 {
		batch := make([]*appendReq, min(n, 1000))
		for i := range batch {
			batch[i] = &appendReq{class: class(i), payload: benchPayload, done: make(chan appendRes, 1)}
		}
		o.commitAppends(batch)
		for _, r := range batch {
			if res := <-r.done; res.err != nil {
				b.Fatal(res.err)
			}
		}
		n -= len(batch)
	}
}

// BenchmarkDrain measures Lease, MarkSent and Confirm of a backlog, as the
// uplink drains after an outage, with 100, 500 and 1000 entries per round.
func BenchmarkDrain(b *testing.B) {
	for _, batch := range []int{100, 500, 1000} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) { benchDrain(b, batch) })
	}
}

func benchDrain(b *testing.B, batch int) {
	o, path := benchOpen(b)
	// One class, so that FIFO order is sequence order and each cumulative
	// Confirm covers exactly what was sent.
	fill(b, o, b.N, func(int) Class { return ClassEvents })
	fi, _ := os.Stat(path)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		es, err := o.Lease(ctx, batch, 0)
		if err != nil {
			b.Fatal(err)
		}
		seqs := seqsOf(es)
		if err := o.MarkSent(seqs); err != nil {
			b.Fatal(err)
		}
		n, err := o.Confirm(o.Epoch(), seqs[len(seqs)-1])
		if err != nil || n != len(es) {
			b.Fatalf("confirmed %d of %d: %v", n, len(es), err)
		}
		done += n
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(fi.Size())/float64(b.N), "bytes/event")
}

// BenchmarkMillionPending fills an outbox with one million pending entries
// and measures the file, the cost of reopening it (check and scan) and the
// memory the open outbox holds. Run it with -benchtime=1x.
func BenchmarkMillionPending(b *testing.B) {
	const n = 1_000_000
	for range b.N {
		o, path := benchOpen(b)
		fill(b, o, n, func(i int) Class { return Class(i % 3) })
		if err := o.Close(); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rssBefore := rss()
		start := time.Now()
		o, err = Open(context.Background(), path, Options{MaxBytes: 4 << 30})
		if err != nil {
			b.Fatal(err)
		}
		openTime := time.Since(start)
		start = time.Now()
		es, err := o.Lease(context.Background(), 500, 0)
		if err != nil || len(es) != 500 {
			b.Fatal(len(es), err)
		}
		leaseTime := time.Since(start)
		if st := o.Stats(); st.Depth() != n {
			b.Fatalf("depth %d", st.Depth())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(fi.Size())/n, "bytes/event")
		b.ReportMetric(openTime.Seconds(), "open-s")
		b.ReportMetric(float64(leaseTime.Microseconds()), "lease500-µs")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-MiB")
		b.ReportMetric(float64(rss()-rssBefore)/(1<<20), "rss-growth-MiB")
		o.Close()
	}
}

// rss reads the resident set size from /proc (0 where unavailable).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmRSS:"), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
