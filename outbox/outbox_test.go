package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
	bolt "go.etcd.io/bbolt"
)

func TestAppendPersistsAcrossReopen(t *testing.T) {
	o, path := openTest(t, Options{})
	if err := wire.ValidateEpoch(o.Epoch()); err != nil {
		t.Fatalf("epoch %q: %v", o.Epoch(), err)
	}
	if o.Reset() != nil {
		t.Fatalf("fresh outbox reports a reset: %+v", o.Reset())
	}
	for i := 1; i <= 5; i++ {
		if seq := mustAppend(t, o, ClassEvents, fmt.Sprint("e", i)); seq != uint64(i) {
			t.Fatalf("append %d got seq %d", i, seq)
		}
	}
	epoch := o.Epoch()
	o2 := reopen(t, o, path)
	if o2.Epoch() != epoch {
		t.Fatalf("epoch changed across reopen: %q -> %q", epoch, o2.Epoch())
	}
	if seq := mustAppend(t, o2, ClassEvents, "e6"); seq != 6 {
		t.Fatalf("sequence after reopen = %d, want 6", seq)
	}
	got := dump(t, o2)
	if len(got) != 6 || got[0].payload != "e1" || got[5].payload != "e6" {
		t.Fatalf("stored entries %+v", got)
	}
	// Leases live in memory: a restart makes everything pending again.
	if es := leaseNow(t, o2, 100, 0); len(es) != 6 {
		t.Fatalf("leased %d entries after reopen, want 6", len(es))
	}
}

func TestLeaseSafetyFirstFIFOWithinClass(t *testing.T) {
	o, _ := openTest(t, Options{})
	var want [numClasses][]uint64
	order := []Class{ClassTelemetry, ClassEvents, ClassSafety, ClassEvents, ClassTelemetry, ClassSafety, ClassEvents}
	for i, c := range order {
		want[c] = append(want[c], mustAppend(t, o, c, fmt.Sprint(i)))
	}
	es := leaseNow(t, o, 100, 0)
	got := seqsOf(es)
	exp := slices.Concat(want[ClassSafety], want[ClassEvents], want[ClassTelemetry])
	if !slices.Equal(got, exp) {
		t.Fatalf("lease order %v, want %v", got, exp)
	}
	for _, e := range es {
		if e.Payload == nil || e.Attempts != 0 || e.Appended.IsZero() {
			t.Fatalf("entry %+v incomplete", e)
		}
	}
}

func TestLeaseHidesLeasedUntilRelease(t *testing.T) {
	o, _ := openTest(t, Options{})
	for i := range 4 {
		mustAppend(t, o, ClassEvents, fmt.Sprint(i))
	}
	a := mustLease(t, o, 2, 0)
	b := mustLease(t, o, 2, 0)
	if !slices.Equal(seqsOf(a), []uint64{1, 2}) || !slices.Equal(seqsOf(b), []uint64{3, 4}) {
		t.Fatalf("leases %v and %v overlap or skip", seqsOf(a), seqsOf(b))
	}
	if es := leaseNow(t, o, 10, 0); len(es) != 0 {
		t.Fatalf("leased entries returned again: %v", seqsOf(es))
	}
	if st := o.Stats(); st.Leased != 4 {
		t.Fatalf("Stats.Leased = %d, want 4", st.Leased)
	}
	o.Release(seqsOf(a))
	if es := leaseNow(t, o, 10, 0); !slices.Equal(seqsOf(es), []uint64{1, 2}) {
		t.Fatalf("after Release leased %v, want [1 2]", seqsOf(es))
	}
}

func TestLeaseBlocksUntilAppend(t *testing.T) {
	o, _ := openTest(t, Options{})
	got := make(chan []Entry, 1)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		es, err := o.Lease(ctx, 10, 0)
		if err != nil {
			errc <- err
			return
		}
		got <- es
	}()
	mustAppend(t, o, ClassSafety, "alarm")
	select {
	case es := <-got:
		if len(es) != 1 || string(es[0].Payload) != "alarm" {
			t.Fatalf("woken Lease got %+v", es)
		}
	case err := <-errc:
		t.Fatalf("Lease: %v", err)
	}
}

func TestLeaseReturnsOnContextAndClose(t *testing.T) {
	o, err := Open(context.Background(), filepath.Join(t.TempDir(), "o.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Lease(ctx, 1, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lease on cancelled ctx: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := o.Lease(ctx, 1, 0)
		errc <- err
	}()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Lease during Close: %v, want ErrClosed", err)
	}
	if _, err := o.Append(context.Background(), ClassEvents, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
}

func TestLeaseByteLimit(t *testing.T) {
	o, _ := openTest(t, Options{})
	mustAppend(t, o, ClassEvents, strings.Repeat("x", 100))
	mustAppend(t, o, ClassEvents, "small")
	// The first entry comes alone even though it exceeds the limit, so the
	// caller can quarantine it instead of being stuck.
	es := mustLease(t, o, 10, 50)
	if !slices.Equal(seqsOf(es), []uint64{1}) {
		t.Fatalf("lease %v, want [1]", seqsOf(es))
	}
	o.Release(seqsOf(es))
	es = mustLease(t, o, 10, 104)
	if !slices.Equal(seqsOf(es), []uint64{1}) {
		t.Fatalf("lease %v, want [1] (strict order, 105 bytes do not fit 104)", seqsOf(es))
	}
}

func TestMarkSentConfirmStages(t *testing.T) {
	clock := newFakeClock()
	o, _ := openTest(t, Options{Now: clock.Now})
	for i := range 5 {
		mustAppend(t, o, ClassEvents, fmt.Sprint(i))
	}
	es := mustLease(t, o, 3, 0)
	if err := o.MarkSent(seqsOf(es)); err != nil {
		t.Fatal(err)
	}
	st := o.Stats()
	if st.Pending[ClassEvents] != 2 || st.Sent[ClassEvents] != 3 || st.Leased != 0 {
		t.Fatalf("after MarkSent: %+v", st)
	}
	if n, err := o.Confirm("other-epoch", 5); n != 0 || err != nil {
		t.Fatalf("Confirm of another epoch = %d, %v", n, err)
	}
	// Cumulative: confirms what was sent, still sent or pending again after
	// resend_after alike, and never what was not sent (4 here).
	clock.Advance(o.opts.ResendAfter + time.Second)
	es = mustLease(t, o, 1, 0) // requeues 1..3; lease 1 and give it back
	o.Release(seqsOf(es))
	if st := o.Stats(); st.Pending[ClassEvents] != 5 || st.Sent[ClassEvents] != 0 {
		t.Fatalf("after resend_after: %+v", st)
	}
	n, err := o.Confirm(o.Epoch(), 4)
	if err != nil || n != 3 {
		t.Fatalf("Confirm(4) = %d, %v; want 3 (4 was never sent)", n, err)
	}
	st = o.Stats()
	if st.Depth() != 2 || st.Pending[ClassEvents] != 2 || st.Bytes != 2 || st.AcksBeyondSent != 1 {
		t.Fatalf("after Confirm: %+v", st)
	}
	if n, _ := o.Confirm(o.Epoch(), 3); n != 0 {
		t.Fatalf("repeated Confirm deleted %d", n)
	}
	if got := dump(t, o); len(got) != 2 || got[0].seq != 4 || got[1].seq != 5 {
		t.Fatalf("left %+v", got)
	}
}

// TestConfirmForgedAckKeepsUnsent: an acknowledgement far beyond what was
// sent (forged, read off the ack topic) deletes only what was sent and is
// reported; the rest is still sent afterwards.
func TestConfirmForgedAckKeepsUnsent(t *testing.T) {
	o, _ := openTest(t, Options{})
	for i := range 60 {
		mustAppend(t, o, ClassEvents, fmt.Sprint(i))
	}
	es := mustLease(t, o, 12, 0)
	if err := o.MarkSent(seqsOf(es[:10])); err != nil {
		t.Fatal(err)
	}
	o.Release(seqsOf(es[10:])) // 11 and 12: published, PUBACK lost with the link
	n, err := o.Confirm(o.Epoch(), 1_000_000_000)
	if !errors.Is(err, ErrRolledBack) || n != 0 {
		t.Fatalf("Confirm(1e9) = %d, %v; want 0 and ErrRolledBack (an ack beyond the file deletes nothing)", n, err)
	}
	st := o.Stats()
	if st.Depth() != 60 || st.AcksBeyondSent != 1 {
		t.Fatalf("after a forged ack: %+v", st)
	}
	// Within the file, an ack still deletes only what was handed out.
	n, err = o.Confirm(o.Epoch(), 30)
	if err != nil || n != 12 {
		t.Fatalf("Confirm(30) = %d, %v; want 12 (only 1..12 were handed out)", n, err)
	}
	if es := leaseNow(t, o, 100, 0); len(es) != 48 || es[0].Seq != 13 || es[47].Seq != 60 {
		t.Fatalf("leased %v after a forged ack, want 13..60", seqsOf(es))
	}
}

func TestSentBecomesPendingAfterResendAfter(t *testing.T) {
	clock := newFakeClock()
	o, _ := openTest(t, Options{Now: clock.Now, ResendAfter: time.Minute})
	mustAppend(t, o, ClassEvents, "a")
	mustAppend(t, o, ClassEvents, "b")
	if err := o.MarkSent(seqsOf(mustLease(t, o, 1, 0))); err != nil {
		t.Fatal(err)
	}
	if es := leaseNow(t, o, 10, 0); !slices.Equal(seqsOf(es), []uint64{2}) {
		t.Fatalf("lease %v, want [2]", seqsOf(es))
	}
	o.Release([]uint64{2})
	clock.Advance(59 * time.Second)
	if es := leaseNow(t, o, 10, 0); !slices.Equal(seqsOf(es), []uint64{2}) {
		t.Fatalf("before ResendAfter lease %v, want [2]", seqsOf(es))
	}
	o.Release([]uint64{2})
	clock.Advance(time.Second)
	es := leaseNow(t, o, 10, 0)
	if !slices.Equal(seqsOf(es), []uint64{1, 2}) || es[0].Attempts != 1 {
		t.Fatalf("after ResendAfter lease %+v, want seqs [1 2] with attempts 1 on the first", es)
	}
	if err := o.MarkSent([]uint64{1}); err != nil {
		t.Fatal(err)
	}
	if st := o.Stats(); st.Sent[ClassEvents] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// ResendUnconfirmed makes every sent entry pending again at once, without
// waiting for ResendAfter, and wakes a blocked Lease; confirmed entries
// and those never sent are as they were.
func TestResendUnconfirmedAtOnce(t *testing.T) {
	clock := newFakeClock()
	o, _ := openTest(t, Options{Now: clock.Now, ResendAfter: time.Hour})
	for _, p := range []string{"a", "b", "c", "d"} {
		mustAppend(t, o, ClassEvents, p)
	}
	if err := o.MarkSent(seqsOf(mustLease(t, o, 3, 0))); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Confirm(o.Epoch(), 1); err != nil {
		t.Fatal(err)
	}
	if n, err := o.ResendUnconfirmed(); err != nil || n != 2 {
		t.Fatalf("ResendUnconfirmed: %d, %v; want the 2 sent and unconfirmed", n, err)
	}
	es := leaseNow(t, o, 10, 0)
	if !slices.Equal(seqsOf(es), []uint64{2, 3, 4}) || es[0].Attempts != 1 || es[2].Attempts != 0 {
		t.Fatalf("lease %+v, want seqs [2 3 4], the first two sent once before", es)
	}
	if err := o.MarkSent(seqsOf(es)); err != nil {
		t.Fatal(err)
	}
	if n, err := o.ResendUnconfirmed(); err != nil || n != 3 {
		t.Fatalf("second ResendUnconfirmed: %d, %v; want 3", n, err)
	}
	// A Lease blocked with nothing pending wakes for them.
	if err := o.MarkSent(seqsOf(leaseNow(t, o, 10, 0))); err != nil {
		t.Fatal(err)
	}
	got := make(chan []Entry, 1)
	go func() { es, _ := o.Lease(context.Background(), 10, 0); got <- es }()
	if n, err := o.ResendUnconfirmed(); err != nil || n != 3 {
		t.Fatalf("third ResendUnconfirmed: %d, %v", n, err)
	}
	if es := <-got; !slices.Equal(seqsOf(es), []uint64{2, 3, 4}) {
		t.Fatalf("woken Lease got %v", seqsOf(es))
	}
	if st := o.Stats(); st.Depth() != 3 {
		t.Fatalf("depth %d, want 3", st.Depth())
	}
}

func TestResendWakesBlockedLease(t *testing.T) {
	o, _ := openTest(t, Options{ResendAfter: 50 * time.Millisecond})
	mustAppend(t, o, ClassSafety, "alarm")
	if err := o.MarkSent(seqsOf(mustLease(t, o, 1, 0))); err != nil {
		t.Fatal(err)
	}
	// Nothing is pending: this Lease blocks until the sent entry is due.
	es := mustLease(t, o, 1, 0)
	if len(es) != 1 || es[0].Seq != 1 || es[0].Attempts != 1 {
		t.Fatalf("woken Lease got %+v", es)
	}
}

func TestQuarantine(t *testing.T) {
	o, _ := openTest(t, Options{})
	mustAppend(t, o, ClassEvents, strings.Repeat("x", 1000))
	mustAppend(t, o, ClassEvents, "ok")
	es := mustLease(t, o, 1, 0)
	if err := o.Quarantine(es[0].Seq, "larger than the broker's maximum packet"); err != nil {
		t.Fatal(err)
	}
	if err := o.Quarantine(es[0].Seq, "again"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Quarantine: %v, want ErrNotFound", err)
	}
	if es := leaseNow(t, o, 10, 0); !slices.Equal(seqsOf(es), []uint64{2}) {
		t.Fatalf("after quarantine lease %v, want [2]", seqsOf(es))
	}
	st := o.Stats()
	if st.Quarantined != 1 || st.Bytes != 2 || st.Leased != 1 {
		t.Fatalf("stats %+v", st)
	}
	var reason string
	if err := o.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketQuarantine).Get(seqKey(1))
		var err error
		reason, _, err = decodeQuarantine(v)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "maximum packet") {
		t.Fatalf("quarantine reason %q", reason)
	}
}

func TestEvictionTelemetryThenEventsNeverSafety(t *testing.T) {
	o, _ := openTest(t, Options{MaxBytes: 100})
	p := strings.Repeat("p", 10)
	for range 3 {
		mustAppend(t, o, ClassSafety, p) // seqs 1-3
	}
	for range 3 {
		mustAppend(t, o, ClassEvents, p) // 4-6
	}
	for range 4 {
		mustAppend(t, o, ClassTelemetry, p) // 7-10: exactly 100 bytes
	}
	mustAppend(t, o, ClassEvents, p) // evicts telemetry 7
	st := o.Stats()
	if st.EvictedByClass != [numClasses]uint64{0, 0, 1} || st.Bytes != 100 {
		t.Fatalf("after first eviction %+v", st)
	}
	// Telemetry may only push out telemetry.
	big := strings.Repeat("t", 30) // exactly the telemetry stored
	if _, err := o.Append(context.Background(), ClassTelemetry, []byte(big)); err != nil {
		t.Fatalf("telemetry that fits by evicting telemetry: %v", err)
	}
	if _, err := o.Append(context.Background(), ClassTelemetry, []byte(strings.Repeat("t", 60))); !errors.Is(err, ErrFull) {
		t.Fatalf("telemetry that cannot fit: %v, want ErrFull", err)
	}
	// Safety pushes out everything else, then goes past the bound.
	for range 10 {
		mustAppend(t, o, ClassSafety, p)
	}
	st = o.Stats()
	if st.Pending[ClassSafety] != 13 || st.Pending[ClassEvents] != 0 || st.Pending[ClassTelemetry] != 0 {
		t.Fatalf("after safety flood %+v", st)
	}
	if st.Bytes != 130 || st.DroppedByClass[ClassTelemetry] != 1 {
		t.Fatalf("bytes %d dropped %v", st.Bytes, st.DroppedByClass)
	}
	if _, err := o.Append(context.Background(), ClassEvents, []byte(p)); !errors.Is(err, ErrFull) {
		t.Fatalf("event when only safety is stored: %v, want ErrFull", err)
	}
	// Sequences stay gapless although entries were evicted and refused.
	if seq := mustAppend(t, o, ClassSafety, p); seq != st.LastSeq+1 {
		t.Fatalf("seq %d after last %d", seq, st.LastSeq)
	}
}

func TestStatsOldestPending(t *testing.T) {
	clock := newFakeClock()
	o, _ := openTest(t, Options{Now: clock.Now})
	if st := o.Stats(); st.OldestPending != 0 || st.Depth() != 0 {
		t.Fatalf("empty stats %+v", st)
	}
	mustAppend(t, o, ClassTelemetry, "hb")
	clock.Advance(time.Minute)
	mustAppend(t, o, ClassSafety, "alarm")
	clock.Advance(time.Minute)
	if st := o.Stats(); st.OldestPending != 2*time.Minute {
		t.Fatalf("oldest pending %v, want 2m", st.OldestPending)
	}
}

func TestGroupCommitSharesTransactions(t *testing.T) {
	o, _ := openTest(t, Options{})
	const producers, each = 32, 40
	var wg sync.WaitGroup
	seqs := make(chan uint64, producers*each)
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				seq, err := o.Append(context.Background(), ClassEvents, []byte(fmt.Sprint(p, "-", i)))
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- seq
			}
		})
	}
	wg.Wait()
	close(seqs)
	var got []uint64
	for s := range seqs {
		got = append(got, s)
	}
	slices.Sort(got)
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("sequences not 1..%d without gaps: position %d holds %d", len(got), i, s)
		}
	}
	st := o.Stats()
	if st.Appends != producers*each || st.Commits*2 > st.Appends {
		t.Fatalf("%d appends in %d commits: expected at least two appends per commit", st.Appends, st.Commits)
	}
	t.Logf("%d appends in %d commits", st.Appends, st.Commits)
}

func TestCompactionAtOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	opts := Options{CompactMinBytes: 256 << 10}
	o, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("z", 500)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 200 {
				if _, err := o.Append(context.Background(), ClassEvents, []byte(payload)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	last := o.Stats().LastSeq
	sendUpTo(t, o, last-10)
	if _, err := o.Confirm(o.Epoch(), last-10); err != nil {
		t.Fatal(err)
	}
	epoch := o.Epoch()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	before := fileSize(t, path)

	o2, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, path)
	if after*2 > before {
		t.Fatalf("file %d bytes after compaction, was %d: expected at least halved", after, before)
	}
	if o2.Epoch() != epoch || o2.Stats().LastSeq != last || o2.Stats().Pending[ClassEvents] != 10 {
		t.Fatalf("compaction lost state: %+v", o2.Stats())
	}
	if seq := mustAppend(t, o2, ClassEvents, "next"); seq != last+1 {
		t.Fatalf("seq after compaction %d, want %d", seq, last+1)
	}
	if err := o2.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("compaction copy left behind: %v", err)
	}
	t.Logf("compacted %d -> %d bytes", before, after)
}

func TestLockedFileIsNotDamage(t *testing.T) {
	o, path := openTest(t, Options{})
	_, err := Open(context.Background(), path, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if matches, _ := filepath.Glob(path + ".damaged-*"); len(matches) != 0 {
		t.Fatalf("a locked file was set aside: %v", matches)
	}
	mustAppend(t, o, ClassEvents, "still fine")
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestAppStateTravelsWithItsEntries: the caller's state is committed with
// the entry it follows, survives a reopen, and of appends committed
// together the last one's is kept.
func TestAppStateTravelsWithItsEntries(t *testing.T) {
	o, path := openTest(t, Options{})
	if o.AppState() != nil {
		t.Fatalf("fresh outbox has state %q", o.AppState())
	}
	for i := 1; i <= 3; i++ {
		if _, err := o.AppendWithState(context.Background(), ClassEvents, []byte(fmt.Sprint("e", i)), []byte(fmt.Sprint(`{"trips":`, i, `}`))); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(t, o, ClassTelemetry, "no state") // leaves the stored state alone
	if got := string(o.AppState()); got != `{"trips":3}` {
		t.Fatalf("state %q, want the last one stored", got)
	}
	if got := string(reopen(t, o, path).AppState()); got != `{"trips":3}` {
		t.Fatalf("state after reopen %q", got)
	}
}
