package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Opener returns a new, empty store; the suite and the benchmark close it.
type Opener func(tb testing.TB) store.Store

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"DuplicatesDroppedByKey", testDuplicates},
		{"ContiguousOutOfOrder", testContiguous},
		{"ContiguousPerEpoch", testContiguousPerEpoch},
		{"CabinFromEvents", testCabinFromEvents},
		{"FutureEventsStoredNotTrusted", testFutureEvents},
		{"StateAndStatus", testStateAndStatus},
		{"EventsPagination", testEventsPagination},
		{"EventsFilters", testEventsFilters},
		{"RecentAcks", testRecentAcks},
		{"NoticeSetVersions", testNoticeSets},
		{"ConcurrentWritersOnce", testConcurrent},
		{"OrderContiguous", testOrderContiguous},
		{"OrderRecentAcks", testOrderRecentAcks},
		{"OrderCabins", testOrderCabins},
		{"OrderEvents", testOrderEvents},
		{"OrderNoticeSets", testOrderNoticeSets},
		{"LostMovesContiguous", testLostMovesContiguous},
		{"LostLaterFillsGap", testLostLaterFillsGap},
		{"AccountLost", testAccountLost},
		{"StoredAbove", testStoredAbove},
		{"Conflicts", testConflicts},
		{"Facts", testFacts},
		{"AlarmLifecycle", testAlarmLifecycle},
		{"AlarmsRaised", testAlarmsRaised},
		{"Timeline", testTimeline},
		{"DesiredConfigs", testDesiredConfigs},
		{"RolloutWaves", testRolloutWaves},
		{"Accounts", testAccounts},
		{"Audit", testAudit},
		{"NoticePlays", testNoticePlays},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// T0 is the base time of the suite's events.
var T0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// Event makes a valid event of sequence seq at T0 + seq seconds.
func Event(seq uint64, typ string, data any) wire.Event {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return wire.Event{Seq: seq, Time: T0.Add(time.Duration(seq) * time.Second), Type: typ, Data: raw}
}

// Batch makes a valid batch of arrival events with the given sequences.
func Batch(site, cabin, epoch string, seqs ...uint64) wire.Batch {
	b := wire.Batch{V: wire.Version, Site: site, Cabin: cabin, Epoch: epoch}
	for _, s := range seqs {
		b.Events = append(b.Events, Event(s, wire.TypeArrival, wire.ArrivalData{Floor: int(s % 10)}))
	}
	return b
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func mustInsert(t *testing.T, s store.Store, bs ...wire.Batch) store.InsertResult {
	t.Helper()
	res, err := s.InsertBatches(context.Background(), bs, time.Now())
	if err != nil {
		t.Fatalf("InsertBatches: %v", err)
	}
	return res
}

func contig(res store.InsertResult, site, cabin, epoch string) (store.Contiguous, bool) {
	for _, c := range res.Contiguous {
		if c.Site == site && c.Cabin == cabin && c.Epoch == epoch {
			return c, true
		}
	}
	return store.Contiguous{}, false
}

func countEvents(t *testing.T, s store.Store, site, cabin string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		p, err := s.Events(context.Background(), store.EventQuery{Site: site, Cabin: cabin, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		n += len(p.Events)
		if p.Next == "" {
			return n
		}
		cursor = p.Next
	}
}

func testDuplicates(t *testing.T, s store.Store) {
	res := mustInsert(t, s, Batch("s1", "c1", "e1", 1, 2, 3), Batch("s1", "c1", "e1", 2, 3, 4))
	if res.Inserted != 4 || res.Duplicates != 2 {
		t.Fatalf("first insert: inserted %d duplicates %d, want 4 and 2", res.Inserted, res.Duplicates)
	}
	res = mustInsert(t, s, Batch("s1", "c1", "e1", 1, 2, 3, 4))
	if res.Inserted != 0 || res.Duplicates != 4 {
		t.Fatalf("redelivery: inserted %d duplicates %d, want 0 and 4", res.Inserted, res.Duplicates)
	}
	// Same sequences in another epoch or cabin are other events.
	res = mustInsert(t, s, Batch("s1", "c1", "e2", 1), Batch("s1", "c2", "e1", 1))
	if res.Inserted != 2 {
		t.Fatalf("other epoch and cabin: inserted %d, want 2", res.Inserted)
	}
	if n := countEvents(t, s, "s1", "c1"); n != 5 {
		t.Fatalf("s1/c1 holds %d events, want 5", n)
	}
	c, err := s.Cabin(context.Background(), "s1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Events != 5 {
		t.Fatalf("cabin events count %d, want 5 (duplicates must not count)", c.Events)
	}
}

func testContiguous(t *testing.T, s store.Store) {
	res := mustInsert(t, s, Batch("s", "c", "e", 3, 5))
	if c, _ := contig(res, "s", "c", "e"); c.Seq != 0 || c.Advanced {
		t.Fatalf("without seq 1: contiguous %+v, want 0 not advanced", c)
	}
	res = mustInsert(t, s, Batch("s", "c", "e", 2, 1))
	if c, _ := contig(res, "s", "c", "e"); c.Seq != 3 || !c.Advanced {
		t.Fatalf("after 1,2: contiguous %+v, want 3 advanced", c)
	}
	res = mustInsert(t, s, Batch("s", "c", "e", 2))
	if c, _ := contig(res, "s", "c", "e"); c.Seq != 3 || c.Advanced {
		t.Fatalf("duplicate: contiguous %+v, want 3 not advanced", c)
	}
	res = mustInsert(t, s, Batch("s", "c", "e", 4))
	if c, _ := contig(res, "s", "c", "e"); c.Seq != 5 || !c.Advanced {
		t.Fatalf("after 4: contiguous %+v, want 5 advanced", c)
	}
}

func testContiguousPerEpoch(t *testing.T, s store.Store) {
	res := mustInsert(t, s, Batch("s", "c", "old", seqs(1, 10)...), Batch("s", "c", "new", 1, 2, 4))
	if len(res.Contiguous) != 2 {
		t.Fatalf("%d contiguous results, want one per epoch (2)", len(res.Contiguous))
	}
	if c, _ := contig(res, "s", "c", "old"); c.Seq != 10 {
		t.Fatalf("old epoch contiguous %d, want 10", c.Seq)
	}
	if c, _ := contig(res, "s", "c", "new"); c.Seq != 2 {
		t.Fatalf("new epoch contiguous %d, want 2", c.Seq)
	}
}

func testCabinFromEvents(t *testing.T, s store.Store) {
	b := wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{
		Event(5, wire.TypeArrival, wire.ArrivalData{Floor: 5}),
		Event(2, wire.TypeArrival, wire.ArrivalData{Floor: 2}), // older, drained later
		Event(3, wire.TypeModeChange, wire.ModeChangeData{From: "normal", To: "inspection"}),
		Event(4, wire.TypeHeartbeat, wire.HeartbeatData{Counters: wire.Counters{Trips: 42, DoorCycles: 7}}),
	}}
	mustInsert(t, s, b)
	c, err := s.Cabin(context.Background(), "s", "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Floor == nil || *c.Floor != 5 {
		t.Fatalf("floor %v, want 5 (newest arrival by event time)", c.Floor)
	}
	if c.Mode != "inspection" || c.Counters.Trips != 42 || c.Counters.DoorCycles != 7 || c.Events != 4 {
		t.Fatalf("cabin %+v: want mode inspection, 42 trips, 7 door cycles, 4 events", c)
	}
	// An older arrival delivered later must not move the floor back.
	mustInsert(t, s, wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{Event(1, wire.TypeArrival, wire.ArrivalData{Floor: 1})}})
	c, _ = s.Cabin(context.Background(), "s", "c")
	if c.Floor == nil || *c.Floor != 5 || c.Events != 5 {
		t.Fatalf("after late old arrival: floor %v events %d, want 5 and 5", c.Floor, c.Events)
	}
	if _, err := s.Cabin(context.Background(), "s", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown cabin: %v, want ErrNotFound", err)
	}
	// The agent's version comes from its newest health event.
	mustInsert(t, s, wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{
		Event(7, wire.TypeHealth, wire.HealthData{AgentVersion: "v1.5.0"}),
		Event(6, wire.TypeHealth, wire.HealthData{AgentVersion: "v1.4.0"}),
	}})
	mustInsert(t, s, wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{
		Event(8, wire.TypeHealth, wire.HealthData{}), // a version-less agent's says nothing
	}})
	if c, _ = s.Cabin(context.Background(), "s", "c"); c.AgentVersion != "v1.5.0" {
		t.Fatalf("agent version %q, want v1.5.0 from the newest health event", c.AgentVersion)
	}
}

// testFutureEvents: an event dated far after its arrival (9999-12-31) is
// stored, but does not become the cabin's state: before, it fixed the
// cabin's floor and mode in the API for good (issue 20).
func testFutureEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	received := T0.Add(time.Hour)
	future := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	b := wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{
		Event(1, wire.TypeArrival, wire.ArrivalData{Floor: 3}),
		{Seq: 2, Time: future, Type: wire.TypeArrival, Data: []byte(`{"floor":9}`)},
		{Seq: 3, Time: future, Type: wire.TypeModeChange, Data: []byte(`{"from":"normal","to":"fire_service"}`)},
		{Seq: 4, Time: received.Add(store.MaxClockSkew / 2), Type: wire.TypeHeartbeat, Data: []byte(`{"counters":{"trips":5}}`)},
	}}
	if _, err := s.InsertBatches(ctx, []wire.Batch{b}, received); err != nil {
		t.Fatal(err)
	}
	c, err := s.Cabin(ctx, "s", "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Floor == nil || *c.Floor != 3 || c.Mode == "fire_service" || c.Events != 4 {
		t.Fatalf("cabin %+v: want floor 3 and the mode untouched by events dated 9999, all 4 events stored", c)
	}
	if c.Counters.Trips != 5 {
		t.Fatalf("counters %+v: an event within the clock skew counts", c.Counters)
	}
	// The cabin's state moves on with the next true events.
	next := wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{
		{Seq: 5, Time: received.Add(time.Minute), Type: wire.TypeArrival, Data: []byte(`{"floor":4}`)},
	}}
	if _, err := s.InsertBatches(ctx, []wire.Batch{next}, received.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c, _ = s.Cabin(ctx, "s", "c"); c.Floor == nil || *c.Floor != 4 {
		t.Fatalf("floor %v after a true arrival, want 4: the future event pinned it", c.Floor)
	}
}

func testStateAndStatus(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	st := wire.State{V: 1, Site: "s", Cabin: "c", Time: T0.Add(time.Hour), Floor: 7, Direction: "none", Mode: "normal",
		Faults: []int{12, 40}, Alarm: true, Counters: wire.Counters{Trips: 100}}
	if err := s.UpdateState(ctx, st, now); err != nil {
		t.Fatal(err)
	}
	older := st
	older.Time, older.Floor, older.Faults = T0, 1, nil
	if err := s.UpdateState(ctx, older, now); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateStatus(ctx, "s", "c", true, now); err != nil {
		t.Fatal(err)
	}
	c, err := s.Cabin(ctx, "s", "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Floor == nil || *c.Floor != 7 || len(c.Faults) != 2 || c.Faults[1] != 40 || !c.Alarm || !c.Online || c.Counters.Trips != 100 {
		t.Fatalf("cabin %+v: want floor 7, faults [12 40], alarm, online, 100 trips (older snapshot ignored)", c)
	}
	if c.LastSeen.IsZero() {
		t.Fatal("last_seen not set")
	}
	if err := s.UpdateStatus(ctx, "s", "c", false, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateStatus(ctx, "s", "c", true, now.Add(-time.Second)); err != nil { // late, older
		t.Fatal(err)
	}
	c, _ = s.Cabin(ctx, "s", "c")
	if c.Online {
		t.Fatal("online after offline status (the older online came late and must be ignored)")
	}
	all, err := s.Cabins(ctx)
	if err != nil || len(all) != 1 || all[0].Cabin != "c" {
		t.Fatalf("Cabins = %+v, %v; want the one cabin", all, err)
	}
}

func testEventsPagination(t *testing.T, s store.Store) {
	// 25 events, several sharing one time, to check the cursor's tie-break.
	b := Batch("s", "c", "e", seqs(1, 25)...)
	for i := range b.Events {
		b.Events[i].Time = T0.Add(time.Duration(i/5) * time.Minute)
	}
	mustInsert(t, s, b)
	got := map[uint64]int{}
	cursor, pages := "", 0
	var prev time.Time
	for {
		p, err := s.Events(context.Background(), store.EventQuery{Site: "s", Cabin: "c", Cursor: cursor, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range p.Events {
			got[e.Seq]++
			if e.Time.Before(prev) {
				t.Fatalf("event %d at %v after one at %v: not ordered by time", e.Seq, e.Time, prev)
			}
			prev = e.Time
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(got) != 25 || pages != 4 {
		t.Fatalf("%d distinct events in %d pages, want 25 in 4", len(got), pages)
	}
	for seq, n := range got {
		if n != 1 {
			t.Fatalf("event %d returned %d times", seq, n)
		}
	}
	if _, err := s.Events(context.Background(), store.EventQuery{Site: "s", Cabin: "c", Cursor: "!!"}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v, want ErrBadCursor", err)
	}
}

func testEventsFilters(t *testing.T, s store.Store) {
	b := wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e"}
	for i := uint64(1); i <= 20; i++ {
		if i%2 == 0 {
			b.Events = append(b.Events, Event(i, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 1000}))
		} else {
			b.Events = append(b.Events, Event(i, wire.TypeArrival, wire.ArrivalData{Floor: 1}))
		}
	}
	mustInsert(t, s, b)
	p, err := s.Events(context.Background(), store.EventQuery{Site: "s", Cabin: "c", Type: wire.TypeTrip,
		Since: T0.Add(5 * time.Second), Until: T0.Add(15 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	// trips at 6, 8, 10, 12, 14 seconds.
	if len(p.Events) != 5 || p.Events[0].Seq != 6 || p.Events[4].Seq != 14 || p.Next != "" {
		t.Fatalf("filtered page: %d events, first %v; want trips 6..14", len(p.Events), p.Events)
	}
	if string(p.Events[0].Data) == "" || p.Events[0].Type != wire.TypeTrip {
		t.Fatalf("event data not returned: %+v", p.Events[0])
	}
	p, err = s.Events(context.Background(), store.EventQuery{Site: "s", Cabin: "other"})
	if err != nil || len(p.Events) != 0 || p.Events == nil {
		t.Fatalf("unknown cabin: %+v, %v; want an empty, non-nil page", p, err)
	}
}

func testRecentAcks(t *testing.T, s store.Store) {
	old := time.Now().Add(-time.Hour)
	if _, err := s.InsertBatches(context.Background(), []wire.Batch{Batch("s", "old", "e", 1, 2)}, old); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, Batch("s", "new", "e", 1, 2, 3), Batch("s", "gap", "e", 2))
	acks, err := s.RecentAcks(context.Background(), time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// The gap's epoch too, at 0: its ack carries the ranges stored above
	// the gap, and a lost one must be repaired like any other.
	if len(acks) != 2 || acks[0].Cabin != "gap" || acks[0].Seq != 0 || acks[1].Cabin != "new" || acks[1].Seq != 3 {
		t.Fatalf("recent acks %+v, want s/gap at 0 and s/new at 3 (old is not recent)", acks)
	}
}

func testNoticeSets(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.NoticeSet(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty: %v, want ErrNotFound", err)
	}
	n := wire.Notice{ID: "n1", Category: "water", Priority: "normal", Title: wire.Text{FR: "Eau"}, Body: wire.Text{FR: "Coupure"}, ValidFrom: T0}
	set := wire.NoticeSet{V: 1, Site: "s", Version: 1, Notices: []wire.Notice{n}}
	if err := s.PutNoticeSet(ctx, set); err != nil {
		t.Fatal(err)
	}
	if err := s.PutNoticeSet(ctx, set); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("second version 1: %v, want ErrVersionConflict", err)
	}
	set.Version = 3
	if err := s.PutNoticeSet(ctx, set); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("version 3 over 1: %v, want ErrVersionConflict", err)
	}
	set.Version = 2
	set.Notices = nil
	if err := s.PutNoticeSet(ctx, set); err != nil {
		t.Fatal(err)
	}
	got, err := s.NoticeSet(ctx, "s")
	if err != nil || got.Version != 2 || len(got.Notices) != 0 {
		t.Fatalf("stored set %+v, %v; want version 2, no notices", got, err)
	}
	other := wire.NoticeSet{V: 1, Site: "a", Version: 1, Notices: []wire.Notice{n}}
	if err := s.PutNoticeSet(ctx, other); err != nil {
		t.Fatal(err)
	}
	all, err := s.NoticeSets(ctx)
	if err != nil || len(all) != 2 || all[0].Site != "a" || all[1].Site != "s" || all[1].Version != 2 || all[0].Notices[0].Title.FR != "Eau" {
		t.Fatalf("NoticeSets = %+v, %v; want a v1 then s v2", all, err)
	}
	// A schedule is kept as sent, and a notice without one stays without.
	until := T0.Add(14 * 24 * time.Hour)
	sched := wire.Notice{ID: "n2", Category: "cleaning", Priority: "low", Title: wire.Text{FR: "Hall"}, Body: wire.Text{FR: "Sol mouillé"}, ValidFrom: T0, ValidUntil: &until,
		Schedule: &wire.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: []wire.Window{{From: "08:00", To: "10:00"}, {From: "22:00", To: "24:00"}}}}
	set = wire.NoticeSet{V: 1, Site: "s", Version: 3, Notices: []wire.Notice{n, sched}}
	if err := s.PutNoticeSet(ctx, set); err != nil {
		t.Fatal(err)
	}
	got, err = s.NoticeSet(ctx, "s")
	if err != nil || len(got.Notices) != 2 || got.Notices[0].Schedule != nil || !reflect.DeepEqual(got.Notices[1].Schedule, sched.Schedule) {
		t.Fatalf("stored set with a schedule came back as %+v, %v", got, err)
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	// Four writers deliver overlapping, shuffled ranges of the same epoch.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				from := uint64((i*7+w*13)%40) + 1
				b := Batch("s", "c", "e", seqs(from, from+20)...)
				if _, err := s.InsertBatches(context.Background(), []wire.Batch{b}, time.Now()); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustInsert(t, s, Batch("s", "c", "e", seqs(1, 60)...))
	if n := countEvents(t, s, "s", "c"); n != 60 {
		t.Fatalf("%d events stored, want 60", n)
	}
	c, _ := s.Cabin(context.Background(), "s", "c")
	if c.Events != 60 {
		t.Fatalf("events count %d, want 60", c.Events)
	}
	acks, _ := s.RecentAcks(context.Background(), time.Time{})
	if len(acks) != 1 || acks[0].Seq != 60 {
		t.Fatalf("acks %+v, want contiguous 60", acks)
	}
}
