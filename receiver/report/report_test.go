package report

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

func TestSiteReport(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var seq uint64
	ev := func(at time.Duration, typ string, data any) wire.Event {
		seq++
		e := storetest.Event(seq, typ, data)
		e.Time = day0.Add(at)
		return e
	}
	b := wire.Batch{V: 1, Site: "s", Cabin: "a", Epoch: "e", Events: []wire.Event{
		// Out of service from the start until 06:00 on day 1: inferred.
		ev(6*time.Hour, wire.TypeService, wire.ServiceData{InService: true}),
		ev(8*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 2, Direction: "up", DurationMS: 5000}),
		ev(9*time.Hour, wire.TypeTrip, wire.TripData{From: 2, To: 0, Direction: "down", DurationMS: 5000}),
		ev(9*time.Hour+time.Minute, wire.TypeDoorCycle, wire.DoorCycleData{Floor: 0, OpenMS: 4000}),
		ev(30*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 4000}),
		ev(31*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: true}),
		ev(32*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: false}),
		// Out again for the last 6 hours of day 2.
		ev(42*time.Hour, wire.TypeService, wire.ServiceData{InService: false, Reason: "maintenance"}),
		ev(50*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 4000}), // after the period
	}}
	other := storetest.Batch("t", "x", "e", 1)
	if _, err := st.InsertBatches(ctx, []wire.Batch{b, other}, time.Now()); err != nil {
		t.Fatal(err)
	}
	r, err := Site(ctx, st, "s", day0, day0.Add(48*time.Hour), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Cabins) != 1 {
		t.Fatalf("%d cabins, want only s/a", len(r.Cabins))
	}
	c := r.Cabins[0]
	if c.Trips != 3 || c.DoorCycles != 1 || c.FaultsRaised != 1 || c.FaultCodes[31] != 1 {
		t.Fatalf("counts %+v: want 3 trips, 1 door cycle, fault 31 raised once", c)
	}
	if len(c.TripsPerDay) != 2 || c.TripsPerDay[0] != (DayCount{"2026-03-01", 2}) || c.TripsPerDay[1] != (DayCount{"2026-03-02", 1}) {
		t.Fatalf("trips per day %+v", c.TripsPerDay)
	}
	if c.OutOfServiceSeconds != 12*3600 || c.Availability != 0.75 {
		t.Fatalf("out of service %v s, availability %v; want 12 h and 0.75", c.OutOfServiceSeconds, c.Availability)
	}
	if _, err := Site(ctx, st, "s", day0, day0, time.UTC); err == nil {
		t.Fatal("empty period accepted")
	}
	if _, err := Site(ctx, st, "s", day0, day0.Add(MaxPeriod+time.Hour), time.UTC); err == nil {
		t.Fatal("period above MaxPeriod accepted")
	}
}
