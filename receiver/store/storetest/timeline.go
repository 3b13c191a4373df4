package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// timelineString writes entries as "name=value@second" (seconds after
// T0), in their order, for comparisons that show the whole timeline.
func timelineString(es []store.TimelineEntry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%s=%s@%d", e.Name, e.Value, e.At.Sub(T0)/time.Second))
	}
	return strings.Join(parts, " ")
}

// testTimeline: every transition of in_service, entrapment, alarm, link
// and presence, from events, snapshots and status messages, in any arrival
// order, each stored once, never a repetition.
func testTimeline(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := func(sec int) time.Time { return T0.Add(time.Duration(sec) * time.Second) }
	ev := func(seq uint64, sec int, typ string, data any) wire.Event {
		e := Event(seq, typ, data)
		e.Time = at(sec)
		return e
	}
	service := func(seq uint64, sec int, in bool) wire.Event {
		return ev(seq, sec, wire.TypeService, wire.ServiceData{InService: in})
	}
	state := func(sec int, inService bool, link string) {
		t.Helper()
		if err := s.UpdateState(ctx, wire.State{V: 1, Site: "s", Cabin: "c", Time: at(sec), Direction: "none",
			InService: inService, Link: link}, at(sec)); err != nil {
			t.Fatal(err)
		}
	}
	status := func(sec int, online bool) {
		t.Helper()
		if err := s.UpdateStatus(ctx, "s", "c", online, at(sec)); err != nil {
			t.Fatal(err)
		}
	}
	all := func() string {
		t.Helper()
		es, err := s.Timeline(ctx, "s", "c", at(-3600), at(3600))
		if err != nil {
			t.Fatal(err)
		}
		return timelineString(es)
	}

	mustInsert(t, s, wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{
		service(1, 100, false),
		service(2, 200, true),
		ev(3, 110, wire.TypeEntrapment, wire.EntrapmentData{Active: true}),
		ev(4, 120, wire.TypeEntrapment, wire.EntrapmentData{Active: false}),
		ev(5, 130, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up"}), // not in a timeline
	}})
	// A snapshot in the outage repeats what the events said: nothing new
	// for in_service; its alarm, entrapment and link are their first values.
	state(150, false, "ok")
	// The agent says online every minute: one row.
	for sec := 10; sec < 600; sec += 60 {
		status(sec, true)
	}
	want := "presence=online@10 in_service=false@100 entrapment=true@110 entrapment=false@120 alarm=false@150 link=ok@150 in_service=true@200"
	if got := all(); got != want {
		t.Fatalf("timeline\n got %s\nwant %s", got, want)
	}

	// A backlog brings an older out of service: it goes in its place, and
	// the change at 100 is no longer one.
	mustInsert(t, s, wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{service(6, 50, false)}})
	// A second receiver records the same transition again (another
	// epoch, the same time and value), and the same snapshot.
	mustInsert(t, s, wire.Batch{V: 1, Site: "s", Cabin: "c", Epoch: "e2", Events: []wire.Event{service(1, 200, true)}})
	state(150, false, "ok")
	// The controller link is lost, then back; the agent goes offline.
	state(300, true, "lost")
	state(360, true, "ok")
	status(700, false)
	status(700, false) // redelivered
	// An event from beyond the clock skew speaks for nothing.
	if _, err := s.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{
		ev(7, 3600, wire.TypeService, wire.ServiceData{InService: false}),
	}}}, at(0)); err != nil {
		t.Fatal(err)
	}
	// Timeline reads stop before an hour; check the far one is absent too.
	far, err := s.Timeline(ctx, "s", "c", at(3000), at(5*3600))
	if err != nil {
		t.Fatal(err)
	}
	if got := timelineString(far); strings.Contains(got, "@3600") {
		t.Fatalf("an event from beyond the clock skew is in the timeline: %s", got)
	}
	want = "presence=online@10 in_service=false@50 entrapment=true@110 entrapment=false@120 alarm=false@150 link=ok@150 " +
		"in_service=true@200 link=lost@300 link=ok@360 presence=offline@700"
	if got := all(); got != want {
		t.Fatalf("after a backlog, duplicates and changes, timeline\n got %s\nwant %s", got, want)
	}

	// A period: the last row of each name before it (the out of service
	// at 100, a change when it came, is the last row before 200), then its
	// own rows.
	es, err := s.Timeline(ctx, "s", "c", at(200), at(700))
	if err != nil {
		t.Fatal(err)
	}
	want = "presence=online@10 in_service=false@100 entrapment=false@120 alarm=false@150 link=ok@150 in_service=true@200 link=lost@300 link=ok@360"
	if got := timelineString(es); got != want {
		t.Fatalf("timeline over [200, 700)\n got %s\nwant %s", got, want)
	}
	for _, e := range es {
		if e.Site != "s" || e.Cabin != "c" || e.At.Location() != time.UTC {
			t.Fatalf("entry %+v: want site s, cabin c, time in UTC", e)
		}
	}

	// Events arriving in any order end in the timeline of their times: a
	// return to service at 20 that arrives last must not hide the out of
	// service at 30 that came before it.
	steps := []func(st store.Store, cabin string){
		func(st store.Store, cabin string) {
			mustInsert(t, st, wire.Batch{V: 1, Site: "o", Cabin: cabin, Epoch: "e", Events: []wire.Event{service(1, 10, false)}})
		},
		func(st store.Store, cabin string) {
			mustInsert(t, st, wire.Batch{V: 1, Site: "o", Cabin: cabin, Epoch: "e", Events: []wire.Event{service(2, 20, true)}})
		},
		func(st store.Store, cabin string) {
			mustInsert(t, st, wire.Batch{V: 1, Site: "o", Cabin: cabin, Epoch: "e", Events: []wire.Event{service(3, 30, false)}})
		},
		func(st store.Store, cabin string) {
			mustInsert(t, st, wire.Batch{V: 1, Site: "o", Cabin: cabin, Epoch: "e", Events: []wire.Event{service(5, 5, true)}})
		},
	}
	want = "in_service=true@5 in_service=false@10 in_service=true@20 in_service=false@30"
	for i, order := range permutations(len(steps)) {
		cabin := fmt.Sprintf("p%d", i)
		for _, k := range order {
			steps[k](s, cabin)
		}
		es, err := s.Timeline(ctx, "o", cabin, at(0), at(100))
		if err != nil {
			t.Fatal(err)
		}
		if got := timelineString(es); got != want {
			t.Fatalf("arrival order %v\n got %s\nwant %s", order, got, want)
		}
	}

	// A snapshot stored before the event of the same change: the change
	// reads once, at the event's time.
	if err := s.UpdateState(ctx, wire.State{V: 1, Site: "o", Cabin: "snap", Time: at(12), Direction: "none"}, at(12)); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, wire.Batch{V: 1, Site: "o", Cabin: "snap", Epoch: "e", Events: []wire.Event{service(1, 10, false), service(2, 5, true)}})
	es, err = s.Timeline(ctx, "o", "snap", at(0), at(100))
	if err != nil {
		t.Fatal(err)
	}
	want = "in_service=true@5 in_service=false@10 alarm=false@12 entrapment=false@12"
	if got := timelineString(es); got != want {
		t.Fatalf("snapshot before its event\n got %s\nwant %s", got, want)
	}

	if none, err := s.Timeline(ctx, "s", "nobody", at(0), at(100)); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("timeline of an unknown cabin: %#v, %v; want an empty list", none, err)
	}
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := slices.Insert(slices.Clone(p), i, n-1)
			out = append(out, q)
		}
	}
	return out
}
