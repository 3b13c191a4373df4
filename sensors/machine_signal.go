package sensors

import (
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Enumerations are kept as small integers inside the Machine so that a sample
// that changes nothing is compared without allocating.
const (
	dirNone uint8 = iota
	dirUp
	dirDown
)

func dirName(d uint8) string {
	switch d {
	case dirUp:
		return wire.DirectionUp
	case dirDown:
		return wire.DirectionDown
	}
	return wire.DirectionNone
}

const (
	doorClosed uint8 = iota
	doorOpening
	doorOpen
	doorClosing
	doorBlocked
)

func doorName(d uint8) string {
	switch d {
	case doorOpening:
		return wire.DoorOpening
	case doorOpen:
		return wire.DoorOpen
	case doorClosing:
		return wire.DoorClosing
	case doorBlocked:
		return wire.DoorBlocked
	}
	return wire.DoorClosed
}

const (
	modeNormal uint8 = iota
	modeInspection
	modeFireService
	modeOutOfService
	modeOverload
	modeEmergencyPower
)

func modeName(m uint8) string {
	switch m {
	case modeInspection:
		return wire.ModeInspection
	case modeFireService:
		return wire.ModeFireService
	case modeOutOfService:
		return wire.ModeOutOfService
	case modeOverload:
		return wire.ModeOverload
	case modeEmergencyPower:
		return wire.ModeEmergencyPower
	}
	return wire.ModeNormal
}

// doorLetter names a door in door_cycle events when a car has several.
func doorLetter(i int) string { return string(rune('A' + i)) }

func parseDir(s string) (uint8, bool) {
	switch s {
	case wire.DirectionNone, "": // "" = the source does not report direction
		return dirNone, true
	case wire.DirectionUp:
		return dirUp, true
	case wire.DirectionDown:
		return dirDown, true
	}
	return 0, false
}

func parseDoor(s string) (uint8, bool) {
	switch s {
	case wire.DoorClosed:
		return doorClosed, true
	case wire.DoorOpening:
		return doorOpening, true
	case wire.DoorOpen:
		return doorOpen, true
	case wire.DoorClosing:
		return doorClosing, true
	case wire.DoorBlocked:
		return doorBlocked, true
	}
	return 0, false
}

func parseMode(s string) (uint8, bool) {
	switch s {
	case wire.ModeNormal, "": // "" = the source has no mode signal
		return modeNormal, true
	case wire.ModeInspection:
		return modeInspection, true
	case wire.ModeFireService:
		return modeFireService, true
	case wire.ModeOutOfService:
		return modeOutOfService, true
	case wire.ModeOverload:
		return modeOverload, true
	case wire.ModeEmergencyPower:
		return modeEmergencyPower, true
	}
	return 0, false
}

// doorSet is the state of every door, comparable as one signal.
type doorSet struct {
	n int8
	s [MaxDoors]uint8
}

func (d doorSet) allClosed() bool {
	for i := int8(0); i < d.n; i++ {
		if d.s[i] != doorClosed {
			return false
		}
	}
	return true
}

// at returns door i's state; a door the set does not have counts as closed.
func (d doorSet) at(i int) uint8 {
	if i < int(d.n) {
		return d.s[i]
	}
	return doorClosed
}

// outcome is what one observation did to a debounced signal.
type outcome uint8

const (
	unchanged outcome = iota // same as the believed value
	held                     // a new value is waiting for confirmation
	committed                // the waiting value is now believed
	reverted                 // the waiting value was not confirmed: a glitch
)

// signal is one debounced controller signal. A new value becomes believed
// (committed) once it has been seen by at least two consecutive samples
// spanning at least the debounce time. Until then the believed value stays,
// so a single corrupted sample can never change it.
type signal[T comparable] struct {
	val   T    // believed value, valid when known
	known bool // false at start and after a link loss
	cand  T    // value waiting for confirmation, valid when held
	held  bool
	seen  int       // consecutive samples that showed cand
	since time.Time // when cand was first seen: the time of the change
}

func (f *signal[T]) observe(v T, t time.Time, debounce time.Duration) outcome {
	if f.known && v == f.val {
		if f.held {
			f.held = false
			return reverted
		}
		return unchanged
	}
	if f.held && v == f.cand {
		f.seen++
		if f.seen >= 2 && t.Sub(f.since) >= debounce {
			f.val, f.known, f.held = v, true, false
			return committed
		}
		return held
	}
	f.cand, f.held, f.seen, f.since = v, true, 1, t
	return held
}

// forget marks the signal unknown after a link loss; the last value stays for
// display.
func (f *signal[T]) forget() { f.known, f.held = false, false }

// drop discards a waiting value without forgetting the believed one.
func (f *signal[T]) drop() { f.held = false }
