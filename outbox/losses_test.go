package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// encodeLoss is the payload a test's loss reports carry: the Loss as JSON.
func encodeLoss(l Loss) ([]byte, error) { return json.Marshal(l) }

func decodeLossPayload(t *testing.T, p []byte) Loss {
	t.Helper()
	var l Loss
	if err := json.Unmarshal(p, &l); err != nil {
		t.Fatalf("loss report payload %q: %v", p, err)
	}
	return l
}

// TestEvictionIsReportedAsLost: entries evicted for space become one safety
// report naming their sequences, and nothing else changes; once the report
// is confirmed the file forgets the runs.
func TestEvictionIsReportedAsLost(t *testing.T) {
	o, path := openTest(t, Options{MaxBytes: 100})
	// 1 event, then telemetry: 2..11 fill the bound at 10 bytes each.
	mustAppend(t, o, ClassEvents, "event-0001")
	for i := range 9 {
		mustAppend(t, o, ClassTelemetry, fmt.Sprintf("telem-%04d", i))
	}
	// Two more telemetry entries push out the two oldest telemetry (2, 3);
	// an event then pushes out 4.
	mustAppend(t, o, ClassTelemetry, "telem-0100")
	mustAppend(t, o, ClassTelemetry, "telem-0101")
	mustAppend(t, o, ClassEvents, "event-0002")
	st := o.Stats()
	if st.Evicted != 3 || st.UnreportedLost != 3 || st.LossRuns != 1 {
		t.Fatalf("after 3 evictions: evicted %d, unreported %d, runs %d; want 3, 3, 1 (2..4 is one run)", st.Evicted, st.UnreportedLost, st.LossRuns)
	}

	// The losses survive a restart unreported.
	o = reopen(t, o, path)
	if st := o.Stats(); st.UnreportedLost != 3 {
		t.Fatalf("after reopen: unreported %d, want 3", st.UnreportedLost)
	}
	last := o.Stats().LastSeq
	n, err := o.ReportLosses(wire.MaxRanges, encodeLoss)
	if err != nil || n != 1 {
		t.Fatalf("ReportLosses = %d, %v; want 1 report", n, err)
	}
	if n, _ := o.ReportLosses(wire.MaxRanges, encodeLoss); n != 0 {
		t.Fatalf("a second ReportLosses made %d reports, want 0", n)
	}
	es := leaseNow(t, o, 1, 0)
	if len(es) != 1 || es[0].Class != ClassSafety || es[0].Seq != last+1 {
		t.Fatalf("first lease %+v, want the report, safety, seq %d", es, last+1)
	}
	l := decodeLossPayload(t, es[0].Payload)
	want := Loss{Reason: wire.LostEvicted, Ranges: []wire.Range{{2, 4}}, Count: 3, Bytes: 30, Classes: [numClasses]uint64{0, 0, 3}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("report %+v, want %+v", l, want)
	}
	if st := o.Stats(); st.UnreportedLost != 0 || st.LossRuns != 1 {
		t.Fatalf("after the report: %+v, want nothing unreported and the run kept", st)
	}
	if err := o.MarkSent(seqsOf(es)); err != nil {
		t.Fatal(err)
	}
	if n, err := o.Confirm(o.Epoch(), es[0].Seq); n != 1 || err != nil {
		t.Fatalf("Confirm the report = %d, %v", n, err)
	}
	if st := o.Stats(); st.LossRuns != 0 {
		t.Fatalf("runs %d after the report was confirmed, want 0", st.LossRuns)
	}
}

// TestReportLossesSplitsAtTheWireBounds: no report exceeds the ranges one
// message may carry.
func TestReportLossesSplitsAtTheWireBounds(t *testing.T) {
	o, _ := openTest(t, Options{MaxBytes: 10000})
	// Alternate events and telemetry, then push every telemetry entry out
	// with more events: every lost sequence is a run of its own.
	runs := wire.MaxRanges + 5
	for i := range runs {
		mustAppend(t, o, ClassEvents, "e")
		mustAppend(t, o, ClassTelemetry, fmt.Sprintf("t%07d", i))
	}
	for o.Stats().Pending[ClassTelemetry] > 0 {
		mustAppend(t, o, ClassEvents, strings.Repeat("e", 100))
	}
	lost := o.Stats().UnreportedLost
	n, err := o.ReportLosses(wire.MaxRanges, encodeLoss)
	if err != nil || n < 2 {
		t.Fatalf("ReportLosses = %d, %v; want at least 2 reports for %d runs", n, err, runs)
	}
	var total uint64
	for _, e := range leaseNow(t, o, 1<<20, 0) {
		if e.Class != ClassSafety {
			continue
		}
		l := decodeLossPayload(t, e.Payload)
		if len(l.Ranges) > wire.MaxRanges {
			t.Fatalf("report of %d ranges, at most %d", len(l.Ranges), wire.MaxRanges)
		}
		total += l.Count
	}
	if total != lost {
		t.Fatalf("reports account for %d sequences, %d were lost", total, lost)
	}
}

// TestConfirmWithRangesDeletesAboveAGap: the receiver stored 1..3 and
// 6..10 (4 and 5 are telemetry still waiting its turn): the acknowledgement
// with ranges deletes what it holds, so only 4 and 5 are sent again.
func TestConfirmWithRangesDeletesAboveAGap(t *testing.T) {
	clock := newFakeClock()
	o, _ := openTest(t, Options{Now: clock.Now})
	for i := range 10 {
		c := ClassEvents
		if i == 3 || i == 4 {
			c = ClassTelemetry
		}
		mustAppend(t, o, c, fmt.Sprint(i))
	}
	es := mustLease(t, o, 8, 0) // events first: 1..3, 6..10
	if err := o.MarkSent(seqsOf(es)); err != nil {
		t.Fatal(err)
	}
	n, err := o.Confirm(o.Epoch(), 3, wire.Range{6, 10})
	if err != nil || n != 8 {
		t.Fatalf("Confirm(3, [6,10]) = %d, %v; want 8", n, err)
	}
	clock.Advance(time.Hour) // nothing left to resend
	if got := seqsOf(leaseNow(t, o, 100, 0)); !reflect.DeepEqual(got, []uint64{4, 5}) {
		t.Fatalf("leased %v after the ack, want [4 5]", got)
	}
	if st := o.Stats(); st.UnreportedLost != 0 || st.AcksBeyondSent != 0 {
		t.Fatalf("held sequences taken for lost: %+v", st)
	}
}

// TestConfirmRecordsWhatTheReceiverLacksAndTheFileDoesNotHold: the
// receiver lost 2 and 3 (restored from an older backup) after the agent
// deleted them; once its acknowledgements have lacked them for
// MissingAfter, they are recorded as missing and reported, once.
func TestConfirmRecordsWhatTheReceiverLacksAndTheFileDoesNotHold(t *testing.T) {
	clock := newFakeClock()
	o, _ := openTest(t, Options{Now: clock.Now, MissingAfter: time.Minute})
	for i := range 6 {
		mustAppend(t, o, ClassEvents, fmt.Sprint(i))
	}
	sendUpTo(t, o, 6)
	if _, err := o.Confirm(o.Epoch(), 3); err != nil {
		t.Fatal(err)
	}
	// The receiver now says it has 1 and 4..6 only: 2 and 3 are gone from
	// the file. Not lost yet: one ack may be older than the one that
	// confirmed them.
	if _, err := o.Confirm(o.Epoch(), 1, wire.Range{4, 6}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	if _, err := o.Confirm(o.Epoch(), 1, wire.Range{4, 6}); err != nil {
		t.Fatal(err)
	}
	if st := o.Stats(); st.UnreportedLost != 0 {
		t.Fatalf("unreported %d before the acks lacked them for a minute, want 0", st.UnreportedLost)
	}
	// A minute on, the acks still lack them: they are missing.
	clock.Advance(time.Second)
	if _, err := o.Confirm(o.Epoch(), 1, wire.Range{4, 6}); err != nil {
		t.Fatal(err)
	}
	if st := o.Stats(); st.UnreportedLost != 2 {
		t.Fatalf("unreported %d, want 2 (2 and 3)", st.UnreportedLost)
	}
	// The same acknowledgement again records nothing more.
	if _, err := o.Confirm(o.Epoch(), 1, wire.Range{4, 6}); err != nil {
		t.Fatal(err)
	}
	if n, err := o.ReportLosses(wire.MaxRanges, encodeLoss); n != 1 || err != nil {
		t.Fatalf("ReportLosses = %d, %v", n, err)
	}
	es := leaseNow(t, o, 10, 0)
	if len(es) != 1 {
		t.Fatalf("leased %v, want the report alone", seqsOf(es))
	}
	l := decodeLossPayload(t, es[0].Payload)
	if l.Reason != wire.LostMissing || !reflect.DeepEqual(l.Ranges, []wire.Range{{2, 3}}) || l.Count != 2 {
		t.Fatalf("report %+v, want missing [2,3]", l)
	}
	// While the report is unconfirmed, the gap is covered: no new record.
	if _, err := o.Confirm(o.Epoch(), 1, wire.Range{4, 6}); err != nil {
		t.Fatal(err)
	}
	if st := o.Stats(); st.UnreportedLost != 0 {
		t.Fatalf("the reported gap was recorded again: %+v", st)
	}
}

// TestAnOlderAckIsNotTakenForALoss is what two receivers sharing the
// stream do (found by scripts/fleet.sh at 2,000 cabins): one's ack, read
// before the other's commit, reaches the agent after the other's newer
// one. It lacks sequences the newer one confirmed and the file deleted;
// they are stored, and must never be reported lost.
func TestAnOlderAckIsNotTakenForALoss(t *testing.T) {
	clock := newFakeClock()
	o, _ := openTest(t, Options{Now: clock.Now, MissingAfter: time.Minute})
	for i := range 10 {
		mustAppend(t, o, ClassEvents, fmt.Sprint(i))
	}
	sendUpTo(t, o, 10)
	// The newer ack: everything stored.
	if _, err := o.Confirm(o.Epoch(), 8); err != nil {
		t.Fatal(err)
	}
	// The older one, after it: 5 and 6 not yet stored when it was read.
	if _, err := o.Confirm(o.Epoch(), 4, wire.Range{7, 9}); err != nil {
		t.Fatal(err)
	}
	// The next ack says all is stored: the older word is forgotten, and a
	// later stale ack starts its wait again.
	clock.Advance(50 * time.Second)
	if _, err := o.Confirm(o.Epoch(), 9); err != nil {
		t.Fatal(err)
	}
	clock.Advance(50 * time.Second)
	if _, err := o.Confirm(o.Epoch(), 4, wire.Range{7, 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Confirm(o.Epoch(), 10); err != nil {
		t.Fatal(err)
	}
	st := o.Stats()
	if st.UnreportedLost != 0 || st.Depth() != 0 {
		t.Fatalf("after older acks among newer ones: %d recorded lost, %d held; want none and none", st.UnreportedLost, st.Depth())
	}
	if n, err := o.ReportLosses(wire.MaxRanges, encodeLoss); n != 0 || err != nil {
		t.Fatalf("ReportLosses = %d, %v; want nothing to report", n, err)
	}
}

// TestSettleMissing: the parts of a run lacked long enough are due, the
// rest wait from when each part was first lacked, and what an ack no
// longer lacks is forgotten.
func TestSettleMissing(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	prev := []suspect{{wire.Range{2, 5}, t0}, {wire.Range{9, 9}, t0.Add(30 * time.Second)}, {wire.Range{20, 21}, t0}}
	due, next := settleMissing(prev, []wire.Range{{1, 3}, {8, 12}}, t0.Add(time.Minute), time.Minute)
	if want := []wire.Range{{2, 3}}; !reflect.DeepEqual(due, want) {
		t.Fatalf("due %v, want %v", due, want)
	}
	want := []suspect{{wire.Range{1, 1}, t0.Add(time.Minute)}, {wire.Range{8, 8}, t0.Add(time.Minute)}, {wire.Range{9, 9}, t0.Add(30 * time.Second)}, {wire.Range{10, 12}, t0.Add(time.Minute)}}
	if !reflect.DeepEqual(next, want) {
		t.Fatalf("next %v, want %v", next, want)
	}
}

// TestConfirmedRangesKeepWhatWasNeverSent: ranges are held to the same rule
// as the cumulative part: what was never handed out is kept.
func TestConfirmedRangesKeepWhatWasNeverSent(t *testing.T) {
	o, _ := openTest(t, Options{})
	for i := range 10 {
		mustAppend(t, o, ClassEvents, fmt.Sprint(i))
	}
	if err := o.MarkSent(seqsOf(mustLease(t, o, 3, 0))); err != nil {
		t.Fatal(err)
	}
	n, err := o.Confirm(o.Epoch(), 3, wire.Range{5, 10})
	if err != nil || n != 3 {
		t.Fatalf("Confirm = %d, %v; want 3", n, err)
	}
	st := o.Stats()
	if st.Depth() != 7 || st.AcksBeyondSent != 1 {
		t.Fatalf("after a forged range: %+v", st)
	}
	if st.UnreportedLost != 0 {
		t.Fatalf("4 is held, yet recorded lost: %+v", st)
	}
}

func TestSubtract(t *testing.T) {
	cases := []struct {
		g      wire.Range
		covers []wire.Range
		want   []wire.Range
	}{
		{wire.Range{1, 10}, nil, []wire.Range{{1, 10}}},
		{wire.Range{1, 10}, []wire.Range{{1, 10}}, nil},
		{wire.Range{1, 10}, []wire.Range{{5, 5}, {2, 3}}, []wire.Range{{1, 1}, {4, 4}, {6, 10}}},
		{wire.Range{5, 8}, []wire.Range{{1, 5}, {8, 20}}, []wire.Range{{6, 7}}},
		{wire.Range{5, 8}, []wire.Range{{1, 2}, {9, 20}}, []wire.Range{{5, 8}}},
		{wire.Range{5, 8}, []wire.Range{{4, 6}, {5, 7}}, []wire.Range{{8, 8}}},
	}
	for _, c := range cases {
		if got := subtract(c.g, c.covers); !reflect.DeepEqual(got, c.want) {
			t.Errorf("subtract(%v, %v) = %v, want %v", c.g, c.covers, got, c.want)
		}
	}
}

// TestLossRunsAreCheckedAtOpen: a file holding loss runs opens as it was.
func TestLossRunsAreCheckedAtOpen(t *testing.T) {
	o, path := openTest(t, Options{MaxBytes: 20})
	for i := range 5 {
		mustAppend(t, o, ClassTelemetry, fmt.Sprintf("telem-%04d", i))
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o2, err := Open(t.Context(), path, Options{MaxBytes: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if o2.Reset() != nil {
		t.Fatalf("a file with loss runs was taken for damaged: %+v", o2.Reset())
	}
	if st := o2.Stats(); st.UnreportedLost != 3 || !strings.HasPrefix(o2.Epoch(), "2") {
		t.Fatalf("after reopen: %+v", st)
	}
}

// TestRotateKeepsEverythingUnderANewEpoch: a rolled-back file (an ack
// beyond its last sequence) starts a new epoch; every queued entry is kept
// in order and class, numbered from 1, followed by the reset's report.
func TestRotateKeepsEverythingUnderANewEpoch(t *testing.T) {
	o, path := openTest(t, Options{MaxBytes: 60})
	for i := range 8 {
		c := ClassEvents
		if i%3 == 0 {
			c = ClassTelemetry
		}
		mustAppend(t, o, c, fmt.Sprintf("entry-%03d", i)) // 9 bytes: the 7th and 8th evict telemetry
	}
	sendUpTo(t, o, 4)
	if _, err := o.Confirm(o.Epoch(), 2); err != nil {
		t.Fatal(err)
	}
	before := dump(t, o)
	old := o.Epoch()
	if _, err := o.Confirm(old, 118); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("an ack beyond the last sequence: %v, want ErrRolledBack", err)
	}
	var got Reset
	err := o.Rotate("acknowledgement 118 beyond last sequence 8", func(r Reset) ([]byte, error) {
		got = r
		return []byte("reset"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Epoch() == old || got.PrevEpoch != old {
		t.Fatalf("epoch %s (was %s), reset %+v", o.Epoch(), old, got)
	}
	if !strings.Contains(got.Reason, "never reported") {
		t.Fatalf("reason %q does not say the old epoch's losses went unreported", got.Reason)
	}
	after := dump(t, o)
	if len(after) != len(before)+1 {
		t.Fatalf("%d entries after, %d before: want every one kept plus the report", len(after), len(before))
	}
	for i, d := range after[:len(before)] {
		if d.seq != uint64(i+1) || d.class != before[i].class || d.payload != before[i].payload || d.stage != stagePending {
			t.Fatalf("entry %d after rotation %+v, before %+v", i, d, before[i])
		}
	}
	if last := after[len(after)-1]; last.class != ClassSafety || last.payload != "reset" {
		t.Fatalf("last entry %+v, want the reset report", last)
	}
	// An ack of the old epoch is ignored; the new one starts from nothing
	// handed out.
	if n, err := o.Confirm(old, 3); n != 0 || err != nil {
		t.Fatalf("old epoch's ack = %d, %v", n, err)
	}
	if n, _ := o.Confirm(o.Epoch(), 3); n != 0 {
		t.Fatalf("an ack of entries never handed out deleted %d", n)
	}
	st := o.Stats()
	if st.LastSeq != uint64(len(after)) || st.LossRuns != 0 || st.UnreportedLost != 0 {
		t.Fatalf("stats after rotation %+v", st)
	}
	o2 := reopen(t, o, path)
	if o2.Epoch() == old || o2.Stats().Depth() != uint64(len(after)) {
		t.Fatalf("after reopen: epoch %s, depth %d", o2.Epoch(), o2.Stats().Depth())
	}
}

// TestFileStaysWithinMaxFileBytes: the bound is on the file, not only on
// the payload (issue 14: a 1 MiB bound let the file reach 8 MiB, counted in
// payload bytes and grown to the next power of two).
func TestFileStaysWithinMaxFileBytes(t *testing.T) {
	const bound = 1 << 20
	for _, size := range []int{100, 2000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			o, path := openTest(t, Options{MaxFileBytes: bound})
			p := []byte(strings.Repeat("x", size))
			var largest int64
			// Eight appends at a time share a commit: the test is about
			// pages, not fsyncs.
			for i := 0; i < 3*bound/size; i += 8 {
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				for j := range 8 {
					c := ClassTelemetry
					if (i+j)%3 == 0 {
						c = ClassEvents
					}
					wg.Go(func() {
						if _, err := o.Append(t.Context(), c, p); err != nil && !errors.Is(err, ErrFull) {
							errs <- err
						}
					})
				}
				wg.Wait()
				close(errs)
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
				if i%40 == 0 { // some go out and come back: the pages churn
					es := leaseNow(t, o, 30, 0)
					if err := o.MarkSent(seqsOf(es)); err != nil {
						t.Fatal(err)
					}
					if len(es) > 10 {
						if _, err := o.Confirm(o.Epoch(), es[10].Seq); err != nil {
							t.Fatal(err)
						}
					}
				}
				if i%400 == 0 {
					fi, err := os.Stat(path)
					if err != nil {
						t.Fatal(err)
					}
					largest = max(largest, fi.Size())
				}
			}
			st := o.Stats()
			if st.Evicted == 0 {
				t.Fatalf("nothing was evicted: the test did not reach the bound (%+v)", st)
			}
			if largest > bound {
				t.Fatalf("the file reached %d bytes, bound %d (payload %d in %d entries)", largest, bound, st.Bytes, st.Depth())
			}
			t.Logf("%d-byte entries: file at most %d bytes for a bound of %d; %d entries, %d payload bytes kept", size, largest, bound, st.Depth(), st.Bytes)
		})
	}
}
