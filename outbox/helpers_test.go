package outbox

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openTest opens an outbox in a fresh directory; on cleanup it closes it and
// runs bbolt's consistency check on the file.
func openTest(t testing.TB, opts Options) (*Outbox, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkFile(t, path)
	})
	return o, path
}

// checkFile runs tx.Check on a closed outbox file.
func checkFile(t testing.TB, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Errorf("open %s for check: %v", path, err)
		return
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("consistency check of %s: %v", path, err)
	}
}

// dumped is one stored entry as the file holds it.
type dumped struct {
	seq     uint64
	class   Class
	stage   int
	payload string
}

// dump lists every pending and sent entry of an open outbox, by sequence.
func dump(t testing.TB, o *Outbox) []dumped {
	t.Helper()
	var out []dumped
	err := o.db.View(func(tx *bolt.Tx) error {
		for c := range Class(numClasses) {
			for stage, name := range [][]byte{bucketPending[c], bucketSent[c]} {
				if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
					r, err := decodeRecord(v)
					if err != nil {
						return err
					}
					out = append(out, dumped{keySeq(k), c, stage, string(r.payload)})
					return nil
				}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func mustAppend(t testing.TB, o *Outbox, c Class, p string) uint64 {
	t.Helper()
	seq, err := o.Append(context.Background(), c, []byte(p))
	if err != nil {
		t.Fatalf("Append(%s, %q): %v", c, p, err)
	}
	return seq
}

func mustLease(t testing.TB, o *Outbox, n, bytes int) []Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	es, err := o.Lease(ctx, n, bytes)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	return es
}

// leaseNow returns what Lease would hand out right now, or nil.
func leaseNow(t testing.TB, o *Outbox, n, bytes int) []Entry {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		t.Fatal("leaseNow on closed outbox")
	}
	// A cancelled context still lets Lease return what is available: it only
	// blocks (and then sees ctx) when nothing is.
	es, err := o.Lease(ctx, n, bytes)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Lease: %v", err)
	}
	return es
}

func seqsOf(es []Entry) []uint64 {
	s := make([]uint64, len(es))
	for i, e := range es {
		s[i] = e.Seq
	}
	return s
}

// sendUpTo publishes, as the uplink would, every entry up to upTo (MarkSent)
// and gives the rest back: Confirm deletes only what was handed out.
func sendUpTo(t testing.TB, o *Outbox, upTo uint64) {
	t.Helper()
	var sent, rest []uint64
	for _, e := range leaseNow(t, o, 1<<30, 0) {
		if e.Seq <= upTo {
			sent = append(sent, e.Seq)
		} else {
			rest = append(rest, e.Seq)
		}
	}
	if err := o.MarkSent(sent); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	o.Release(rest)
}

// reopen closes o and opens its file again, as a restarted agent does; the
// new outbox is closed when the test ends.
func reopen(t testing.TB, o *Outbox, path string) *Outbox {
	t.Helper()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o2, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o2.Close() })
	return o2
}
