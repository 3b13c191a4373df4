package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/postgres"
	"github.com/palier-lifts/palier/receiver/store/postgres/pgtest"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata")

// engines runs fn against a new SQLite store and, when one is configured
// (pgtest), a new PostgreSQL store.
func engines(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(t, st)
	})
}

// day0 starts the period of every test: two days from it.
var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const period = 48 * time.Hour

// cabinLog feeds one cabin's messages to a store as the receiver would.
type cabinLog struct {
	t           *testing.T
	st          store.Store
	site, cabin string
	seq         uint64
}

// event stores one event dated day0+at, received at once.
func (c *cabinLog) event(at time.Duration, typ string, data any) {
	c.t.Helper()
	c.seq++
	e := storetest.Event(c.seq, typ, data)
	e.Time = day0.Add(at)
	b := wire.Batch{V: wire.Version, Site: c.site, Cabin: c.cabin, Epoch: "e", Events: []wire.Event{e}}
	if _, err := c.st.InsertBatches(context.Background(), []wire.Batch{b}, e.Time); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cabinLog) service(at time.Duration, in bool) {
	c.t.Helper()
	c.event(at, wire.TypeService, wire.ServiceData{InService: in, Reason: "test"})
}

// status stores the agent's status as the stream took it at day0+at.
func (c *cabinLog) status(at time.Duration, online bool) {
	c.t.Helper()
	if err := c.st.UpdateStatus(context.Background(), c.site, c.cabin, online, day0.Add(at)); err != nil {
		c.t.Fatal(err)
	}
}

// state stores a snapshot dated day0+at.
func (c *cabinLog) state(at time.Duration, inService bool, link string) {
	c.t.Helper()
	s := wire.State{V: wire.Version, Site: c.site, Cabin: c.cabin, Time: day0.Add(at), Direction: "none", Mode: "normal",
		InService: inService, Link: link}
	if err := c.st.UpdateState(context.Background(), s, day0.Add(at)); err != nil {
		c.t.Fatal(err)
	}
}

// The golden cases: each feeds one site's one cabin, and its report over
// [day0, day0+48h) is compared with testdata/<name>.json.
var goldenCases = []struct {
	name string
	feed func(c *cabinLog)
}{
	{"normal", func(c *cabinLog) {
		c.status(-48*time.Hour, true)
		c.state(-47*time.Hour, true, "ok")
		for m := time.Duration(0); m < 60; m += 20 { // the agent's online every minute, and repeated snapshots
			c.status(-46*time.Hour+m*time.Minute, true)
			c.state(-46*time.Hour+m*time.Minute, true, "ok")
		}
		c.event(8*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 2, Direction: "up", DurationMS: 5000})
		c.event(8*time.Hour+time.Minute, wire.TypeDoorCycle, wire.DoorCycleData{Floor: 2, OpenMS: 4000})
		c.event(30*time.Hour, wire.TypeTrip, wire.TripData{From: 2, To: 0, Direction: "down", DurationMS: 5000})
		c.event(31*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "self-clearing", Active: true})
		c.event(31*time.Hour+time.Minute, wire.TypeFault, wire.FaultData{Code: 31, Severity: "self-clearing", Active: false})
	}},
	{"down-all-period", func(c *cabinLog) {
		// Out of service three days before the period, never back: the
		// period holds no service event at all.
		c.status(-10*24*time.Hour, true)
		c.service(-3*24*time.Hour, false)
		c.state(-2*24*time.Hour, false, "ok")
	}},
	{"down-across-start", func(c *cabinLog) {
		c.status(-10*24*time.Hour, true)
		c.service(-10*24*time.Hour+time.Minute, true)
		c.service(-6*time.Hour, false)
		// An entrapment while out of service: counted in entrapment_s, not
		// twice in unavailable_s.
		c.event(2*time.Hour, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Floor: 1})
		c.event(3*time.Hour, wire.TypeEntrapment, wire.EntrapmentData{Active: false, Floor: 1})
		c.service(6*time.Hour, true)
	}},
	{"offline-part", func(c *cabinLog) {
		c.status(-24*time.Hour, true)
		c.state(-24*time.Hour, true, "ok")
		c.status(12*time.Hour, false) // the last will
		c.status(18*time.Hour, true)
	}},
	{"link-lost", func(c *cabinLog) {
		c.status(-24*time.Hour, true)
		c.state(-24*time.Hour, true, "ok")
		c.state(30*time.Hour, true, "lost")
		c.state(34*time.Hour, true, "ok")
		// Offline from 32 h to 36 h, overlapping the lost link: 6 h
		// unavailable in all.
		c.status(32*time.Hour, false)
		c.status(36*time.Hour, true)
	}},
	{"never-heard-from", func(c *cabinLog) {
		c.status(period+time.Hour, true) // first heard from after the period
	}},
	{"first-heard-in-period", func(c *cabinLog) {
		c.status(12*time.Hour, true)
		c.state(12*time.Hour, true, "ok")
		c.service(42*time.Hour, false)
	}},
}

func TestAvailabilityGolden(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		for _, tc := range goldenCases {
			t.Run(tc.name, func(t *testing.T) {
				tc.feed(&cabinLog{t: t, st: st, site: tc.name, cabin: "a"})
				// Now is well after the period: all of it can be monitored.
				r, err := Site(ctx, st, tc.name, day0, day0.Add(period), day0.Add(10*24*time.Hour), time.UTC)
				if err != nil {
					t.Fatal(err)
				}
				got, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				golden := filepath.Join("testdata", tc.name+".json")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to write it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("report differs from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", golden, got, want)
				}
			})
		}
	})
}

// Time after now is not monitored, and a period that ends before the
// cabin is first heard from has no availability.
func TestAvailabilityBounds(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := &cabinLog{t: t, st: st, site: "s", cabin: "a"}
		c.status(-time.Hour, true)
		c.service(12*time.Hour, false)
		r, err := Site(ctx, st, "s", day0, day0.Add(period), day0.Add(24*time.Hour), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		a := r.Cabins[0].Availability
		if a.Availability == nil || *a.Availability != 0.5 || a.MonitoredSeconds != 24*3600 || a.OutOfServiceSeconds != 12*3600 {
			t.Fatalf("with now at 24 h: %+v; want 24 h monitored, 12 h out of service, availability 0.5", a)
		}
		r, err = Site(ctx, st, "s", day0.Add(-3*time.Hour), day0.Add(-2*time.Hour), day0, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if a := r.Cabins[0].Availability; a.Availability != nil || a.MonitoredSeconds != 0 || a.Note == "" {
			t.Fatalf("before first heard from: %+v; want no availability, a note", a)
		}
	})
}

func TestSiteReport(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var seq uint64
	ev := func(at time.Duration, typ string, data any) wire.Event {
		seq++
		e := storetest.Event(seq, typ, data)
		e.Time = day0.Add(at)
		return e
	}
	b := wire.Batch{V: 1, Site: "s", Cabin: "a", Epoch: "e", Events: []wire.Event{
		// First heard from at 06:00 on day 1: not monitored before.
		ev(6*time.Hour, wire.TypeService, wire.ServiceData{InService: true}),
		ev(8*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 2, Direction: "up", DurationMS: 5000}),
		ev(9*time.Hour, wire.TypeTrip, wire.TripData{From: 2, To: 0, Direction: "down", DurationMS: 5000}),
		ev(9*time.Hour+time.Minute, wire.TypeDoorCycle, wire.DoorCycleData{Floor: 0, OpenMS: 4000}),
		ev(30*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 4000}),
		ev(31*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: true}),
		ev(32*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: false}),
		// Out for the last 6 hours of day 2.
		ev(42*time.Hour, wire.TypeService, wire.ServiceData{InService: false, Reason: "maintenance"}),
		ev(50*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 4000}), // after the period
	}}
	other := storetest.Batch("t", "x", "e", 1)
	if _, err := st.InsertBatches(ctx, []wire.Batch{b, other}, day0.Add(period)); err != nil {
		t.Fatal(err)
	}
	r, err := Site(ctx, st, "s", day0, day0.Add(period), day0.Add(period), time.UTC)
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
	if c.MonitoredSeconds != 42*3600 || c.OutOfServiceSeconds != 6*3600 || c.UnavailableSeconds != 6*3600 ||
		c.Availability.Availability == nil || math.Abs(*c.Availability.Availability-36.0/42) > 1e-12 {
		t.Fatalf("availability %+v; want 42 h monitored, 6 h out of service, 1-6/42", c.Availability)
	}
	if _, err := Site(ctx, st, "s", day0, day0, day0, time.UTC); err == nil {
		t.Fatal("empty period accepted")
	}
	if _, err := Site(ctx, st, "s", day0, day0.Add(MaxPeriod+time.Hour), day0, time.UTC); err == nil {
		t.Fatal("period above MaxPeriod accepted")
	}
}
