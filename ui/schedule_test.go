package ui

import (
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// cleaning is shown on weekday mornings, 08:00-10:00 on the screen's clock,
// in December 2026.
func cleaning() wire.Notice {
	n := notice("cleaning", wire.PriorityNormal, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), nil)
	n.Schedule = &wire.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: []wire.Window{{From: "08:00", To: "10:00"}}}
	return n
}

func monaco(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Monaco")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// shown returns the id of the notice on the card, "" when none.
func shown(m *Model, ns *wire.NoticeSet, at time.Time) string {
	return m.View(Input{State: st(nil), AgentUp: true, Now: at, Notices: ns}).Notice.ID
}

// TestScheduledNoticeOnTheScreensClock: the screen shows a weekday-morning
// notice on Monday 08:30 in Monaco, not at 10:00, not on Saturday; a screen
// whose time_zone is New York shows it on New York's mornings.
func TestScheduledNoticeOnTheScreensClock(t *testing.T) {
	loc := monaco(t)
	ns := set(cleaning())
	m := model(t, nil) // Europe/Monaco by default
	for _, tc := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"Monday 08:30", time.Date(2026, 12, 7, 8, 30, 0, 0, loc), "cleaning"},
		{"Monday 09:59:59", time.Date(2026, 12, 7, 9, 59, 59, 0, loc), "cleaning"},
		{"Monday 10:00", time.Date(2026, 12, 7, 10, 0, 0, 0, loc), ""},
		{"Monday 07:59", time.Date(2026, 12, 7, 7, 59, 0, 0, loc), ""},
		{"Saturday 08:30", time.Date(2026, 12, 5, 8, 30, 0, 0, loc), ""},
		{"Monday 08:30 UTC, 09:30 in Monaco", time.Date(2026, 12, 7, 8, 30, 0, 0, time.UTC), "cleaning"},
		{"Monday 09:30 UTC, 10:30 in Monaco", time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC), ""},
	} {
		if got := shown(m, ns, tc.at); got != tc.want {
			t.Errorf("%s: card shows %q, want %q", tc.name, got, tc.want)
		}
	}
	ny := model(t, func(c *Config) { c.TimeZone = "America/New_York" })
	if got := shown(ny, ns, time.Date(2026, 12, 7, 8, 30, 0, 0, loc)); got != "" {
		t.Errorf("New York screen at 02:30 its time: %q", got)
	}
	if got := shown(ny, ns, time.Date(2026, 12, 7, 14, 30, 0, 0, loc)); got != "cleaning" {
		t.Errorf("New York screen at 08:30 its time: %q", got)
	}
}

// TestScheduledNoticeOnClockChangeDays: on the Sundays the clocks change in
// Monaco, a Sunday 08:00-10:00 notice is on the screen from 08:00 to 10:00
// of the screen's clock, two hours either way; a 02:00-03:00 one is never on
// in March and twice in October.
func TestScheduledNoticeOnClockChangeDays(t *testing.T) {
	loc := monaco(t)
	morning := notice("morning", wire.PriorityNormal, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	morning.Schedule = &wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{From: "08:00", To: "10:00"}}}
	night := notice("night", wire.PriorityNormal, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	night.Schedule = &wire.Schedule{Days: []string{"sun"}, Hours: []wire.Window{{From: "02:00", To: "03:00"}}}
	m := model(t, nil)
	for _, tc := range []struct {
		name      string
		n         wire.Notice
		day       time.Time
		wantFirst string // local time when first on, "" never
		wantFor   time.Duration
	}{
		{"March, 08:00-10:00", morning, time.Date(2026, 3, 29, 0, 0, 0, 0, loc), "08:00", 2 * time.Hour},
		{"March, 02:00-03:00", night, time.Date(2026, 3, 29, 0, 0, 0, 0, loc), "", 0},
		{"October, 08:00-10:00", morning, time.Date(2026, 10, 25, 0, 0, 0, 0, loc), "08:00", 2 * time.Hour},
		{"October, 02:00-03:00", night, time.Date(2026, 10, 25, 0, 0, 0, 0, loc), "02:00", 2 * time.Hour},
	} {
		ns := set(tc.n)
		first, on := "", time.Duration(0)
		// Every minute of the day (23 hours in March, 25 in October).
		for at := tc.day; at.Before(tc.day.AddDate(0, 0, 1)); at = at.Add(time.Minute) {
			if shown(m, ns, at) != "" {
				on += time.Minute
				if first == "" {
					first = at.In(loc).Format("15:04")
				}
			}
		}
		if first != tc.wantFirst || on != tc.wantFor {
			t.Errorf("%s: first on at %q for %v, want %q for %v", tc.name, first, on, tc.wantFirst, tc.wantFor)
		}
	}
}

// TestActiveMemoFollowsSchedules: within one set version (the same set,
// never re-sent), the memo of active notices lets a scheduled notice go at
// the end of its window and come back at the start of the next, within the
// frames of a single second as across seconds.
func TestActiveMemoFollowsSchedules(t *testing.T) {
	loc := monaco(t)
	always := notice("always", wire.PriorityLow, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), nil)
	ns := set(cleaning(), always)
	m := model(t, func(c *Config) { c.LanguagePeriod = time.Hour }) // the card stays on the first notice
	end := time.Date(2026, 12, 7, 10, 0, 0, 0, loc)
	count := func(at time.Time) int {
		return m.View(Input{State: st(nil), AgentUp: true, Now: at, Notices: ns}).NoticeCount
	}
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{end.Add(-time.Second), 2},
		{end.Add(-time.Millisecond), 2}, // same second: from the memo
		{end, 1},                        // the window has closed
		{end.Add(999 * time.Millisecond), 1},
		{end.Add(time.Hour), 1},
		{end.Add(22 * time.Hour), 2}, // Tuesday 08:00
		{end.Add(22*time.Hour - time.Nanosecond), 1},
	} {
		if got := count(tc.at); got != tc.want {
			t.Errorf("at %s: %d notices, want %d", tc.at.In(loc).Format("Mon 15:04:05.000000000"), got, tc.want)
		}
	}
	if ns.Version != 1 {
		t.Fatalf("the set changed version: %d", ns.Version)
	}
}
