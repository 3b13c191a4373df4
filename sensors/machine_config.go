package sensors

import (
	"fmt"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// MaxDoors is the number of car doors the Machine tracks (door A first).
const MaxDoors = 4

// MachineConfig holds the thresholds of the cabin state machine. Start from
// DefaultMachineConfig and override what the installation needs.
type MachineConfig struct {
	// HeartbeatInterval is how often Tick emits a heartbeat with the counters.
	// Default 5 min.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// EntrapmentAfter is how long the car may stand outside the door zone
	// with its doors closed before entrapment is suspected. Default 60 s.
	EntrapmentAfter time.Duration `yaml:"entrapment_after"`
	// DoorOpenTooLong is how long a door may stay out of "closed" in normal
	// mode before door_open_too_long is emitted (once per door cycle).
	// Default 2 min.
	DoorOpenTooLong time.Duration `yaml:"door_open_too_long"`
	// TripTooLong is how long a trip may last before trip_too_long is emitted
	// (once per trip; not in inspection, where the car creeps). Default 90 s.
	TripTooLong time.Duration `yaml:"trip_too_long"`
	// NoMovementWithCalls is how long the car may stand still in normal mode
	// while the controller reports pending calls before the cabin is declared
	// out of service. Default 5 min.
	NoMovementWithCalls time.Duration `yaml:"no_movement_with_calls"`
	// StandbyAfter splits stopped time into idle (less than this since the
	// last movement or door activity) and standby. Default 5 min.
	StandbyAfter time.Duration `yaml:"standby_after"`
	// Debounce is how long a changed signal must persist before it is
	// believed. A change is also always confirmed by a second sample, so a
	// single corrupted sample never produces an event. Default 200 ms.
	Debounce time.Duration `yaml:"debounce"`
	// MaxSampleGap is the longest silence between samples that still counts
	// as continuous reading; a longer gap is handled like LinkLost. Default 10 s.
	MaxSampleGap time.Duration `yaml:"max_sample_gap"`
	// MaxFloorsPerSecond bounds how fast the floor number may change: a jump
	// of more than 1+MaxFloorsPerSecond*interval floors is implausible.
	// Default 2.
	MaxFloorsPerSecond float64 `yaml:"max_floors_per_second"`
	// MinFloor and MaxFloor are the floors the controller may report; a
	// sample outside is dropped. Default -10 and 100 (also used when both
	// are left at zero).
	MinFloor int `yaml:"min_floor"`
	MaxFloor int `yaml:"max_floor"`
	// FloorLevelsMM, when set, gives the level position of each floor (index
	// floor-MinFloor) so that a stop off level raises levelling_error. It is
	// only used when samples carry a position.
	FloorLevelsMM []int64 `yaml:"floor_levels_mm"`
	// LevellingToleranceMM is the largest stop offset that is not a
	// levelling error. Default 20 mm.
	LevellingToleranceMM int64 `yaml:"levelling_tolerance_mm"`
	// FaultInfo gives a fault code's text and severity (wire.Severity*),
	// usually from the controller profile's fault table. When nil or when it
	// returns an empty severity, the fault is reported as wire.SeverityError
	// without text.
	FaultInfo func(code int) (text, severity string) `yaml:"-"`
}

// DefaultMachineConfig returns the documented defaults.
func DefaultMachineConfig() MachineConfig {
	return MachineConfig{
		HeartbeatInterval:    5 * time.Minute,
		EntrapmentAfter:      60 * time.Second,
		DoorOpenTooLong:      2 * time.Minute,
		TripTooLong:          90 * time.Second,
		NoMovementWithCalls:  5 * time.Minute,
		StandbyAfter:         5 * time.Minute,
		Debounce:             200 * time.Millisecond,
		MaxSampleGap:         10 * time.Second,
		MaxFloorsPerSecond:   2,
		MinFloor:             -10,
		MaxFloor:             100,
		LevellingToleranceMM: 20,
	}
}

// Validate checks the configuration and names the field that is wrong.
func (c MachineConfig) Validate() error {
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"heartbeat_interval", c.HeartbeatInterval},
		{"entrapment_after", c.EntrapmentAfter},
		{"door_open_too_long", c.DoorOpenTooLong},
		{"trip_too_long", c.TripTooLong},
		{"no_movement_with_calls", c.NoMovementWithCalls},
		{"standby_after", c.StandbyAfter},
		{"max_sample_gap", c.MaxSampleGap},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return fmt.Errorf("machine config: %s is %v (want a positive duration)", p.name, p.d)
		}
	}
	if c.Debounce < 0 {
		return fmt.Errorf("machine config: debounce is %v (want 0 or more)", c.Debounce)
	}
	if c.Debounce >= c.MaxSampleGap {
		return fmt.Errorf("machine config: debounce %v is not shorter than max_sample_gap %v", c.Debounce, c.MaxSampleGap)
	}
	if !(c.MaxFloorsPerSecond > 0) {
		return fmt.Errorf("machine config: max_floors_per_second is %v (want more than 0)", c.MaxFloorsPerSecond)
	}
	if c.MaxFloor < c.MinFloor {
		return fmt.Errorf("machine config: max_floor %d is below min_floor %d", c.MaxFloor, c.MinFloor)
	}
	if n := len(c.FloorLevelsMM); n != 0 && n != c.MaxFloor-c.MinFloor+1 {
		return fmt.Errorf("machine config: floor_levels_mm has %d entries (want one per floor from %d to %d: %d)", n, c.MinFloor, c.MaxFloor, c.MaxFloor-c.MinFloor+1)
	}
	if c.LevellingToleranceMM < 0 {
		return fmt.Errorf("machine config: levelling_tolerance_mm is %d (want 0 or more)", c.LevellingToleranceMM)
	}
	return nil
}

// withDefaults fills the thresholds a caller left at zero, where zero would
// make the machine fire on every tick.
func (c MachineConfig) withDefaults() MachineConfig {
	d := DefaultMachineConfig()
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&c.HeartbeatInterval, d.HeartbeatInterval)
	fill(&c.EntrapmentAfter, d.EntrapmentAfter)
	fill(&c.DoorOpenTooLong, d.DoorOpenTooLong)
	fill(&c.TripTooLong, d.TripTooLong)
	fill(&c.NoMovementWithCalls, d.NoMovementWithCalls)
	fill(&c.StandbyAfter, d.StandbyAfter)
	fill(&c.MaxSampleGap, d.MaxSampleGap)
	if c.Debounce < 0 {
		c.Debounce = 0
	}
	if !(c.MaxFloorsPerSecond > 0) {
		c.MaxFloorsPerSecond = d.MaxFloorsPerSecond
	}
	if c.MaxFloor < c.MinFloor || (c.MinFloor == 0 && c.MaxFloor == 0) {
		c.MinFloor, c.MaxFloor = d.MinFloor, d.MaxFloor
	}
	if len(c.FloorLevelsMM) != c.MaxFloor-c.MinFloor+1 {
		c.FloorLevelsMM = nil
	}
	return c
}

// faultInfo looks a fault code up, falling back to an untitled error.
func (c *MachineConfig) faultInfo(code int) (string, string) {
	if c.FaultInfo == nil {
		return "", wire.SeverityError
	}
	text, sev := c.FaultInfo(code)
	switch sev {
	case wire.SeverityError, wire.SeveritySelfClearing, wire.SeveritySpecialMode:
	default:
		sev = wire.SeverityError
	}
	return text, sev
}
