package wire

import (
	"fmt"
	"slices"
	"time"
)

// MaxScheduleWindows bounds a schedule's daily windows: enough for a
// morning and an evening slot and two more, few enough to read on a form.
const MaxScheduleWindows = 4

// NextShownHorizon bounds NextShown's search. A weekly recurrence shows
// within 8 days unless a change of clock swallows its only window (02:00 to
// 03:00 on the last Sunday of March in Europe); two weeks and a day cover
// that too.
const NextShownHorizon = 15 * 24 * time.Hour

// Weekday names of a schedule, Monday first as on a calendar here.
var scheduleDays = [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// Schedule narrows a notice's validity window to some days of the week and
// some hours of the day (recurrence and dayparting). Days and hours are
// read on the wall clock of the screen's time zone (the display's
// time_zone, Europe/Monaco by default), so "08:00" is 08:00 in summer and in
// winter.
type Schedule struct {
	// Days are weekdays among mon tue wed thu fri sat sun; none means
	// every day.
	Days []string `json:"days,omitempty"`
	// Hours are daily windows; none means all day.
	Hours []Window `json:"hours,omitempty"`
}

// Window is a daily time window, from included to excluded, "HH:MM" on
// the screen's wall clock. To may be "24:00", the end of the day.
type Window struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// validate checks a schedule; the field is relative to the schedule.
func (s *Schedule) validate() *FieldError {
	if len(s.Days) == 0 && len(s.Hours) == 0 {
		return &FieldError{Field: "", Reason: "neither days nor hours (omit schedule to show the notice every day, all day)"}
	}
	if len(s.Days) > len(scheduleDays) {
		return &FieldError{Field: "days", Reason: fmt.Sprintf("%d days (at most %d, each once)", len(s.Days), len(scheduleDays))}
	}
	for i, d := range s.Days {
		if !slices.Contains(scheduleDays[:], d) {
			return &FieldError{Field: fmt.Sprintf("days[%d]", i), Reason: fmt.Sprintf("unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", d)}
		}
		if j := slices.Index(s.Days, d); j < i {
			return &FieldError{Field: fmt.Sprintf("days[%d]", i), Reason: fmt.Sprintf("%q is days[%d] already", d, j)}
		}
	}
	if len(s.Hours) > MaxScheduleWindows {
		return &FieldError{Field: "hours", Reason: fmt.Sprintf("%d windows (at most %d)", len(s.Hours), MaxScheduleWindows)}
	}
	for i, w := range s.Hours {
		from, ok := parseClock(w.From, false)
		if !ok {
			return &FieldError{Field: fmt.Sprintf("hours[%d].from", i), Reason: fmt.Sprintf("%q is not a time HH:MM from 00:00 to 23:59", w.From)}
		}
		to, ok := parseClock(w.To, true)
		if !ok {
			return &FieldError{Field: fmt.Sprintf("hours[%d].to", i), Reason: fmt.Sprintf("%q is not a time HH:MM from 00:01 to 24:00", w.To)}
		}
		if from >= to {
			reason := fmt.Sprintf("%s is not after from %s", w.To, w.From)
			if from > to {
				reason += fmt.Sprintf("; a window cannot span midnight: use two windows, %s-24:00 and 00:00-%s", w.From, w.To)
			}
			return &FieldError{Field: fmt.Sprintf("hours[%d].to", i), Reason: reason}
		}
		for j, o := range s.Hours[:i] {
			of, _ := parseClock(o.From, false)
			ot, _ := parseClock(o.To, true)
			if from < ot && of < to {
				return &FieldError{Field: fmt.Sprintf("hours[%d]", i), Reason: fmt.Sprintf("%s-%s overlaps hours[%d] %s-%s (join them into one window)", w.From, w.To, j, o.From, o.To)}
			}
		}
	}
	return nil
}

// parseClock reads "HH:MM" as minutes of the day; end allows "24:00", the
// end of the day, and refuses "00:00".
func parseClock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range [...]int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	mins := h*60 + m
	switch {
	case m > 59:
		return 0, false
	case end:
		return mins, mins > 0 && mins <= 24*60
	default:
		return mins, h < 24
	}
}

// onDay reports whether the schedule shows on a weekday.
func (s *Schedule) onDay(d time.Weekday) bool {
	if len(s.Days) == 0 {
		return true
	}
	// time.Weekday counts from Sunday; scheduleDays from Monday.
	return slices.Contains(s.Days, scheduleDays[(d+6)%7])
}

// covers reports whether wall, a time on the screen's clock, falls in the
// schedule. The comparison is on the wall clock, so on the days the clocks
// change a window follows them: 02:00-03:00 does not happen on the last
// Sunday of March in Europe and happens twice on the last one of October.
func (s *Schedule) covers(wall time.Time) bool {
	if !s.onDay(wall.Weekday()) {
		return false
	}
	if len(s.Hours) == 0 {
		return true
	}
	sec := wall.Hour()*3600 + wall.Minute()*60 + wall.Second()
	for _, w := range s.Hours {
		from, ok1 := parseClock(w.From, false)
		to, ok2 := parseClock(w.To, true)
		if ok1 && ok2 && sec >= from*60 && sec < to*60 {
			return true
		}
	}
	return false
}

// ShownAt reports whether the notice is shown at t on a screen whose clock
// is in loc (nil: UTC): within its validity window and, if it has one, its
// schedule.
func (n *Notice) ShownAt(t time.Time, loc *time.Location) bool {
	if !n.Active(t) {
		return false
	}
	if n.Schedule == nil {
		return true
	}
	if loc == nil {
		loc = time.UTC
	}
	return n.Schedule.covers(t.In(loc))
}

// NextShown returns the first instant at or after after when the notice is
// shown on a screen whose clock is in loc (nil: UTC), in loc; false when it
// is not shown within NextShownHorizon (or ever again).
func (n *Notice) NextShown(after time.Time, loc *time.Location) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	start := after
	if start.Before(n.ValidFrom) {
		start = n.ValidFrom
	}
	if n.ShownAt(start, loc) {
		return start.In(loc), true
	}
	if n.Schedule == nil || (n.ValidUntil != nil && !start.Before(*n.ValidUntil)) {
		return time.Time{}, false
	}
	end := start.Add(NextShownHorizon)
	if n.ValidUntil != nil && n.ValidUntil.Before(end) {
		end = *n.ValidUntil
	}
	var starts []int // window starts, in minutes of the day, in order
	for _, w := range n.Schedule.Hours {
		if m, ok := parseClock(w.From, false); ok {
			starts = append(starts, m)
		}
	}
	if len(starts) == 0 {
		starts = []int{0}
	}
	slices.Sort(starts)
	// Between two changes of the zone's offset the wall clock is the
	// instant plus a constant: there a window opens exactly at its local
	// start. At a change itself the clock may jump into a window. These
	// are the only instants where the notice can start being shown, and
	// they are visited in order.
	for seg := start; seg.Before(end); {
		local := seg.In(loc)
		_, segEnd := local.ZoneBounds()
		if segEnd.IsZero() || segEnd.After(end) {
			segEnd = end
		}
		if !seg.Equal(start) && n.ShownAt(seg, loc) {
			return local, true
		}
		_, off := local.Zone()
		offset := time.Duration(off) * time.Second
		// Local midnight written as if it were UTC: adding minutes and
		// removing the offset gives the instant of a local time.
		day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
		for ; day.Add(-offset).Before(segEnd); day = day.AddDate(0, 0, 1) {
			if !n.Schedule.onDay(day.Weekday()) {
				continue
			}
			for _, m := range starts {
				c := day.Add(time.Duration(m)*time.Minute - offset)
				if c.After(seg) && c.Before(segEnd) && n.ShownAt(c, loc) {
					return c.In(loc), true
				}
			}
		}
		seg = segEnd
	}
	return time.Time{}, false
}
