package fleet

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
)

// histogram keeps durations in buckets 5 % wide, from 100 µs to hours:
// percentiles within 5 %, in constant memory, safe for concurrent use.
type histogram struct {
	counts [bucketCount]atomic.Uint64
	max    atomic.Int64
}

const (
	bucketBase   = 100 * time.Microsecond
	bucketGrowth = 1.05
	bucketCount  = 400 // 100 µs × 1.05^400 ≈ 3 × 10^4 hours
)

func (h *histogram) add(d time.Duration) {
	i := 0
	if d > bucketBase {
		i = min(bucketCount-1, int(math.Log(float64(d)/float64(bucketBase))/math.Log(bucketGrowth))+1)
	}
	h.counts[i].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile is the upper bound of the bucket holding quantile q; 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= max(want, 1) {
			return min(time.Duration(float64(bucketBase)*math.Pow(bucketGrowth, float64(i))), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// errorCounter counts the warnings and errors the cabins' outboxes and
// uplinks log, by kind: the message, and for a failed connection the
// kind of failure. The real parts say what went wrong in their logs;
// counting them there keeps the generator from guessing.
type errorCounter struct {
	mu     sync.Mutex
	counts map[string]uint64
}

func newErrorCounter() *errorCounter { return &errorCounter{counts: map[string]uint64{}} }

// logger wraps l so that its warnings and errors are counted.
func (e *errorCounter) logger(l *slog.Logger) *slog.Logger {
	return slog.New(&countingHandler{next: l.Handler(), c: e})
}

func (e *errorCounter) snapshot() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]uint64, len(e.counts))
	for k, v := range e.counts {
		out[k] = v
	}
	return out
}

func (e *errorCounter) add(kind string) {
	e.mu.Lock()
	e.counts[kind]++
	e.mu.Unlock()
}

type countingHandler struct {
	next slog.Handler
	c    *errorCounter
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		kind := r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				if err, ok := a.Value.Any().(error); ok {
					kind += ": " + errorKind(err)
				}
				return false
			}
			return true
		})
		h.c.add(kind)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &countingHandler{next: h.next.WithAttrs(as), c: h.c}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{next: h.next.WithGroup(name), c: h.c}
}

// errorKind names the kind of an error without its particulars (ids,
// addresses), so that errors of a kind are counted together.
func errorKind(err error) string {
	var ce *uplink.ConnectError
	switch {
	case errors.As(err, &ce) && ce.Kind != nil:
		return ce.Kind.Error()
	case errors.As(err, &ce):
		return "connect failed"
	case errors.Is(err, uplink.ErrConnectionLost):
		return uplink.ErrConnectionLost.Error()
	case errors.Is(err, outbox.ErrFull):
		return "outbox full"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case strings.Contains(err.Error(), "the broker refused it"):
		return "subscription refused (SUBACK 0x80)"
	case strings.Contains(err.Error(), "EOF"):
		return "EOF"
	}
	return "other"
}

// process is what the process uses: resident memory, CPU, threads,
// descriptors.
type process struct {
	RSSBytes     int64   `json:"rss_bytes"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	Threads      int     `json:"threads"`
	FDs          int     `json:"fds"`
}

func readProcess() process {
	var p process
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		p.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		p.PeakRSSBytes = int64(ru.Maxrss) * 1024 // kilobytes on Linux; int32 on 32-bit ARM
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "VmRSS:":
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				p.RSSBytes = kb * 1024
			case "Threads:":
				p.Threads, _ = strconv.Atoi(f[1])
			}
		}
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		p.FDs = len(ents)
	}
	return p
}

// sortedKinds lists error kinds, most frequent first.
func sortedKinds(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}
