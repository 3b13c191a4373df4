package sensors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/wire"
)

// Contact names a contact map may wire.
const (
	ContactDoorOpen    = "door_open"    // door-open contact (door A)
	ContactDoorZone    = "door_zone"    // door-zone sensor
	ContactMoving      = "moving"       // car running relay
	ContactUp          = "up"           // travelling up relay
	ContactDown        = "down"         // travelling down relay
	ContactFault       = "fault"        // controller fault relay
	ContactAlarm       = "alarm"        // alarm button
	ContactInspection  = "inspection"   // inspection key switch
	ContactFireService = "fire_service" // fire service key or relay
)

func knownContact(name string) bool {
	switch name {
	case ContactDoorOpen, ContactDoorZone, ContactMoving, ContactUp, ContactDown,
		ContactFault, ContactAlarm, ContactInspection, ContactFireService:
		return true
	}
	return false
}

// Floor input encodings.
const (
	FloorsBinary      = "binary"        // the lines are the bits of the floor number, least significant first
	FloorsOnePerFloor = "one_per_floor" // one line per floor, lowest floor first
)

// ErrContactConflict means the contacts contradict each other (up and
// down together, two floor inputs at once): the reading is refused.
var ErrContactConflict = errors.New("contacts contradict each other")

// ErrNoFloor means no one-per-floor input has been on since the start
// (the car started between floors): the floor is unknown, not guessed.
var ErrNoFloor = errors.New("no floor input seen yet")

// ContactLine is one wired contact.
type ContactLine struct {
	Line      string        `yaml:"line"`
	ActiveLow bool          `yaml:"active_low"`
	Pull      string        `yaml:"pull"`     // up, down, none; empty leaves the line as is
	Debounce  time.Duration `yaml:"debounce"` // e.g. 30ms
	// FaultCode is the code reported while the fault relay is on
	// (fault contact only); default 1.
	FaultCode int    `yaml:"fault_code"`
	Doc       string `yaml:"doc"`
}

// FloorInputs wire the floor indication.
type FloorInputs struct {
	Encoding   string        `yaml:"encoding"`
	FirstFloor int           `yaml:"first_floor"` // floor index of value 0 / of the first line
	Lines      []ContactLine `yaml:"lines"`
}

// ContactMap is a validated wiring of dry contacts, the GPIO counterpart
// of a Profile.
type ContactMap struct {
	Name        string                 `yaml:"name"`
	Description string                 `yaml:"description"`
	Contacts    map[string]ContactLine `yaml:"contacts"`
	Floors      *FloorInputs           `yaml:"floors"`
	Source      string                 `yaml:"-"`
}

// LoadContactMap reads and validates a contact map file.
func LoadContactMap(path string) (*ContactMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load contact map: %w", err)
	}
	return ParseContactMap(path, bytes.NewReader(b))
}

// ParseContactMap decodes a contact map strictly and validates it, every
// problem at once (a *ValidationError).
func ParseContactMap(name string, r io.Reader) (*ContactMap, error) {
	var m ContactMap
	if err := decodeStrict("contact map", name, r, &m); err != nil {
		return nil, err
	}
	m.Source = name
	if m.Name == "" {
		m.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *ContactMap) validate() error {
	var probs []Problem
	add := func(sig, field, format string, args ...any) {
		probs = append(probs, Problem{Signal: sig, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	used := map[string]string{}
	checkLine := func(where string, c ContactLine) {
		if c.Line == "" {
			add(where, "line", "missing: the GPIO line name, e.g. GPIO17")
		} else if other, dup := used[c.Line]; dup {
			add(where, "line", "%s is already wired to %s", c.Line, other)
		} else {
			used[c.Line] = where
		}
		if _, err := gpio.ParsePull(c.Pull); err != nil {
			add(where, "pull", "%v", err)
		}
		if c.Debounce < 0 || c.Debounce > 10*time.Second {
			add(where, "debounce", "%v not in 0..10s", c.Debounce)
		}
		if c.FaultCode != 0 && where != ContactFault {
			add(where, "fault_code", "only the fault contact carries a fault code")
		}
		if c.FaultCode < 0 || c.FaultCode > 0xFFFF {
			add(where, "fault_code", "%d not in 1..65535", c.FaultCode)
		}
	}
	names := make([]string, 0, len(m.Contacts))
	for n := range m.Contacts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !knownContact(n) {
			add(n, "", "unknown contact (want door_open, door_zone, moving, up, down, fault, alarm, inspection or fire_service)")
			continue
		}
		checkLine(n, m.Contacts[n])
	}
	if m.Floors == nil {
		add("floors", "", "missing: the floor inputs are required")
	} else {
		f := m.Floors
		switch f.Encoding {
		case FloorsBinary:
			if len(f.Lines) < 1 || len(f.Lines) > 8 {
				add("floors", "lines", "%d lines for a binary floor number (want 1..8)", len(f.Lines))
			}
		case FloorsOnePerFloor:
			if len(f.Lines) < 2 || len(f.Lines) > 128 {
				add("floors", "lines", "%d lines, one per floor (want 2..128)", len(f.Lines))
			}
		default:
			add("floors", "encoding", "unknown encoding %q (want binary or one_per_floor)", f.Encoding)
		}
		for i, l := range f.Lines {
			checkLine(fmt.Sprintf("floors.lines[%d]", i), l)
		}
	}
	if len(probs) > 0 {
		return &ValidationError{File: m.Source, Problems: probs}
	}
	return nil
}

// ContactReader reads the contacts of a map and decodes Samples.
type ContactReader struct {
	m        *ContactMap
	inputs   map[string]*gpio.Input
	floors   []*gpio.Input
	lastFlr  int
	hasFloor bool
	// Now is the clock of the debounce and the sample time.
	Now func() time.Time
}

// NewContactReader opens every line of m with open (gpio.Host.Open on the
// cabin; gpiotest pins in tests).
func NewContactReader(m *ContactMap, open gpio.Opener) (*ContactReader, error) {
	r := &ContactReader{m: m, inputs: map[string]*gpio.Input{}, Now: time.Now}
	mk := func(c ContactLine) (*gpio.Input, error) {
		pin, err := open(c.Line)
		if err != nil {
			return nil, err
		}
		pull, err := gpio.ParsePull(c.Pull)
		if err != nil {
			return nil, err
		}
		return gpio.NewInput(pin, gpio.InputConfig{Line: c.Line, Pull: pull, ActiveLow: c.ActiveLow, Debounce: c.Debounce})
	}
	for name, c := range m.Contacts {
		in, err := mk(c)
		if err != nil {
			return nil, fmt.Errorf("contact map %s, contact %s: %w", m.Name, name, err)
		}
		r.inputs[name] = in
	}
	for i, c := range m.Floors.Lines {
		in, err := mk(c)
		if err != nil {
			return nil, fmt.Errorf("contact map %s, floor line %d: %w", m.Name, i, err)
		}
		r.floors = append(r.floors, in)
	}
	return r, nil
}

// Read samples every contact once.
func (r *ContactReader) Read(ctx context.Context) (Sample, error) {
	if err := ctx.Err(); err != nil {
		return Sample{}, err
	}
	now := r.Now()
	on := map[string]bool{}
	for name, in := range r.inputs {
		on[name] = in.Read(now)
	}
	s := Sample{Time: now, Direction: wire.DirectionNone, Mode: wire.ModeNormal}

	floor, err := r.floor(now)
	if err != nil {
		return Sample{}, fmt.Errorf("contact map %s: %w", r.m.Name, err)
	}
	s.Floor = floor

	switch up, down := on[ContactUp], on[ContactDown]; {
	case up && down:
		return Sample{}, fmt.Errorf("contact map %s: up and down relays both on: %w", r.m.Name, ErrContactConflict)
	case up:
		s.Direction = wire.DirectionUp
	case down:
		s.Direction = wire.DirectionDown
	}
	if _, ok := r.inputs[ContactMoving]; ok {
		s.Moving = on[ContactMoving]
	} else {
		s.Moving = s.Direction != wire.DirectionNone
	}
	if _, ok := r.inputs[ContactDoorZone]; ok {
		s.DoorZone = on[ContactDoorZone]
		s.Has |= HasDoorZone
	}
	if _, ok := r.inputs[ContactDoorOpen]; ok {
		// A contact tells open from closed only, not the movement.
		d := wire.DoorClosed
		if on[ContactDoorOpen] {
			d = wire.DoorOpen
		}
		s.Doors = []string{d}
	}
	if c, ok := r.m.Contacts[ContactFault]; ok {
		s.Has |= HasFault
		if on[ContactFault] {
			s.FaultCode = c.FaultCode
			if s.FaultCode == 0 {
				s.FaultCode = 1
			}
		}
	}
	if _, ok := r.inputs[ContactAlarm]; ok {
		s.Alarm = on[ContactAlarm]
		s.Has |= HasAlarm
	}
	// Inspection takes precedence: the technician on the car roof rules.
	switch {
	case on[ContactInspection]:
		s.Mode = wire.ModeInspection
	case on[ContactFireService]:
		s.Mode = wire.ModeFireService
	}
	return s, nil
}

// floor decodes the floor inputs; between floors (one-per-floor inputs all
// off) the last floor is kept.
func (r *ContactReader) floor(now time.Time) (int, error) {
	f := r.m.Floors
	switch f.Encoding {
	case FloorsBinary:
		v := 0
		for i, in := range r.floors {
			if in.Read(now) {
				v |= 1 << i
			}
		}
		r.lastFlr, r.hasFloor = f.FirstFloor+v, true
	default:
		active := -1
		for i, in := range r.floors {
			if in.Read(now) {
				if active >= 0 {
					return 0, fmt.Errorf("floor inputs %d and %d both on: %w", active, i, ErrContactConflict)
				}
				active = i
			}
		}
		if active >= 0 {
			r.lastFlr, r.hasFloor = f.FirstFloor+active, true
		}
	}
	if !r.hasFloor {
		return 0, ErrNoFloor
	}
	return r.lastFlr, nil
}

// Levels returns the raw level of every wired line by contact name, for
// the installer's live probe.
func (r *ContactReader) Levels() map[string]bool {
	out := map[string]bool{}
	for name, in := range r.inputs {
		out[name+" ("+in.Line()+")"] = in.Raw()
	}
	for i, in := range r.floors {
		out[fmt.Sprintf("floor line %d (%s)", i, in.Line())] = in.Raw()
	}
	return out
}
