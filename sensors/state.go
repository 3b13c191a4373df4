package sensors

import (
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Link states, as wire.State.Link carries them.
const (
	LinkStateOK   = "ok"   // the agent reads the controller
	LinkStateLost = "lost" // polling fails or samples stopped; the state is the last one known
)

// State is the cabin state the Machine believes: only confirmed signals, never
// a sample that is still being debounced. After a link loss it keeps the last
// known floor, doors and so on, with Link set to LinkStateLost.
type State struct {
	Time        time.Time // time of the last accepted sample
	Floor       int
	PositionMM  int64 // valid when HasPosition
	HasPosition bool
	Direction   string // wire.Direction*
	Moving      bool
	DoorZone    bool
	Doors       []string // wire.Door* per door, door A first
	Mode        string   // wire.Mode*; empty until the first confirmed sample
	Faults      []int    // active fault codes
	Alarm       bool
	Entrapment  bool // entrapment suspected and not cleared
	InService   bool
	Link        string // LinkStateOK or LinkStateLost
	Counters    wire.Counters
}

// ToWire converts the state to the snapshot the screen socket and the
// retained state topic carry. Uplink is left false: only the agent knows it.
func (s State) ToWire(site, cabin string) wire.State {
	w := wire.State{
		V:          wire.Version,
		Site:       site,
		Cabin:      cabin,
		Time:       s.Time.UTC(),
		Floor:      s.Floor,
		Direction:  s.Direction,
		Moving:     s.Moving,
		DoorZone:   s.DoorZone,
		Doors:      append([]string{}, s.Doors...),
		Mode:       s.Mode,
		Faults:     append([]int{}, s.Faults...),
		Alarm:      s.Alarm,
		Entrapment: s.Entrapment,
		InService:  s.InService,
		Link:       s.Link,
		Counters:   s.Counters,
	}
	if w.Direction == "" {
		w.Direction = wire.DirectionNone
	}
	if s.HasPosition {
		p := s.PositionMM
		w.PositionMM = &p
	}
	return w
}
