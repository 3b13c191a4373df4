package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// LostEvent makes an agent's report that ranges of its epoch are lost.
func LostEvent(seq uint64, reason string, ranges ...wire.Range) wire.Event {
	var n uint64
	for _, r := range ranges {
		n += r.Len()
	}
	return Event(seq, wire.TypeLost, wire.LostData{Reason: reason, Ranges: ranges, Count: n})
}

// testLostMovesContiguous: a lost report fills the gap it accounts for, in
// the call that brings it or any later one; a sequence stored after being
// accounted for counts as stored, not lost.
func testLostMovesContiguous(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustInsert(t, s, Batch("s1", "c1", "e1", 1, 2, 7))
	b := Batch("s1", "c1", "e1", 5)
	b.Events = append(b.Events, LostEvent(8, wire.LostEvicted, wire.Range{3, 4}, wire.Range{6, 6}))
	res := mustInsert(t, s, b)
	if c, _ := contig(res, "s1", "c1", "e1"); c.Seq != 8 || !c.Advanced {
		t.Fatalf("contiguous after the report %+v, want 8, advanced", c)
	}
	// 4 arrives after all (it was in flight when evicted): stored, and no
	// longer counted lost.
	mustInsert(t, s, Batch("s1", "c1", "e1", 4))
	eps, err := s.Epochs(ctx, "s1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.EpochSummary{{Epoch: "e1", Contiguous: 8, Highest: 8, Events: 6, Lost: 2,
		Losses: []store.LossSummary{{Reason: wire.LostEvicted, Count: 2, Ranges: []wire.Range{{3, 4}, {6, 6}}}}}}
	for i := range eps {
		eps[i].LastSeen = 0
	}
	if !reflect.DeepEqual(eps, want) {
		t.Fatalf("Epochs = %+v, want %+v", eps, want)
	}
	// A report sent twice is recorded once.
	mustInsert(t, s, b)
	if eps, _ := s.Epochs(ctx, "s1", "c1"); eps[0].Lost != 2 {
		t.Fatalf("after a repeated report: %+v", eps)
	}
}

// testLostLaterFillsGap: a report arriving after the events above its gap
// moves the contiguous sequence over all of them at once.
func testLostLaterFillsGap(t *testing.T, s store.Store) {
	mustInsert(t, s, Batch("s1", "c1", "e1", 1, 2))
	mustInsert(t, s, Batch("s1", "c1", "e1", seqs(10, 20)...))
	b := wire.Batch{V: wire.Version, Site: "s1", Cabin: "c1", Epoch: "e1", Events: []wire.Event{LostEvent(21, wire.LostMissing, wire.Range{3, 9})}}
	if c, _ := contig(mustInsert(t, s, b), "s1", "c1", "e1"); c.Seq != 21 {
		t.Fatalf("contiguous %+v, want 21", c)
	}
}

// testAccountLost: ranges the receiver accounts for itself (a refused
// batch) move the contiguous sequence like an agent's report.
func testAccountLost(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustInsert(t, s, Batch("s1", "c1", "e1", 1, 2, 5))
	k := store.EpochKey{Site: "s1", Cabin: "c1", Epoch: "e1"}
	c, err := s.AccountLost(ctx, k, []wire.Range{{3, 4}}, wire.LostRefused, time.Now())
	if err != nil || c.Seq != 5 || !c.Advanced {
		t.Fatalf("AccountLost = %+v, %v; want contiguous 5", c, err)
	}
	// An epoch never seen before is created.
	k2 := store.EpochKey{Site: "s1", Cabin: "c1", Epoch: "e2"}
	if c, err := s.AccountLost(ctx, k2, []wire.Range{{1, 3}}, wire.LostRefused, time.Now()); err != nil || c.Seq != 3 {
		t.Fatalf("AccountLost on a new epoch = %+v, %v; want 3", c, err)
	}
	eps, err := s.Epochs(ctx, "s1", "c1")
	if err != nil || len(eps) != 2 {
		t.Fatalf("Epochs = %+v, %v", eps, err)
	}
	for _, e := range eps {
		if e.Contiguous != e.Highest || len(e.Losses) != 1 || e.Losses[0].Reason != wire.LostRefused {
			t.Fatalf("epoch %+v", e)
		}
	}
	if _, err := s.Epochs(ctx, "s1", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Epochs of an unknown cabin: %v, want ErrNotFound", err)
	}
}

// testStoredAbove: the islands an acknowledgement with ranges carries.
func testStoredAbove(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := Batch("s1", "c1", "e1", 1, 2, 5, 6, 9, 12)
	b.Events = append(b.Events, LostEvent(13, wire.LostEvicted, wire.Range{7, 7}, wire.Range{10, 10}))
	res := mustInsert(t, s, b)
	c, _ := contig(res, "s1", "c1", "e1")
	if c.Seq != 2 {
		t.Fatalf("contiguous %d, want 2", c.Seq)
	}
	k := store.EpochKey{Site: "s1", Cabin: "c1", Epoch: "e1"}
	got, err := s.StoredAbove(ctx, k, c.Seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []wire.Range{{5, 7}, {9, 10}, {12, 13}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("StoredAbove(2) = %v, want %v", got, want)
	}
	if got, _ := s.StoredAbove(ctx, k, c.Seq, 2); len(got) != 2 {
		t.Fatalf("StoredAbove with at most 2 ranges = %v", got)
	}
	if got, _ := s.StoredAbove(ctx, store.EpochKey{Site: "s1", Cabin: "c1", Epoch: "none"}, 0, 10); len(got) != 0 {
		t.Fatalf("StoredAbove of an unknown epoch = %v", got)
	}
}

// testConflicts: an event received again with other content under a
// stored key is a conflict, kept for the record; a resend is not.
func testConflicts(t *testing.T, s store.Store) {
	mustInsert(t, s, Batch("s1", "c1", "e1", 1, 2, 3))
	again := Batch("s1", "c1", "e1", 1, 2, 3)
	again.Events[1].Data = []byte(`{"floor":9}`)                 // seq 2: other data
	again.Events[2].Time = again.Events[2].Time.Add(time.Second) // seq 3: other time
	res := mustInsert(t, s, again)
	if res.Inserted != 0 || res.Duplicates != 3 || len(res.Conflicts) != 2 {
		t.Fatalf("InsertBatches = %+v, want 3 duplicates of which 2 conflicts", res)
	}
	for i, c := range res.Conflicts {
		if c.Key != (store.EpochKey{Site: "s1", Cabin: "c1", Epoch: "e1"}) || c.Event.Seq != uint64(i+2) {
			t.Fatalf("conflict %d: %+v", i, c)
		}
	}
	// The stored event is kept.
	p, err := s.Events(context.Background(), store.EventQuery{Site: "s1", Cabin: "c1"})
	if err != nil || len(p.Events) != 3 || string(p.Events[1].Data) != `{"floor":2}` {
		t.Fatalf("events after the conflict: %+v, %v", p.Events, err)
	}
	if res := mustInsert(t, s, Batch("s1", "c1", "e1", 1)); len(res.Conflicts) != 0 {
		t.Fatalf("a plain resend reported conflicts: %+v", res.Conflicts)
	}
}

// testFacts: what events and state snapshots say of a cabin, newest by
// the time they speak for, with since when each value holds.
func testFacts(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := func(sec int) time.Time { return T0.Add(time.Duration(sec) * time.Second) }
	ev := func(seq uint64, sec int, typ string, data any) wire.Event {
		e := Event(seq, typ, data)
		e.Time = at(sec)
		return e
	}
	mustInsert(t, s, wire.Batch{V: 1, Site: "s1", Cabin: "c1", Epoch: "e1", Events: []wire.Event{
		ev(1, 10, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 2}),
		ev(2, 12, wire.TypeHealth, wire.HealthData{OutboxDepth: 40, OldestPendingAgeS: 3.5}),
		ev(3, 11, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Floor: 2}),
	}})
	// The snapshot at 20 says the alarm is still on: its since stays 10.
	if err := s.UpdateState(ctx, wire.State{V: 1, Site: "s1", Cabin: "c1", Time: at(20), Direction: "none",
		Alarm: true, Entrapment: false, InService: true, Link: "lost"}, at(20)); err != nil {
		t.Fatal(err)
	}
	// A late event from before the snapshot changes nothing.
	mustInsert(t, s, wire.Batch{V: 1, Site: "s1", Cabin: "c1", Epoch: "e1", Events: []wire.Event{
		ev(4, 15, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Floor: 2}),
	}})
	facts, err := s.Facts(ctx, "s1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.Fact{}
	for _, f := range facts {
		got[f.Name] = f
	}
	check := func(name, value string, at, since time.Time) {
		t.Helper()
		f, ok := got[name]
		if !ok || f.Value != value || !f.At.Equal(at) || !f.Since.Equal(since) {
			t.Errorf("fact %s = %+v, want %q at %s since %s", name, f, value, at.Format(time.TimeOnly), since.Format(time.TimeOnly))
		}
	}
	check(store.FactAlarm, "true", at(20), at(10))
	check(store.FactEntrapment, "false", at(20), at(20))
	check(store.FactInService, "true", at(20), at(20))
	check(store.FactLink, "lost", at(20), at(20))
	check(store.FactHeartbeat, "", at(12), at(12))
	check(store.FactOutboxDepth, "40", at(12), at(12))
	check(store.FactOldestAge, "3.5", at(12), at(12))
	all, err := s.Facts(ctx, "", "")
	if err != nil || len(all) != len(facts) {
		t.Fatalf("all facts: %d, %v; want %d", len(all), err, len(facts))
	}
	if none, err := s.Facts(ctx, "s1", "nobody"); err != nil || len(none) != 0 {
		t.Fatalf("facts of an unknown cabin: %v, %v", none, err)
	}
}
