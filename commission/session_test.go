package commission_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/palier-lifts/palier/commission"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// step is what the scripted controller shows for a number of polls.
type step struct {
	polls int
	floor int
	dir   string
	door  string
	err   error
}

// scripted is a controller that plays steps, one poll every 100 ms of its
// own clock, and then holds the last step.
type scripted struct {
	steps []step
	i, n  int
	t     time.Time
}

func (s *scripted) now() time.Time { return s.t }

func (s *scripted) Signals(ctx context.Context) (map[string]string, sensors.Sample, error) {
	s.t = s.t.Add(100 * time.Millisecond)
	st := s.steps[s.i]
	if s.n++; s.n >= st.polls && s.i < len(s.steps)-1 {
		s.i, s.n = s.i+1, 0
	}
	if st.err != nil {
		return nil, sensors.Sample{}, st.err
	}
	moving := st.dir != wire.DirectionNone
	sample := sensors.Sample{Time: s.t, Floor: st.floor, Direction: st.dir, Moving: moving, DoorZone: !moving,
		Doors: []string{st.door}, Mode: wire.ModeNormal, Has: sensors.HasDoorZone | sensors.HasAlarm}
	vals := map[string]string{"floor": strconv.Itoa(st.floor), "direction": st.dir, "door_a": st.door, "alarm": "0", "mode": wire.ModeNormal}
	return vals, sample, nil
}

func (s *scripted) Hint(err error) string { return "check the wiring" }

// run plays src to its last step and a few polls more.
func run(t *testing.T, src *scripted) *commission.Session {
	t.Helper()
	total := 5
	for _, st := range src.steps {
		total += st.polls
	}
	s := commission.New(commission.Config{Source: src, Name: "profile scripted", Events: sensors.DefaultMachineConfig(), Now: src.now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	s.Run(ctx, time.Microsecond, func() {
		if polls++; polls == total {
			cancel()
		}
	})
	return s
}

func TestSessionTalliesATripAndADoorCycle(t *testing.T) {
	src := &scripted{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), steps: []step{
		{polls: 10, floor: 0, dir: wire.DirectionNone, door: wire.DoorClosed},
		{polls: 10, floor: 0, dir: wire.DirectionUp, door: wire.DoorClosed},
		{polls: 10, floor: 1, dir: wire.DirectionUp, door: wire.DoorClosed},
		{polls: 10, floor: 2, dir: wire.DirectionUp, door: wire.DoorClosed},
		{polls: 10, floor: 2, dir: wire.DirectionNone, door: wire.DoorClosed},
		{polls: 10, floor: 2, dir: wire.DirectionNone, door: wire.DoorOpen},
		{polls: 10, floor: 2, dir: wire.DirectionNone, door: wire.DoorClosed},
	}}
	s := run(t, src)
	rep := s.Report()
	if rep.Trips != 1 || rep.DoorCycles != 1 || rep.Reopens != 0 || !slices.Equal(rep.Directions, []string{"up"}) {
		t.Errorf("trips %d %v, door cycles %d, reopens %d; want 1 [up], 1, 0", rep.Trips, rep.Directions, rep.DoorCycles, rep.Reopens)
	}
	if !slices.Contains(rep.Floors, 0) || !slices.Contains(rep.Floors, 2) || !slices.Equal(rep.Modes, []string{"normal"}) {
		t.Errorf("floors %v, modes %v", rep.Floors, rep.Modes)
	}
	if rep.Source != "profile scripted" || rep.PollErrors != 0 || rep.Polls < 70 {
		t.Errorf("source %q, polls %d, poll errors %d", rep.Source, rep.Polls, rep.PollErrors)
	}
	want := []string{"a trip down", "a door reopen (doors reopening while closing)", "the alarm button pressed", "inspection mode",
		"signal alarm never changed (always 0)", "signal mode never changed (always normal)"}
	if !slices.Equal(rep.NotSeen, want) {
		t.Errorf("not seen %q\nwant %q", rep.NotSeen, want)
	}
	if !slices.Equal(rep.Unchanged, []string{"alarm", "mode"}) || !s.Changed("floor") || s.Changed("alarm") {
		t.Errorf("unchanged %v", rep.Unchanged)
	}
	if tl := s.Tally(); tl.Trips != rep.Trips || !slices.Equal(tl.Floors, rep.Floors) || tl.DoorCycles != rep.DoorCycles {
		t.Errorf("tally %+v differs from the report %+v", tl, rep)
	}
	if got := s.Signals()["floor"]; got != "2" {
		t.Errorf("last reading shows floor %q, want 2", got)
	}
}

func TestSessionWithoutAGoodReadingSaysSo(t *testing.T) {
	src := &scripted{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), steps: []step{{polls: 5, err: errors.New("no answer")}}}
	s := run(t, src)
	rep := s.Report()
	if rep.Polls != 10 || rep.PollErrors != 10 || rep.Trips != 0 {
		t.Errorf("polls %d, poll errors %d, trips %d", rep.Polls, rep.PollErrors, rep.Trips)
	}
	if !slices.Equal(rep.NotSeen, []string{"any good reading of the controller (every poll failed)"}) {
		t.Errorf("not seen %q", rep.NotSeen)
	}
	if len(rep.Unchanged) != 0 || rep.Floors == nil || rep.Directions == nil || rep.Modes == nil || rep.Faults == nil {
		t.Errorf("a report of nothing must carry empty lists, not null: %+v", rep)
	}
	if got := s.LastError(); got != "no answer (check the wiring)" {
		t.Errorf("last error %q, want the error and its hint", got)
	}
}
