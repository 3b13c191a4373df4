package wire

import (
	"fmt"
	"time"
)

// State is a snapshot of a cabin: what the screen shows and what the
// retained state topic carries.
type State struct {
	V          int       `json:"v"`
	Site       string    `json:"site"`
	Cabin      string    `json:"cabin"`
	Time       time.Time `json:"time"`
	Floor      int       `json:"floor"`
	PositionMM *int64    `json:"position_mm,omitempty"`
	Direction  string    `json:"direction"`
	Moving     bool      `json:"moving"`
	DoorZone   bool      `json:"door_zone"`
	Doors      []string  `json:"doors"`
	Mode       string    `json:"mode"`
	Faults     []int     `json:"faults"`
	Alarm      bool      `json:"alarm"`
	// AlarmProgress says how far the current alarm got, while Alarm is
	// set: AlarmRegistered, AlarmDelivered or AlarmAcknowledged. Empty
	// from agents before it existed.
	AlarmProgress string `json:"alarm_progress,omitempty"`
	// Entrapment says passengers may be trapped (suspected, not cleared).
	Entrapment bool `json:"entrapment"`
	// InService is false while the cabin is out of service.
	InService bool `json:"in_service"`
	// Link says whether the agent currently reads the controller ("ok") or
	// not ("lost"); the screen keeps the last floor but may say so.
	Link string `json:"link"`
	// Uplink says whether the agent is connected to the broker.
	Uplink   bool     `json:"uplink"`
	Counters Counters `json:"counters"`
}

// DecodeState decodes and validates a state snapshot.
func DecodeState(b []byte) (State, error) { return decodeState(b, false) }

// DecodeStateForward decodes a state snapshot as a receiver must, so that
// agents and receivers can be upgraded in either order: fields it does not
// know (added by a newer agent, as alarm_progress was) are ignored; those
// it knows are checked as strictly as DecodeState does.
func DecodeStateForward(b []byte) (State, error) { return decodeState(b, true) }

func decodeState(b []byte, forward bool) (State, error) {
	var s State
	if len(b) > 64<<10 {
		return s, fmt.Errorf("state of %d bytes: %w", len(b), ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return s, err
	}
	decode := decodeStrict
	if forward {
		decode = decodeKnown
	}
	if err := decode(b, &s); err != nil {
		return State{}, err
	}
	if err := ValidateID(s.Site); err != nil {
		return State{}, fieldErr("site", "%v", err)
	}
	if err := ValidateID(s.Cabin); err != nil {
		return State{}, fieldErr("cabin", "%v", err)
	}
	switch s.Direction {
	case DirectionNone, DirectionUp, DirectionDown:
	default:
		return State{}, fieldErr("direction", "unknown direction %q (want none, up or down)", s.Direction)
	}
	switch s.AlarmProgress {
	case "", AlarmRegistered, AlarmDelivered, AlarmAcknowledged:
	default:
		return State{}, fieldErr("alarm_progress", "%q (want %s, %s or %s)", s.AlarmProgress, AlarmRegistered, AlarmDelivered, AlarmAcknowledged)
	}
	return s, nil
}
