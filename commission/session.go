package commission

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// Source gives one reading of the controller: every mapped signal as the
// installer reads it and the Sample decoded from the same reading, and
// what to check after a failure. *sensors.ControllerSource is one.
type Source interface {
	Signals(ctx context.Context) (map[string]string, sensors.Sample, error)
	Hint(err error) string
}

// Config is what a Session reads and how.
type Config struct {
	Source Source
	// Name says what is read, for the report (sensors.Controller.Name).
	Name string
	// Events are the state machine's thresholds, with the profile's fault
	// texts (sensors.Controller.FaultInfo).
	Events sensors.MachineConfig
	// Now is the session's clock; nil is time.Now.
	Now func() time.Time
}

// Session is one commissioning run: the readings and the tally.
type Session struct {
	src     Source
	name    string
	now     func() time.Time
	machine *sensors.Machine
	poller  sensors.Poller

	started            time.Time
	polls, pollErrors  uint64
	trips, doorCycles  uint64
	reopens            uint64
	floors             map[int]bool
	dirs, modes        map[string]bool
	faults             map[int]bool
	alarm, entrapment  bool
	first, cur         map[string]string
	changed            map[string]bool
	hasAlarm, hasFault bool
	hasDoors           bool
	lastErr            string
}

// New prepares a session; Run runs it.
func New(cfg Config) *Session {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := sensors.NewMachine(cfg.Events, wire.Counters{})
	return &Session{
		src: cfg.Source, name: cfg.Name, now: cfg.Now,
		machine: m, poller: sensors.Poller{M: m},
		floors: map[int]bool{}, dirs: map[string]bool{}, modes: map[string]bool{}, faults: map[int]bool{},
		changed: map[string]bool{},
	}
}

// Run reads the controller every interval until ctx is done, calling
// polled after each reading (the command redraws its view there).
func (s *Session) Run(ctx context.Context, interval time.Duration, polled func()) {
	s.started = s.now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var events []wire.Event
	for {
		vals, sample, err := s.src.Signals(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		s.polls++
		if err != nil {
			s.pollErrors++
			s.lastErr = err.Error()
			if h := s.src.Hint(err); h != "" {
				s.lastErr += " (" + h + ")"
			}
		} else {
			s.lastErr = ""
			s.sampled(vals, sample)
		}
		events, _ = s.poller.Apply(events[:0], s.now(), sample, err)
		s.tally(events)
		if st := s.machine.State(); st.Link == sensors.LinkStateOK && err == nil {
			if st.Mode != "" {
				s.modes[st.Mode] = true
			}
			// The machine's floor is 0 until confirmed: count it once the
			// reading agrees.
			if !st.Moving && !sample.Moving && st.Floor == sample.Floor {
				s.floors[st.Floor] = true
			}
		}
		polled()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Session) sampled(vals map[string]string, sample sensors.Sample) {
	if s.first == nil {
		s.first = vals
		s.hasAlarm = sample.Has&sensors.HasAlarm != 0
		s.hasFault = sample.Has&sensors.HasFault != 0
		s.hasDoors = len(sample.Doors) > 0
	}
	for n, v := range vals {
		if f, ok := s.first[n]; ok && f != v {
			s.changed[n] = true
		}
	}
	s.cur = vals
}

// tally counts what the state machine reported.
func (s *Session) tally(events []wire.Event) {
	for _, ev := range events {
		switch ev.Type {
		case wire.TypeTrip:
			var d wire.TripData
			if json.Unmarshal(ev.Data, &d) == nil {
				s.trips++
				s.dirs[d.Direction] = true
				s.floors[d.From], s.floors[d.To] = true, true
			}
		case wire.TypeDoorCycle:
			var d wire.DoorCycleData
			if json.Unmarshal(ev.Data, &d) == nil {
				s.doorCycles++
				s.reopens += uint64(d.Reopens)
			}
		case wire.TypeFault:
			var d wire.FaultData
			if json.Unmarshal(ev.Data, &d) == nil && d.Active {
				s.faults[d.Code] = true
			}
		case wire.TypeAlarm:
			var d wire.AlarmData
			if json.Unmarshal(ev.Data, &d) == nil && d.Active {
				s.alarm = true
			}
		case wire.TypeEntrapment:
			var d wire.EntrapmentData
			if json.Unmarshal(ev.Data, &d) == nil && d.Active {
				s.entrapment = true
			}
		}
	}
}

// Name says what is read.
func (s *Session) Name() string { return s.name }

// Started is when Run began.
func (s *Session) Started() time.Time { return s.started }

// Signals is the last good reading by signal name; the caller must not
// change it.
func (s *Session) Signals() map[string]string { return s.cur }

// Changed reports whether a signal changed at least once since the first
// good reading.
func (s *Session) Changed(name string) bool { return s.changed[name] }

// State is the state machine's view of the cabin.
func (s *Session) State() sensors.State { return s.machine.State() }

// LastError is the last poll's failure with its hint, "" after a good
// poll.
func (s *Session) LastError() string { return s.lastErr }

// Tally is what a session has seen so far, the lists sorted.
type Tally struct {
	Trips, DoorCycles, Reopens uint64
	Directions, Modes          []string
	Floors, Faults             []int
	Alarm                      bool
	PollErrors                 uint64
}

// Tally returns what the session has seen so far.
func (s *Session) Tally() Tally {
	return Tally{
		Trips: s.trips, DoorCycles: s.doorCycles, Reopens: s.reopens,
		Directions: slices.Sorted(maps.Keys(s.dirs)), Modes: slices.Sorted(maps.Keys(s.modes)),
		Floors: slices.Sorted(maps.Keys(s.floors)), Faults: slices.Sorted(maps.Keys(s.faults)),
		Alarm: s.alarm, PollErrors: s.pollErrors,
	}
}

// Report is the tally as the wire carries it, with what is left to test.
func (s *Session) Report() wire.CommissionReportData {
	d := wire.CommissionReportData{
		Started:    s.started.UTC(),
		DurationS:  s.now().Sub(s.started).Round(time.Millisecond).Seconds(),
		Source:     s.name,
		Polls:      s.polls,
		PollErrors: s.pollErrors,
		Trips:      s.trips,
		DoorCycles: s.doorCycles,
		Reopens:    s.reopens,
		Floors:     slices.Sorted(maps.Keys(s.floors)),
		Directions: slices.Sorted(maps.Keys(s.dirs)),
		Modes:      slices.Sorted(maps.Keys(s.modes)),
		Faults:     slices.Sorted(maps.Keys(s.faults)),
		Alarm:      s.alarm,
		Entrapment: s.entrapment,
		Unchanged:  []string{},
	}
	for _, n := range slices.Sorted(maps.Keys(s.first)) {
		if !s.changed[n] {
			d.Unchanged = append(d.Unchanged, n)
		}
	}
	for _, f := range []*[]int{&d.Floors, &d.Faults} {
		if *f == nil {
			*f = []int{}
		}
	}
	for _, f := range []*[]string{&d.Directions, &d.Modes} {
		if *f == nil {
			*f = []string{}
		}
	}
	d.NotSeen = s.notSeen(d)
	return d
}

// notSeen says, in the installer's words, what the session did not show:
// only what the source can show at all.
func (s *Session) notSeen(d wire.CommissionReportData) []string {
	out := []string{}
	if s.first == nil {
		return append(out, "any good reading of the controller (every poll failed)")
	}
	if !s.dirs[wire.DirectionUp] {
		out = append(out, "a trip up")
	}
	if !s.dirs[wire.DirectionDown] {
		out = append(out, "a trip down")
	}
	if s.hasDoors && d.DoorCycles == 0 {
		out = append(out, "a door cycle (doors opening and closing at a floor)")
	}
	if s.hasDoors && d.Reopens == 0 {
		out = append(out, "a door reopen (doors reopening while closing)")
	}
	if s.hasAlarm && !d.Alarm {
		out = append(out, "the alarm button pressed")
	}
	if s.hasFault && len(d.Faults) == 0 {
		out = append(out, "a controller fault")
	}
	if s.modeMapped() && !s.modes[wire.ModeInspection] {
		out = append(out, "inspection mode")
	}
	for _, n := range d.Unchanged {
		out = append(out, fmt.Sprintf("signal %s never changed (always %s)", n, s.first[n]))
	}
	return out
}

func (s *Session) modeMapped() bool {
	for n := range s.first {
		if n == "mode" || strings.Contains(n, "inspection") {
			return true
		}
	}
	return false
}
