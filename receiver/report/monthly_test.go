package report

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// monthFeed is March 2026 of site "m": two cabins, one with the
// parameters' worth of trips, faults, an entrapment and alarms, the other
// first heard from mid-month.
func monthFeed(t *testing.T, st store.Store) {
	a := &cabinLog{t: t, st: st, site: "m", cabin: "a"}
	a.status(-24*time.Hour, true)
	a.state(-24*time.Hour, true, "ok")
	// A fault raised in February and cleared in March belongs to February.
	a.event(-time.Hour, wire.TypeFault, wire.FaultData{Code: 7, Severity: "error", Active: true})
	a.event(time.Hour, wire.TypeFault, wire.FaultData{Code: 7, Severity: "error", Active: false})
	for d := 0; d < 31; d++ {
		day := time.Duration(d) * 24 * time.Hour
		a.event(day+8*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 4, Direction: "up", DurationMS: 12000})
		a.event(day+8*time.Hour+time.Minute, wire.TypeDoorCycle, wire.DoorCycleData{Floor: 4, OpenMS: 5000})
		a.event(day+18*time.Hour, wire.TypeTrip, wire.TripData{From: 4, To: 0, Direction: "down", DurationMS: 12000})
	}
	a.event(3*24*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Text: "door lock", Severity: "error", Active: true})
	a.event(3*24*time.Hour+20*time.Minute, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: false})
	// Still active at the end of the month: counted until its end.
	a.event(30*24*time.Hour+22*time.Hour, wire.TypeFault, wire.FaultData{Code: 12, Severity: "warning", Active: true})
	// An entrapment of 40 minutes, acknowledged after 90 s, while out of
	// service.
	a.event(10*24*time.Hour, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Floor: 2})
	a.service(10*24*time.Hour+time.Second, false)
	ack(t, st, "m", "a", day0.Add(10*24*time.Hour+90*time.Second))
	a.event(10*24*time.Hour+40*time.Minute, wire.TypeEntrapment, wire.EntrapmentData{Active: false, Floor: 2})
	a.service(10*24*time.Hour+time.Hour, true)
	// Three alarm presses: acknowledged after 30 s and 5 min, one never.
	for i, p := range []struct{ at, ackAfter time.Duration }{{12 * 24 * time.Hour, 30 * time.Second}, {20 * 24 * time.Hour, 5 * time.Minute}, {25 * 24 * time.Hour, 0}} {
		a.event(p.at, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: i})
		if p.ackAfter > 0 {
			ack(t, st, "m", "a", day0.Add(p.at+p.ackAfter))
		}
		a.event(p.at+10*time.Minute, wire.TypeAlarm, wire.AlarmData{Active: false, Floor: i})
	}
	// An alarm of April is not March's.
	a.event(31*24*time.Hour+time.Hour, wire.TypeAlarm, wire.AlarmData{Active: true})

	b := &cabinLog{t: t, st: st, site: "m", cabin: "b"}
	b.status(15*24*time.Hour, true)
	b.state(15*24*time.Hour, true, "ok")
	b.event(16*24*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 6000})
	// Another site's cabin is left out.
	o := &cabinLog{t: t, st: st, site: "other", cabin: "a"}
	o.event(time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 6000})
}

func ack(t *testing.T, st store.Store, site, cabin string, at time.Time) {
	t.Helper()
	if _, err := st.AcknowledgeAlarms(context.Background(), site, cabin, "token:ops", "on our way", at); err != nil {
		t.Fatal(err)
	}
}

var monthEnergy = Energy{StandbyW: 150, TripWh: 8, PerFloorWh: 2}

func TestMonthlyGolden(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		monthFeed(t, st)
		m, err := Month(context.Background(), st, "m", "2026-03", day0.AddDate(0, 2, 0), time.UTC, MonthOptions{Energy: SiteEnergy{Default: &monthEnergy, Cabins: map[string]Energy{"b": {StandbyW: 300, TripWh: 20}}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		golden := filepath.Join("testdata", "monthly", "2026-03.json")
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
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
		// The figures the golden holds, checked by hand once.
		if len(m.Cabins) != 2 {
			t.Fatalf("%d cabins, want a and b", len(m.Cabins))
		}
		a := m.Cabins[0]
		if a.Trips != 62 || a.DoorCycles != 31 || a.FaultsRaised != 2 || len(a.Faults) != 2 {
			t.Fatalf("a: %d trips, %d door cycles, %d faults; want 62, 31, 2 (February's fault left out)", a.Trips, a.DoorCycles, a.FaultsRaised)
		}
		if a.FaultSeconds != 20*60+2*3600 {
			t.Errorf("fault_s %g, want 20 min + 2 h (the open one until the month's end)", a.FaultSeconds)
		}
		if len(a.Entrapments) != 1 || a.Entrapments[0].Seconds != 40*60 || *a.Entrapments[0].AckSeconds != 90 {
			t.Errorf("entrapments %+v, want one of 40 min acknowledged after 90 s", a.Entrapments)
		}
		if a.Alarms.Count != 3 || a.Alarms.Acknowledged != 2 || *a.Alarms.MedianAckSeconds != 165 || *a.Alarms.MaxAckSeconds != 300 {
			t.Errorf("alarms %+v, want 3, 2 acknowledged, median 165 s, max 300 s", a.Alarms)
		}
		// 31 days monitored less 62 trips of 12 s at 150 W; 62 trips of
		// 8 Wh plus 3 further floors each at 2 Wh.
		standby := (31*24*3600.0 - 62*12) * 150 / 3600 / 1000
		running := (62*8 + 62*3*2) / 1000.0
		if e := a.Energy; e == nil || math.Abs(e.StandbyKWh-standby) > 1e-3 || e.RunningKWh != running || e.FloorsTravelled != 248 {
			t.Errorf("energy %+v, want standby %.3f kWh, running %.3f kWh", e, standby, running)
		}
		// Cabin b has parameters of its own.
		if e := m.Cabins[1].Energy; e == nil || e.Params.StandbyW != 300 || e.RunningKWh != 0.02 {
			t.Errorf("b's energy %+v, want its own parameters: 300 W, one trip of 20 Wh", e)
		}
		if m.NoticesShown.Available || !strings.Contains(m.NoticesShown.Note, "not yet available") {
			t.Errorf("notices shown %+v, want not available, and said so", m.NoticesShown)
		}
	})
}

// playFake stands for the proof of play store another part adds.
type playFake []NoticeShown

func (p playFake) NoticesShown(context.Context, string, time.Time, time.Time) ([]NoticeShown, error) {
	return p, nil
}

func TestMonthlyBounds(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		monthFeed(t, st)
		// Mid-month: reported up to now, no energy without parameters.
		now := day0.Add(15 * 24 * time.Hour)
		m, err := Month(ctx, st, "m", "2026-03", now, time.UTC, MonthOptions{Play: playFake{{Notice: "n1", Cabin: "a", Language: "fr", Times: 3, Seconds: 90}}})
		if err != nil {
			t.Fatal(err)
		}
		a := m.Cabins[0]
		if a.MonitoredSeconds != 15*24*3600 || a.Energy != nil || m.EnergyBasis != "" || a.Alarms.Count != 1 {
			t.Errorf("mid-month: monitored %g, energy %v, alarms %d; want 15 days, no energy, the one alarm of the 13th", a.MonitoredSeconds, a.Energy, a.Alarms.Count)
		}
		if !m.NoticesShown.Available || len(m.NoticesShown.Notices) != 1 {
			t.Errorf("notices shown %+v, want the play source's", m.NoticesShown)
		}
		if _, err := Month(ctx, st, "m", "2026-04", day0.Add(time.Hour), time.UTC, MonthOptions{}); err == nil {
			t.Error("a month not begun accepted")
		}
		for _, bad := range []string{"2026-3", "2026-13", "march", "2026-03-01"} {
			if _, err := Month(ctx, st, "m", bad, now, time.UTC, MonthOptions{}); err == nil || !strings.Contains(err.Error(), "YYYY-MM") {
				t.Errorf("month %q: %v, want an error saying YYYY-MM", bad, err)
			}
		}
		// A month in Paris begins an hour before UTC's.
		paris, _ := time.LoadLocation("Europe/Paris")
		m, err = Month(ctx, st, "m", "2026-03", day0.AddDate(0, 2, 0), paris, MonthOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Since.Equal(day0.Add(-time.Hour)) || len(m.Cabins[0].TripsPerDay) != 31 {
			t.Errorf("Paris: since %s, %d days", m.Since, len(m.Cabins[0].TripsPerDay))
		}
	})
}

func TestEnergyValidate(t *testing.T) {
	if err := monthEnergy.Validate("e."); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		e     Energy
		field string
	}{
		{Energy{StandbyW: -1, TripWh: 1}, "e.standby_w"},
		{Energy{StandbyW: 150000, TripWh: 1}, "e.standby_w"},
		{Energy{StandbyW: 100, TripWh: math.NaN()}, "e.trip_wh"},
		{Energy{StandbyW: 100, PerFloorWh: 1e6}, "e.per_floor_wh"},
		{Energy{}, "all zero"},
	} {
		if err := tc.e.Validate("e."); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want an error naming %s", tc.e, err, tc.field)
		}
	}
}

// FuzzParseMonth: whatever the API's month parameter holds, ParseMonth
// returns a calendar month or an error, never a panic.
func FuzzParseMonth(f *testing.F) {
	f.Add("2026-11")
	f.Add("0000-01")
	f.Fuzz(func(t *testing.T, s string) {
		since, until, err := ParseMonth(s, time.UTC)
		if err != nil {
			return
		}
		if since.Day() != 1 || until != since.AddDate(0, 1, 0) || since.Format("2006-01") != s {
			t.Fatalf("%q: [%s, %s) is not that month", s, since, until)
		}
	})
}

// TestMonthlyNoticesShownFromTheStore: the plays the store recorded from
// the cabins' notice_shown events are the report's notices shown.
func TestMonthlyNoticesShownFromTheStore(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		a := &cabinLog{t: t, st: st, site: "m", cabin: "a"}
		a.status(time.Hour, true)
		from := day0.Add(2 * 24 * time.Hour)
		for i, lang := range []string{"fr", "fr", "it"} {
			at := from.Add(time.Duration(i) * 10 * time.Minute)
			a.event(at.Sub(day0)+10*time.Minute, wire.TypeNoticeShown, wire.NoticeShownData{Notice: "water", Version: 3, Lang: lang,
				Layout: "800x480", Orientation: "landscape", From: at, To: at.Add(10 * time.Minute), ShownMS: 90500, Times: 3})
		}
		m, err := Month(context.Background(), st, "m", "2026-03", day0.Add(40*24*time.Hour), time.UTC, MonthOptions{Play: StorePlays(st)})
		if err != nil {
			t.Fatal(err)
		}
		want := []NoticeShown{{Notice: "water", Cabin: "a", Language: "fr", Times: 6, Seconds: 181}, {Notice: "water", Cabin: "a", Language: "it", Times: 3, Seconds: 90.5}}
		if !m.NoticesShown.Available || !reflect.DeepEqual(m.NoticesShown.Notices, want) {
			t.Fatalf("notices shown %+v, want available and %+v", m.NoticesShown, want)
		}
	})
}

// TestMonthlyAlarmsOfABusyCabin: a cabin with more alarms in the months
// around March than one read of the store returns still has March's few
// alarms, all of them, and the report is not marked truncated.
func TestMonthlyAlarmsOfABusyCabin(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		a := &cabinLog{t: t, st: st, site: "m", cabin: "a"}
		a.status(-60*24*time.Hour, true)
		var events []wire.Event
		press := func(at time.Duration) {
			for _, active := range []bool{true, false} {
				a.seq++
				e := storetest.Event(a.seq, wire.TypeAlarm, wire.AlarmData{Active: active})
				e.Time = day0.Add(at)
				if !active {
					e.Time = e.Time.Add(time.Minute)
				}
				events = append(events, e)
			}
		}
		for i := range store.MaxLimit + 100 { // January and February
			press(-time.Duration(i+1) * time.Hour)
		}
		for _, d := range []int{2, 9, 30} { // March
			press(time.Duration(d) * 24 * time.Hour)
		}
		for i := range store.MaxLimit + 100 { // April on
			press(31*24*time.Hour + time.Duration(i)*time.Hour)
		}
		slices.SortFunc(events, func(x, y wire.Event) int { return x.Time.Compare(y.Time) })
		for i := range events {
			events[i].Seq = uint64(i + 1)
		}
		for len(events) > 0 {
			n := min(len(events), wire.MaxBatchEvents)
			b := wire.Batch{V: wire.Version, Site: "m", Cabin: "a", Epoch: "e", Events: events[:n]}
			if _, err := st.InsertBatches(context.Background(), []wire.Batch{b}, day0.AddDate(0, 4, 0)); err != nil {
				t.Fatal(err)
			}
			events = events[n:]
		}
		m, err := Month(context.Background(), st, "m", "2026-03", day0.AddDate(0, 4, 0), time.UTC, MonthOptions{})
		if err != nil {
			t.Fatal(err)
		}
		al := m.Cabins[0].Alarms
		if al.Truncated || al.Count != 3 || len(al.List) != 3 {
			t.Fatalf("March's alarms: count %d, listed %d, truncated %v; want the 3, complete", al.Count, len(al.List), al.Truncated)
		}
		for i, d := range []int{2, 9, 30} {
			if want := day0.AddDate(0, 0, d); !al.List[i].Raised.Equal(want) || al.List[i].Seconds != 60 {
				t.Errorf("alarm %d: raised %v lasting %g s, want %v lasting 60 s", i, al.List[i].Raised, al.List[i].Seconds, want)
			}
		}
	})
}

// TestFaultRaisedAgainCountedOnce: a fault raised again while active (an
// agent that restarted reports it anew) is one fault in the count, in
// the count by code and in the list, which therefore always agree.
func TestFaultRaisedAgainCountedOnce(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		a := &cabinLog{t: t, st: st, site: "m", cabin: "a"}
		a.status(0, true)
		a.event(time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: true})
		a.event(2*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: true}) // said again
		a.event(3*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: false})
		a.event(4*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: true}) // a second fault
		a.event(5*time.Hour, wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: false})
		m, err := Month(context.Background(), st, "m", "2026-03", day0.AddDate(0, 1, 0), time.UTC, MonthOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := m.Cabins[0]
		if c.FaultsRaised != 2 || c.FaultCodes[31] != 2 || len(c.Faults) != 2 {
			t.Fatalf("faults raised %d, by code %v, listed %d; want 2 each", c.FaultsRaised, c.FaultCodes, len(c.Faults))
		}
		if c.Faults[0].Seconds != 2*3600 || c.Faults[1].Seconds != 3600 || c.FaultSeconds != 3*3600 {
			t.Fatalf("fault durations %g, %g (sum %g); want 2 h and 1 h", c.Faults[0].Seconds, c.Faults[1].Seconds, c.FaultSeconds)
		}
	})
}
