package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// testAlarmLifecycle follows one alarm from the button to its closing,
// with every event delivered twice (as a lost ack makes the agent resend),
// and an entrapment beside it.
func testAlarmLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	received := T0.Add(time.Hour)
	batch := func(epoch string, events ...wire.Event) wire.Batch {
		return wire.Batch{V: wire.Version, Site: "les-pins", Cabin: "a", Epoch: epoch, Events: events}
	}
	insert := func(b wire.Batch) {
		t.Helper()
		for range 2 {
			if _, err := s.InsertBatches(ctx, []wire.Batch{b}, received); err != nil {
				t.Fatalf("InsertBatches: %v", err)
			}
		}
	}
	alarms := func(open bool) []store.Alarm {
		t.Helper()
		got, err := s.Alarms(ctx, "les-pins", "a", open, 100)
		if err != nil {
			t.Fatalf("Alarms: %v", err)
		}
		return got
	}
	one := func(step, state string) store.Alarm {
		t.Helper()
		got := alarms(false)
		if len(got) != 1 || got[0].State() != state {
			t.Fatalf("%s: alarms %+v, want one %s", step, got, state)
		}
		return got[0]
	}

	if _, err := s.AcknowledgeAlarms(ctx, "les-pins", "a", "Chiara", "", received); !errors.Is(err, store.ErrNoOpenAlarm) {
		t.Fatalf("acknowledging a cabin without alarms: %v, want ErrNoOpenAlarm", err)
	}
	insert(batch("e1", Event(4, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 2})))
	a := one("raised", store.AlarmDelivered)
	if a.Raise != (wire.AlarmRef{Epoch: "e1", Seq: 4}) || a.Kind != store.AlarmKindAlarm || !a.Raised.Equal(T0.Add(4*time.Second)) || !a.Delivered.Equal(received) {
		t.Fatalf("raised alarm %+v", a)
	}
	if id, err := store.ParseAlarmID(a.ID()); err != nil || id != a.Raise {
		t.Fatalf("ParseAlarmID(%q) = %v, %v", a.ID(), id, err)
	}

	// The agent restarted and raised it again under a new epoch: the same
	// alarm goes on, and an acknowledgement must name both events.
	again := Event(1, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 2})
	again.Time = T0.Add(4500 * time.Millisecond) // a new epoch starts its sequences again
	insert(batch("e2", again))
	a = one("raised again", store.AlarmDelivered)
	if a.Last != (wire.AlarmRef{Epoch: "e2", Seq: 1}) || len(a.Refs()) != 2 {
		t.Fatalf("raised again: %+v", a)
	}
	insert(batch("e2", Event(2, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Reason: "stopped between floors", Floor: 2})))
	if got := alarms(true); len(got) != 2 {
		t.Fatalf("open alarms %+v, want the alarm and the entrapment", got)
	}

	ackAt := T0.Add(2 * time.Hour)
	acked, err := s.AcknowledgeAlarms(ctx, "les-pins", "a", "Chiara", "technician in 15 min", ackAt)
	if err != nil || len(acked) != 2 {
		t.Fatalf("AcknowledgeAlarms: %+v, %v; want both open alarms", acked, err)
	}
	for _, x := range acked {
		if x.State() != store.AlarmAcknowledged || x.AckedBy != "Chiara" || x.AckMessage != "technician in 15 min" || !x.Acked.Equal(ackAt) {
			t.Fatalf("acknowledged %+v", x)
		}
	}
	// The cabin says it shows it, naming the newest raising event.
	insert(batch("e2", Event(3, wire.TypeAlarmAcknowledged, wire.AlarmAcknowledgedData{Epoch: "e2", Seq: 1, By: "Chiara", At: ackAt})))
	for _, x := range alarms(true) {
		if (x.Kind == store.AlarmKindAlarm) == x.Shown.IsZero() {
			t.Fatalf("shown: %+v (only the alarm the cabin named is shown)", x)
		}
	}

	// Cleared at the cabin: closed; the entrapment stays open.
	insert(batch("e2", Event(5, wire.TypeAlarm, wire.AlarmData{Active: false, Floor: 2})))
	open := alarms(true)
	if len(open) != 1 || open[0].Kind != store.AlarmKindEntrapment {
		t.Fatalf("open after the clear: %+v", open)
	}
	for _, x := range alarms(false) {
		if x.Kind == store.AlarmKindAlarm && (x.ClosedBy != store.AlarmClosedByCabin || !x.Closed.Equal(T0.Add(5*time.Second))) {
			t.Fatalf("closed by the cabin: %+v", x)
		}
	}
	// An operator closes the entrapment with a reason; twice is refused.
	ent := open[0]
	closed, err := s.CloseAlarm(ctx, "les-pins", "a", ent.Raise, "Chiara", "passengers out, lift checked", ackAt.Add(time.Hour))
	if err != nil || closed.State() != store.AlarmClosed || closed.ClosedBy != "Chiara" || closed.CloseReason != "passengers out, lift checked" {
		t.Fatalf("CloseAlarm: %+v, %v", closed, err)
	}
	if _, err := s.CloseAlarm(ctx, "les-pins", "a", ent.Raise, "Marc", "again", ackAt.Add(2*time.Hour)); !errors.Is(err, store.ErrAlarmClosed) {
		t.Fatalf("closing twice: %v, want ErrAlarmClosed", err)
	}
	if _, err := s.CloseAlarm(ctx, "les-pins", "a", wire.AlarmRef{Epoch: "e9", Seq: 9}, "Marc", "x", ackAt); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("closing an unknown alarm: %v, want ErrNotFound", err)
	}
	if got := alarms(true); len(got) != 0 {
		t.Fatalf("open alarms at the end: %+v", got)
	}
	// A new press is a new alarm, never the old acknowledged one.
	insert(batch("e2", Event(9, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 0})))
	got := alarms(false)
	if len(got) != 3 || got[0].Raise != (wire.AlarmRef{Epoch: "e2", Seq: 9}) || got[0].State() != store.AlarmDelivered {
		t.Fatalf("after a new press (newest first): %+v", got)
	}
	if fleet, err := s.Alarms(ctx, "", "", true, 10); err != nil || len(fleet) != 1 {
		t.Fatalf("the fleet's open alarms: %+v, %v", fleet, err)
	}
}

// testAlarmsRaised fills a cabin with more alarms than a page holds in
// the months around one, and checks that a period's alarms come complete,
// oldest first, with the bounds half-open and another cabin left out.
func testAlarmsRaised(t *testing.T, s store.Store) {
	ctx := context.Background()
	received := T0.Add(90 * 24 * time.Hour)
	var events []wire.Event
	seq := uint64(0)
	raise := func(at time.Time, typ string) {
		seq++
		e := Event(seq, typ, wire.AlarmData{Active: true})
		if typ == wire.TypeEntrapment {
			e = Event(seq, typ, wire.EntrapmentData{Active: true, Reason: "stopped between floors"})
		}
		e.Time = at
		seq++
		end := Event(seq, typ, wire.AlarmData{Active: false})
		if typ == wire.TypeEntrapment {
			end = Event(seq, typ, wire.EntrapmentData{Active: false})
		}
		end.Time = at.Add(time.Second)
		events = append(events, e, end)
	}
	march := T0 // 2026-03-01 08:00
	april := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := range store.MaxLimit + 50 { // February: more than a page
		raise(feb.Add(time.Duration(i)*time.Minute), wire.TypeAlarm)
	}
	raise(time.Date(2026, 2, 28, 23, 59, 59, 999_000_000, time.UTC), wire.TypeAlarm) // the last instant before March
	raise(march.Add(2*time.Hour), wire.TypeEntrapment)
	raise(march, wire.TypeAlarm)
	raise(march.Add(20*24*time.Hour), wire.TypeAlarm)
	raise(april, wire.TypeAlarm) // April's first instant is not March's
	for i := range store.MaxLimit + 50 {
		raise(april.Add(time.Duration(i+1)*time.Minute), wire.TypeAlarm)
	}
	for len(events) > 0 {
		n := min(len(events), wire.MaxBatchEvents)
		b := wire.Batch{V: wire.Version, Site: "les-pins", Cabin: "a", Epoch: "e1", Events: events[:n]}
		if _, err := s.InsertBatches(ctx, []wire.Batch{b}, received); err != nil {
			t.Fatalf("InsertBatches: %v", err)
		}
		other := b
		other.Cabin = "b"
		if _, err := s.InsertBatches(ctx, []wire.Batch{other}, received); err != nil {
			t.Fatalf("InsertBatches: %v", err)
		}
		events = events[n:]
	}
	if all, err := s.Alarms(ctx, "les-pins", "a", false, store.MaxLimit); err != nil || len(all) != store.MaxLimit || all[len(all)-1].Raised.Before(april) {
		t.Fatalf("the newest page of Alarms holds %d, oldest %v (%v): want a full page of April's, none of March's", len(all), all[len(all)-1].Raised, err)
	}
	got, err := s.AlarmsRaised(ctx, "les-pins", "a", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), april, store.MaxLimit)
	if err != nil {
		t.Fatalf("AlarmsRaised: %v", err)
	}
	want := []time.Time{march, march.Add(2 * time.Hour), march.Add(20 * 24 * time.Hour)}
	if len(got) != len(want) {
		t.Fatalf("March's alarms: %d %+v, want %d", len(got), got, len(want))
	}
	for i, a := range got {
		if !a.Raised.Equal(want[i]) || a.Site != "les-pins" || a.Cabin != "a" || a.Closed.IsZero() {
			t.Errorf("alarm %d: %s/%s raised %v closed %v, want les-pins/a raised %v and closed", i, a.Site, a.Cabin, a.Raised, a.Closed, want[i])
		}
	}
	if got[1].Kind != store.AlarmKindEntrapment || got[0].Kind != store.AlarmKindAlarm {
		t.Errorf("kinds %s, %s: want the alarm then the entrapment", got[0].Kind, got[1].Kind)
	}
	if got, err := s.AlarmsRaised(ctx, "les-pins", "a", feb, march.Add(-8*time.Hour), 10); err != nil || len(got) != 10 || !got[0].Raised.Equal(feb) {
		t.Fatalf("February's first 10: %d, %v; want 10 from %v, oldest first", len(got), err, feb)
	}
	if got, err := s.AlarmsRaised(ctx, "les-pins", "z", feb, april, 10); err != nil || len(got) != 0 {
		t.Fatalf("a cabin without alarms: %d, %v", len(got), err)
	}
}
