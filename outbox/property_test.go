package outbox

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// model is the reference the property test compares the outbox with.
type model struct {
	maxBytes    int64
	resendAfter time.Duration
	lastSeq     uint64
	entries     map[uint64]*modelEntry
	evicted     [numClasses]uint64
	dropped     [numClasses]uint64
	quarantined uint64
	safetyAdded map[uint64]bool // safety entries that only Confirm or Quarantine may remove
	leasedHigh  [numClasses]uint64
}

type modelEntry struct {
	class    Class
	payload  string
	sent     bool
	sentAt   time.Time
	leased   bool
	attempts int
}

func (m *model) bytes(classes ...Class) int64 {
	var n int64
	for _, e := range m.entries {
		if slices.Contains(classes, e.class) {
			n += int64(len(e.payload))
		}
	}
	return n
}

func (m *model) oldest(c Class) uint64 {
	var best uint64
	for seq, e := range m.entries {
		if e.class == c && (best == 0 || seq < best) {
			best = seq
		}
	}
	return best
}

func (m *model) append(c Class, p string) (uint64, error) {
	all := []Class{ClassSafety, ClassEvents, ClassTelemetry}
	need := m.bytes(all...) + int64(len(p)) - m.maxBytes
	if need > 0 {
		victims := evictable(c)
		if m.bytes(victims...) < need && c != ClassSafety {
			m.dropped[c]++
			return 0, ErrFull
		}
		for _, v := range victims {
			for need > 0 {
				seq := m.oldest(v)
				if seq == 0 {
					break
				}
				need -= int64(len(m.entries[seq].payload))
				delete(m.entries, seq)
				m.evicted[v]++
			}
		}
	}
	m.lastSeq++
	m.entries[m.lastSeq] = &modelEntry{class: c, payload: p}
	if c == ClassSafety {
		m.safetyAdded[m.lastSeq] = true
	}
	return m.lastSeq, nil
}

func (m *model) lease(now time.Time, n, maxBytes int) []uint64 {
	for _, e := range m.entries {
		if e.sent && !now.Before(e.sentAt.Add(m.resendAfter)) {
			e.sent = false
		}
	}
	seqs := slices.Sorted(maps.Keys(m.entries))
	var out []uint64
	size := 0
	for c := range Class(numClasses) {
		for _, seq := range seqs {
			e := m.entries[seq]
			if e.class != c || e.sent || e.leased {
				continue
			}
			if len(out) > 0 && maxBytes > 0 && size+len(e.payload) > maxBytes {
				return out
			}
			out = append(out, seq)
			size += len(e.payload)
			if len(out) == n {
				return out
			}
		}
	}
	return out
}

// TestRandomOperationsMatchModel drives the outbox with random operation
// sequences and checks, after every step, FIFO-by-class leasing, the byte
// bound, eviction order (telemetry, then events, never safety) and counters.
func TestRandomOperationsMatchModel(t *testing.T) {
	seed := testSeed(t)
	for run := range 8 {
		t.Run(fmt.Sprint("run", run), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(run)))
			clock := newFakeClock()
			opts := Options{MaxBytes: int64(200 + r.IntN(800)), ResendAfter: time.Minute, Now: clock.Now}
			path := filepath.Join(t.TempDir(), "outbox.db")
			o, err := Open(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				o.Close()
				checkFile(t, path)
			}()
			m := &model{maxBytes: opts.MaxBytes, resendAfter: opts.ResendAfter, entries: map[uint64]*modelEntry{}, safetyAdded: map[uint64]bool{}}
			leased := func() []uint64 {
				var s []uint64
				for seq, e := range m.entries {
					if e.leased {
						s = append(s, seq)
					}
				}
				slices.Sort(s)
				return s
			}
			pick := func(s []uint64) []uint64 {
				var out []uint64
				for _, x := range s {
					if r.IntN(2) == 0 {
						out = append(out, x)
					}
				}
				return out
			}
			for step := range 300 {
				op := r.IntN(100)
				var desc string
				switch {
				case op < 40:
					c := Class(r.IntN(numClasses))
					p := fmt.Sprintf("%d:%s", step, make([]byte, r.IntN(60)))
					desc = fmt.Sprintf("append %s %d bytes", c, len(p))
					wantSeq, wantErr := m.append(c, p)
					seq, err := o.Append(context.Background(), c, []byte(p))
					if !errors.Is(err, wantErr) || seq != wantSeq {
						t.Fatalf("step %d %s: got %d, %v; model %d, %v", step, desc, seq, err, wantSeq, wantErr)
					}
				case op < 60:
					n, b := 1+r.IntN(8), r.IntN(200)
					desc = fmt.Sprintf("lease %d %d", n, b)
					want := m.lease(clock.Now(), n, b)
					got := seqsOf(leaseNow(t, o, n, b))
					if !slices.Equal(got, want) {
						t.Fatalf("step %d %s: got %v, model %v", step, desc, got, want)
					}
					for _, seq := range want {
						m.entries[seq].leased = true
						c := m.entries[seq].class
						m.leasedHigh[c] = max(m.leasedHigh[c], seq)
					}
				case op < 72:
					s := pick(leased())
					desc = fmt.Sprintf("mark sent %v", s)
					if err := o.MarkSent(s); err != nil {
						t.Fatal(err)
					}
					for _, seq := range s {
						e := m.entries[seq]
						e.leased, e.sent, e.sentAt = false, true, clock.Now()
						e.attempts++
					}
				case op < 80:
					s := pick(leased())
					desc = fmt.Sprintf("release %v", s)
					o.Release(s)
					for _, seq := range s {
						m.entries[seq].leased = false
					}
				case op < 86:
					upTo := uint64(r.IntN(int(m.lastSeq) + 1))
					desc = fmt.Sprintf("confirm %d", upTo)
					want := 0
					for seq, e := range m.entries {
						if seq <= upTo && (e.attempts > 0 || seq <= m.leasedHigh[e.class]) { // never what was not handed out
							delete(m.entries, seq)
							delete(m.safetyAdded, seq)
							want++
						}
					}
					if n, err := o.Confirm(o.Epoch(), upTo); err != nil || n != want {
						t.Fatalf("step %d %s: %d, %v; model %d", step, desc, n, err, want)
					}
				case op < 89:
					seqs := slices.Sorted(maps.Keys(m.entries))
					if len(seqs) == 0 {
						continue
					}
					seq := seqs[r.IntN(len(seqs))]
					desc = fmt.Sprintf("quarantine %d", seq)
					if err := o.Quarantine(seq, "test"); err != nil {
						t.Fatalf("step %d %s: %v", step, desc, err)
					}
					delete(m.entries, seq)
					delete(m.safetyAdded, seq)
					m.quarantined++
				case op < 96:
					d := time.Duration(r.IntN(90)) * time.Second
					desc = fmt.Sprintf("advance %v", d)
					clock.Advance(d)
				default:
					desc = "reopen"
					if err := o.Close(); err != nil {
						t.Fatal(err)
					}
					if o, err = Open(context.Background(), path, opts); err != nil {
						t.Fatal(err)
					}
					for _, e := range m.entries {
						e.leased = false
					}
					m.leasedHigh = [numClasses]uint64{} // leases live in memory
				}
				checkAgainstModel(t, step, desc, o, m)
			}
			st := o.Stats()
			t.Logf("max %d bytes: evicted %v, dropped %v, quarantined %d, last seq %d", m.maxBytes, st.EvictedByClass, st.DroppedByClass, st.Quarantined, st.LastSeq)
			if st.EvictedByClass[ClassTelemetry] == 0 {
				t.Errorf("run never evicted telemetry: it did not test the bound")
			}
		})
	}
}

func checkAgainstModel(t *testing.T, step int, desc string, o *Outbox, m *model) {
	t.Helper()
	st := o.Stats()
	var pending, sent [numClasses]int
	leased := 0
	for _, e := range m.entries {
		if e.sent {
			sent[e.class]++
		} else {
			pending[e.class]++
		}
		if e.leased {
			leased++
		}
	}
	// Stats may lag the model on sent-to-pending moves, which happen in Lease.
	for c := range Class(numClasses) {
		if st.Pending[c]+st.Sent[c] != pending[c]+sent[c] {
			t.Fatalf("step %d (%s): %s depth %d+%d, model %d+%d", step, desc, c, st.Pending[c], st.Sent[c], pending[c], sent[c])
		}
	}
	all := m.bytes(ClassSafety, ClassEvents, ClassTelemetry)
	if st.Bytes != all || st.EvictedByClass != m.evicted || st.DroppedByClass != m.dropped || st.Quarantined != m.quarantined || st.Leased != leased || st.LastSeq != m.lastSeq {
		t.Fatalf("step %d (%s): stats %+v; model bytes %d evicted %v dropped %v quarantined %d leased %d last %d",
			step, desc, st, all, m.evicted, m.dropped, m.quarantined, leased, m.lastSeq)
	}
	// The bound holds unless safety alone exceeds it, and then nothing else is kept.
	if st.Bytes > m.maxBytes && st.Pending[ClassEvents]+st.Sent[ClassEvents]+st.Pending[ClassTelemetry]+st.Sent[ClassTelemetry] > 0 {
		t.Fatalf("step %d (%s): %d bytes over the bound %d with non-safety entries kept", step, desc, st.Bytes, m.maxBytes)
	}
	got := dump(t, o)
	if len(got) != len(m.entries) {
		t.Fatalf("step %d (%s): %d stored, model %d", step, desc, len(got), len(m.entries))
	}
	for _, d := range got {
		e := m.entries[d.seq]
		if e == nil || e.class != d.class || e.payload != d.payload {
			t.Fatalf("step %d (%s): stored seq %d %s differs from model", step, desc, d.seq, d.class)
		}
	}
	for seq := range m.safetyAdded {
		if m.entries[seq] == nil {
			t.Fatalf("step %d (%s): safety entry %d evicted", step, desc, seq)
		}
	}
}
