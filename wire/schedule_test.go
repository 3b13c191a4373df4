package wire_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

func monaco(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Monaco")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func scheduled(s *wire.Schedule) wire.Notice {
	return wire.Notice{ID: "n1", Category: wire.CategoryCleaning, Priority: wire.PriorityNormal,
		Title: wire.Text{FR: "Nettoyage"}, Body: wire.Text{FR: "Hall d'entrée."},
		ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Schedule: s}
}

func weekdays(hours ...wire.Window) *wire.Schedule {
	return &wire.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: hours}
}

// TestScheduleValidation: every refusal names the field, through the set's
// decoder as the agent and the screen meet it.
func TestScheduleValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     *wire.Schedule
		field string // "" when valid
		says  string // part of the reason
	}{
		{"weekdays mornings and evenings", weekdays(wire.Window{"08:00", "10:00"}, wire.Window{"17:00", "19:00"}), "", ""},
		{"days only", &wire.Schedule{Days: []string{"sat", "sun"}}, "", ""},
		{"hours only", &wire.Schedule{Hours: []wire.Window{{"00:00", "24:00"}}}, "", ""},
		{"windows that touch", &wire.Schedule{Hours: []wire.Window{{"08:00", "10:00"}, {"10:00", "12:00"}}}, "", ""},
		{"four windows", &wire.Schedule{Hours: []wire.Window{{"01:00", "02:00"}, {"03:00", "04:00"}, {"05:00", "06:00"}, {"07:00", "08:00"}}}, "", ""},
		{"empty", &wire.Schedule{}, "schedule", "omit schedule"},
		{"empty lists", &wire.Schedule{Days: []string{}, Hours: []wire.Window{}}, "schedule", "omit schedule"},
		{"unknown day", &wire.Schedule{Days: []string{"mon", "tue", "Wed"}}, "schedule.days[2]", `"Wed"`},
		{"day twice", &wire.Schedule{Days: []string{"mon", "fri", "mon"}}, "schedule.days[2]", "days[0] already"},
		{"eight days", &wire.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon"}}, "schedule.days", "at most 7"},
		{"five windows", &wire.Schedule{Hours: []wire.Window{{"01:00", "02:00"}, {"03:00", "04:00"}, {"05:00", "06:00"}, {"07:00", "08:00"}, {"09:00", "10:00"}}}, "schedule.hours", "at most 4"},
		{"from without minutes", weekdays(wire.Window{"8", "10:00"}), "schedule.hours[0].from", "HH:MM"},
		{"from at 24:00", weekdays(wire.Window{"24:00", "24:00"}), "schedule.hours[0].from", "HH:MM"},
		{"to with 60 minutes", weekdays(wire.Window{"08:00", "09:60"}), "schedule.hours[0].to", "HH:MM"},
		{"to at 25:00", weekdays(wire.Window{"08:00", "25:00"}), "schedule.hours[0].to", "HH:MM"},
		{"to with seconds", weekdays(wire.Window{"08:00", "10:00:00"}), "schedule.hours[0].to", "HH:MM"},
		{"to at midnight", weekdays(wire.Window{"08:00", "00:00"}), "schedule.hours[0].to", "24:00"},
		{"empty window", weekdays(wire.Window{"08:00", "09:00"}, wire.Window{"10:00", "10:00"}), "schedule.hours[1].to", "not after"},
		{"spans midnight", weekdays(wire.Window{"22:00", "02:00"}), "schedule.hours[0].to", "use two windows, 22:00-24:00 and 00:00-02:00"},
		{"overlap", weekdays(wire.Window{"08:00", "10:00"}, wire.Window{"09:30", "11:00"}), "schedule.hours[1]", "overlaps hours[0]"},
		{"inside another", weekdays(wire.Window{"17:00", "19:00"}, wire.Window{"08:00", "12:00"}, wire.Window{"09:00", "10:00"}), "schedule.hours[2]", "overlaps hours[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := wire.NoticeSet{V: wire.Version, Site: "les-pins", Version: 1, Notices: []wire.Notice{scheduled(tc.s)}}
			b, err := json.Marshal(set)
			if err != nil {
				t.Fatal(err)
			}
			got, err := wire.DecodeNoticeSet(b)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !reflect.DeepEqual(got.Notices[0].Schedule, tc.s) {
					t.Fatalf("decoded %+v, sent %+v", got.Notices[0].Schedule, tc.s)
				}
				return
			}
			var fe *wire.FieldError
			if !errors.As(err, &fe) || fe.Field != "notices[0]."+tc.field || !strings.Contains(fe.Reason, tc.says) {
				t.Fatalf("got %v, want a refusal of notices[0].%s saying %q", err, tc.field, tc.says)
			}
		})
	}
}

// TestScheduleJSON: a schedule travels in the shape the notices page and
// the preview rely on, and a set without one is byte for byte what screens
// older than schedules decode.
func TestScheduleJSON(t *testing.T) {
	n := scheduled(weekdays(wire.Window{"08:00", "10:00"}, wire.Window{"17:00", "19:00"}))
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	const want = `"schedule":{"days":["mon","tue","wed","thu","fri"],"hours":[{"from":"08:00","to":"10:00"},{"from":"17:00","to":"19:00"}]}}`
	if !strings.HasSuffix(string(b), want) {
		t.Fatalf("encoded\n%s\nwant it to end with\n%s", b, want)
	}
	var back wire.Notice
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, n) {
		t.Fatalf("round trip gave %+v, %v", back, err)
	}
	days := scheduled(&wire.Schedule{Days: []string{"sat"}})
	if b, _ := json.Marshal(days.Schedule); string(b) != `{"days":["sat"]}` {
		t.Fatalf("days only encodes as %s", b)
	}

	until := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	set := wire.NoticeSet{V: wire.Version, Site: "les-pins", Version: 7, Notices: []wire.Notice{{
		ID: "water-cut", Category: wire.CategoryWater, Priority: wire.PriorityUrgent,
		Title: wire.Text{FR: "Coupure d'eau", EN: "Water cut"}, Body: wire.Text{FR: "De 9h à 12h."},
		ValidFrom: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), ValidUntil: &until,
		Media: []wire.Media{{URL: "https://palier.example/media/ab", SHA256: strings.Repeat("ab", 32), Type: "image/png", Size: 10}},
	}}}
	// The encoding of this set before schedules existed.
	const before = `{"v":1,"site":"les-pins","version":7,"notices":[{"id":"water-cut","category":"water","priority":"urgent","title":{"fr":"Coupure d'eau","en":"Water cut"},"body":{"fr":"De 9h à 12h."},"valid_from":"2026-11-28T00:00:00Z","valid_until":"2026-12-01T12:00:00Z","media":[{"url":"https://palier.example/media/ab","sha256":"` + "abababababababababababababababababababababababababababababababab" + `","type":"image/png","size":10}]}]}`
	if b, _ := json.Marshal(set); string(b) != before {
		t.Fatalf("a set without schedules encodes as\n%s\nwant, as before schedules,\n%s", b, before)
	}
}

// TestShownAt: a weekday-morning notice in Monaco, with the validity
// window still bounding it ("until the 15th").
func TestShownAt(t *testing.T) {
	loc := monaco(t)
	n := scheduled(weekdays(wire.Window{"08:00", "10:00"}))
	until := time.Date(2026, 12, 15, 0, 0, 0, 0, loc)
	n.ValidUntil = &until
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 12, 7, 8, 30, 0, 0, loc), true},                   // Monday
		{time.Date(2026, 12, 7, 7, 30, 0, 0, time.UTC), true},              // the same instant in UTC
		{time.Date(2026, 12, 7, 8, 0, 0, 0, loc), true},                    // from is included
		{time.Date(2026, 12, 7, 9, 59, 59, 999, loc), true},                // the last instant
		{time.Date(2026, 12, 7, 10, 0, 0, 0, loc), false},                  // to is excluded
		{time.Date(2026, 12, 7, 7, 59, 59, 0, loc), false},                 // too early
		{time.Date(2026, 12, 5, 8, 30, 0, 0, loc), false},                  // Saturday
		{time.Date(2026, 12, 6, 8, 30, 0, 0, loc), false},                  // Sunday
		{time.Date(2026, 12, 11, 9, 0, 0, 0, loc), true},                   // Friday
		{time.Date(2026, 12, 15, 8, 30, 0, 0, loc), false},                 // Tuesday, past valid_until
		{time.Date(2025, 12, 8, 8, 30, 0, 0, loc), false},                  // Monday, before valid_from
		{time.Date(2026, 7, 6, 8, 30, 0, 0, loc), true},                    // a summer Monday (UTC+2)
		{time.Date(2026, 7, 6, 6, 30, 0, 0, time.UTC), true},               // the same
		{time.Date(2026, 7, 6, 8, 30, 0, 0, time.UTC), false},              // 10:30 in Monaco
		{time.Date(2026, 12, 7, 8, 30, 0, 0, time.FixedZone("", 0)), true}, // 09:30 in Monaco
	} {
		if got := n.ShownAt(tc.at, loc); got != tc.want {
			t.Errorf("at %s: shown %v, want %v", tc.at, got, tc.want)
		}
	}
	// Without a schedule ShownAt is Active.
	plain := scheduled(nil)
	if !plain.ShownAt(time.Date(2026, 12, 5, 3, 0, 0, 0, loc), loc) || plain.ShownAt(time.Date(2025, 12, 5, 3, 0, 0, 0, loc), loc) {
		t.Error("a notice without schedule is not shown exactly in its validity window")
	}
}

// TestShownAtOnClockChanges: windows follow the wall clock on the days the
// clocks change in Monaco (29 March and 25 October 2026).
func TestShownAtOnClockChanges(t *testing.T) {
	loc := monaco(t)
	night := scheduled(&wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{"02:00", "03:00"}}})
	morning := scheduled(&wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{"08:00", "10:00"}}})
	shownFor := func(n wire.Notice, day time.Time) time.Duration {
		var d time.Duration
		for t := day; t.Before(day.Add(26 * time.Hour)); t = t.Add(time.Minute) {
			if n.ShownAt(t, loc) {
				d += time.Minute
			}
		}
		return d
	}
	spring := time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC) // Sunday 29 March, 00:00 in Monaco
	autumn := time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		n    wire.Notice
		day  time.Time
		want time.Duration
	}{
		{"02:00-03:00 when 02:00 becomes 03:00", night, spring, 0},
		{"08:00-10:00 on the short day", morning, spring, 2 * time.Hour},
		{"02:00-03:00 when 03:00 becomes 02:00", night, autumn, 2 * time.Hour},
		{"08:00-10:00 on the long day", morning, autumn, 2 * time.Hour},
	} {
		if got := shownFor(tc.n, tc.day); got != tc.want {
			t.Errorf("%s: shown %v, want %v", tc.name, got, tc.want)
		}
	}
	// 08:00 in Monaco is 06:00 UTC after the spring change, 07:00 before
	// the autumn one: the window is the wall clock's.
	if !morning.ShownAt(time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC), loc) || morning.ShownAt(time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC), loc) {
		t.Error("spring: 08:00-10:00 is not 06:00-08:00 UTC")
	}
}

// TestNextShown: when the page's list says a notice shows next.
func TestNextShown(t *testing.T) {
	loc := monaco(t)
	n := scheduled(weekdays(wire.Window{"17:00", "19:00"}, wire.Window{"08:00", "10:00"}))
	until := time.Date(2026, 12, 15, 0, 0, 0, 0, loc)
	n.ValidUntil = &until
	for _, tc := range []struct {
		name   string
		after  time.Time
		want   time.Time
		wantOK bool
	}{
		{"Saturday: Monday 08:00", time.Date(2026, 12, 5, 12, 0, 0, 0, loc), time.Date(2026, 12, 7, 8, 0, 0, 0, loc), true},
		{"shown now: now", time.Date(2026, 12, 7, 9, 15, 3, 0, loc), time.Date(2026, 12, 7, 9, 15, 3, 0, loc), true},
		{"between windows: the evening", time.Date(2026, 12, 7, 10, 0, 0, 0, loc), time.Date(2026, 12, 7, 17, 0, 0, 0, loc), true},
		{"Friday evening: Monday", time.Date(2026, 12, 11, 19, 0, 0, 0, loc), time.Date(2026, 12, 14, 8, 0, 0, 0, loc), true},
		{"after the last window: never", time.Date(2026, 12, 14, 19, 0, 0, 0, loc), time.Time{}, false},
		{"before valid_from: its first window", time.Date(2025, 6, 1, 0, 0, 0, 0, loc), time.Date(2026, 1, 1, 8, 0, 0, 0, loc), true},
	} {
		got, ok := n.NextShown(tc.after, loc)
		if ok != tc.wantOK || !got.Equal(tc.want) {
			t.Errorf("%s: %s %v, want %s %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
		if ok && got.Location() != loc {
			t.Errorf("%s: answered in %s, want %s", tc.name, got.Location(), loc)
		}
	}
	// A window the spring change swallows is next shown a week later.
	night := scheduled(&wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{"02:00", "03:00"}}})
	got, ok := night.NextShown(time.Date(2026, 3, 28, 12, 0, 0, 0, loc), loc)
	if want := time.Date(2026, 4, 5, 2, 0, 0, 0, loc); !ok || !got.Equal(want) {
		t.Errorf("spring: %s %v, want %s", got, ok, want)
	}
	// A window partly swallowed opens when the clock jumps into it.
	late := scheduled(&wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{"02:30", "04:00"}}})
	got, ok = late.NextShown(time.Date(2026, 3, 28, 12, 0, 0, 0, loc), loc)
	if want := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC); !ok || !got.Equal(want) || got.Format("15:04") != "03:00" {
		t.Errorf("spring jump: %s %v, want %s (03:00 in Monaco)", got, ok, want)
	}
	// The second 02:30 of the autumn change, once the first has passed:
	// 02:45 summer time is 00:45 UTC, the second 02:30 is 01:30 UTC.
	short := scheduled(&wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{"02:30", "02:45"}}})
	got, ok = short.NextShown(time.Date(2026, 10, 25, 0, 45, 0, 0, time.UTC), loc)
	if want := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC); !ok || !got.Equal(want) {
		t.Errorf("autumn, second pass: %s %v, want %s", got, ok, want)
	}
	// Never within the horizon: a notice whose every window is past.
	ended := scheduled(&wire.Schedule{Days: []string{"mon"}})
	endsAt := time.Date(2026, 12, 7, 0, 0, 0, 0, loc)
	ended.ValidUntil = &endsAt
	if got, ok := ended.NextShown(time.Date(2026, 12, 1, 0, 0, 0, 0, loc), loc); ok {
		t.Errorf("a Monday notice ending Monday 00:00 is next shown %s", got)
	}
}

// TestNextShownMatchesAScan: NextShown, which jumps from window to window,
// agrees with a minute-by-minute scan of ShownAt for random schedules and
// starts around both clock changes and in zones east and west.
func TestNextShownMatchesAScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 5))
	var locs []*time.Location
	for _, name := range []string{"Europe/Monaco", "America/New_York", "Australia/Lord_Howe", "UTC"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
	}
	days := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	bases := []time.Time{
		time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC),
		// Beyond the zone's table of changes, where its rule extends it.
		time.Date(2040, 3, 20, 0, 0, 0, 0, time.UTC), time.Date(2040, 10, 25, 0, 0, 0, 0, time.UTC),
	}
	clock := func(m int) string { return time.Date(0, 1, 1, 0, m, 0, 0, time.UTC).Format("15:04") }
	for i := range 120 {
		s := &wire.Schedule{}
		for _, d := range days {
			if rng.IntN(3) == 0 {
				s.Days = append(s.Days, d)
			}
		}
		// Disjoint windows on 30-minute marks.
		m := 0
		for range rng.IntN(3) {
			from := m + 30*rng.IntN(16)
			to := from + 30*(1+rng.IntN(8))
			if to > 24*60 {
				break
			}
			w := wire.Window{From: clock(from), To: clock(to)}
			if to == 24*60 {
				w.To = "24:00"
			}
			s.Hours = append(s.Hours, w)
			m = to
		}
		if len(s.Days) == 0 && len(s.Hours) == 0 {
			s.Days = []string{days[i%7]}
		}
		n := scheduled(s)
		if err := n.Validate(); err != nil {
			t.Fatalf("generated %+v: %v", s, err)
		}
		loc := locs[i%len(locs)]
		after := bases[i%len(bases)].Add(time.Duration(rng.IntN(7*24*60)) * time.Minute)
		until := after.Add(time.Duration(1+rng.IntN(12)) * 24 * time.Hour)
		n.ValidUntil = &until

		want, wantOK := time.Time{}, false
		for t := after; t.Before(until) && t.Before(after.Add(wire.NextShownHorizon)); t = t.Add(time.Minute) {
			if n.ShownAt(t, loc) {
				want, wantOK = t, true
				break
			}
		}
		got, ok := n.NextShown(after, loc)
		if ok != wantOK || !got.Equal(want) {
			t.Fatalf("%+v in %s after %s until %s: NextShown %s %v, a scan %s %v", *s, loc, after, until, got, ok, want, wantOK)
		}
	}
}

// BenchmarkNextShown: a far answer (Sundays 02:00-03:00, asked on the
// Monday before the spring change, so the answer is 13 days on) and a near
// one, as the notices page would ask for each notice of a site.
func BenchmarkNextShown(b *testing.B) {
	loc := monaco(b)
	far := scheduled(&wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{"02:00", "03:00"}}})
	near := scheduled(weekdays(wire.Window{"08:00", "10:00"}, wire.Window{"17:00", "19:00"}))
	after := time.Date(2026, 3, 23, 12, 0, 0, 0, loc)
	b.Run("far", func(b *testing.B) {
		for b.Loop() {
			if _, ok := far.NextShown(after, loc); !ok {
				b.Fatal("never")
			}
		}
	})
	b.Run("near", func(b *testing.B) {
		for b.Loop() {
			if _, ok := near.NextShown(after, loc); !ok {
				b.Fatal("never")
			}
		}
	})
}
