package simulator

import (
	"math"
	"time"
)

// Door states as the register map encodes them.
const (
	DoorClosed  uint16 = 0
	DoorOpening uint16 = 1
	DoorOpen    uint16 = 2
	DoorClosing uint16 = 3
	DoorBlocked uint16 = 4
)

// Modes as the register map encodes them.
const (
	ModeNormal         uint16 = 0
	ModeInspection     uint16 = 1
	ModeFireService    uint16 = 2
	ModeOutOfService   uint16 = 3
	ModeOverload       uint16 = 4
	ModeEmergencyPower uint16 = 5
)

// modeByName maps scenario names (the wire.Mode* names) to register values.
func modeByName(name string) (uint16, bool) {
	switch name {
	case "normal":
		return ModeNormal, true
	case "inspection":
		return ModeInspection, true
	case "fire_service":
		return ModeFireService, true
	case "out_of_service":
		return ModeOutOfService, true
	case "overload":
		return ModeOverload, true
	case "emergency_power":
		return ModeEmergencyPower, true
	}
	return 0, false
}

// Status bits of register 3.
const (
	StatusMoving uint16 = 1 << iota
	StatusUp
	StatusDown
	StatusDoorZone
	StatusAlarm
	StatusCalls
)

// Register addresses of the map (holding registers of the slave; the
// input registers mirror them).
const (
	RegFloor    = 0
	RegPosition = 1 // u32, high word first
	RegStatus   = 3
	RegDoorA    = 4
	RegDoorB    = 5
	RegMode     = 6
	RegFault    = 7
	RegLoad     = 8
	RegTrips    = 9 // u32, high word first
	NumRegs     = 11
)

// doorZoneMM is the half-width of the door zone around a floor level.
const doorZoneMM = 150

// car is the elevator model. It advances only through step, so it is
// deterministic and testable without a clock.
type car struct {
	floors   int
	heightMM float64
	speed    float64 // mm/s
	tOpening time.Duration
	tOpen    time.Duration
	tClosing time.Duration

	pos    float64 // mm above the lowest floor
	dir    int     // -1, 0, +1: committed direction
	moving bool
	target int
	calls  []bool

	door       uint16
	doorT      time.Duration
	reopen     bool // reopen at the next closing
	mode       uint16
	fault      uint16
	alarm      bool
	load       uint16
	trips      uint32
	halted     bool    // stopped between floors
	haltAt     float64 // position where a pending stop happens, or NaN
	powerOff   time.Duration
	doorCycles uint32
}

func newCar(floors int, heightMM int, speedMMs float64, startFloor int) *car {
	return &car{
		floors:   floors,
		heightMM: float64(heightMM),
		speed:    speedMMs,
		tOpening: 2 * time.Second,
		tOpen:    3 * time.Second,
		tClosing: 2 * time.Second,
		pos:      float64(startFloor * heightMM),
		target:   -1,
		calls:    make([]bool, floors),
		haltAt:   math.NaN(),
	}
}

// floor is the nearest floor index.
func (c *car) floor() int {
	f := int(math.Round(c.pos / c.heightMM))
	return max(0, min(c.floors-1, f))
}

func (c *car) inDoorZone() bool {
	return math.Abs(c.pos-float64(c.floor())*c.heightMM) <= doorZoneMM
}

func (c *car) callsPending() bool {
	for _, v := range c.calls {
		if v {
			return true
		}
	}
	return false
}

// idle: nothing is happening and nothing will without a new input.
func (c *car) idle() bool {
	return !c.moving && !c.halted && c.door == DoorClosed && !c.callsPending() && c.powerOff == 0 && math.IsNaN(c.haltAt)
}

func (c *car) call(f int) {
	if f >= 0 && f < c.floors {
		c.calls[f] = true
	}
}

// step advances the model by dt of simulated time.
func (c *car) step(dt time.Duration) {
	if c.powerOff > 0 {
		c.powerOff -= dt
		if c.powerOff <= 0 {
			c.powerOff = 0
			c.moving = c.target >= 0 && !c.halted
		}
		return
	}
	if c.doorStep(dt) {
		return
	}
	if c.halted {
		return
	}
	if c.moving {
		c.travel(dt)
		return
	}
	if c.mode != ModeNormal && c.mode != ModeEmergencyPower {
		return // out of normal service: calls wait
	}
	c.dispatch()
}

// doorStep runs the door cycle; it reports whether the doors are busy
// (the car cannot move).
func (c *car) doorStep(dt time.Duration) bool {
	c.doorT += dt
	switch c.door {
	case DoorOpening:
		if c.doorT >= c.tOpening {
			c.door, c.doorT = DoorOpen, 0
		}
	case DoorOpen:
		if c.doorT >= c.tOpen {
			c.door, c.doorT = DoorClosing, 0
		}
	case DoorClosing:
		if c.reopen && c.doorT >= c.tClosing/2 {
			c.reopen = false
			c.door, c.doorT = DoorOpening, 0
		} else if c.doorT >= c.tClosing {
			c.door, c.doorT = DoorClosed, 0
			c.doorCycles++
		}
	case DoorBlocked:
	default:
		c.doorT = 0
		return false
	}
	return true
}

func (c *car) travel(dt time.Duration) {
	goal := float64(c.target) * c.heightMM
	d := c.speed * dt.Seconds()
	if c.dir > 0 {
		c.pos = math.Min(c.pos+d, goal)
	} else {
		c.pos = math.Max(c.pos-d, goal)
	}
	if !math.IsNaN(c.haltAt) && (c.dir > 0 && c.pos >= c.haltAt || c.dir < 0 && c.pos <= c.haltAt) {
		c.pos, c.haltAt = c.haltAt, math.NaN()
		c.halted, c.moving = true, false
		return
	}
	if c.pos == goal {
		c.haltAt = math.NaN()
		c.moving = false
		c.trips++
		c.calls[c.target] = false
		c.target = -1
		c.dir = 0
		c.door, c.doorT = DoorOpening, 0
	}
}

func (c *car) dispatch() {
	here := c.floor()
	if c.calls[here] && c.inDoorZone() {
		c.calls[here] = false
		c.door, c.doorT = DoorOpening, 0
		return
	}
	best := -1
	for f, v := range c.calls {
		if v && f != here && (best < 0 || abs(f-here) < abs(best-here)) {
			best = f
		}
	}
	if best < 0 {
		c.dir = 0
		return
	}
	c.startTo(best)
}

func (c *car) startTo(f int) {
	c.target = f
	c.moving = true
	if float64(f)*c.heightMM > c.pos {
		c.dir = 1
	} else {
		c.dir = -1
	}
}

// stopBetweenFloors makes the car stop half way on its current or next
// trip, outside the door zone, until resume.
func (c *car) stopBetweenFloors() {
	if !c.moving {
		here := c.floor()
		next := here + 1
		if next >= c.floors {
			next = here - 1
		}
		c.startTo(next)
	}
	// The next half-floor point ahead of the car.
	at := c.pos / c.heightMM
	c.haltAt = (math.Floor(at-0.5) + 1.5) * c.heightMM
	if c.dir < 0 {
		c.haltAt = (math.Ceil(at-0.5) - 0.5) * c.heightMM
	}
	goal := float64(c.target) * c.heightMM
	if c.dir > 0 && c.haltAt > goal || c.dir < 0 && c.haltAt < goal {
		c.haltAt = c.pos // too close to the landing: stop right here
	}
}

func (c *car) resume() {
	if c.halted {
		c.halted = false
		c.moving = c.target >= 0
	}
	c.haltAt = math.NaN()
}

func (c *car) status() uint16 {
	var s uint16
	if c.moving {
		s |= StatusMoving
		if c.dir > 0 {
			s |= StatusUp
		} else if c.dir < 0 {
			s |= StatusDown
		}
	}
	if c.inDoorZone() {
		s |= StatusDoorZone
	}
	if c.alarm {
		s |= StatusAlarm
	}
	if c.callsPending() {
		s |= StatusCalls
	}
	return s
}

// registers renders the register map.
func (c *car) registers() [NumRegs]uint16 {
	var r [NumRegs]uint16
	r[RegFloor] = uint16(int16(c.floor()))
	pos := uint32(math.Round(c.pos))
	r[RegPosition], r[RegPosition+1] = uint16(pos>>16), uint16(pos)
	r[RegStatus] = c.status()
	r[RegDoorA] = c.door
	r[RegDoorB] = DoorClosed // a single-entrance car: door B stays closed
	r[RegMode] = c.mode
	r[RegFault] = c.fault
	r[RegLoad] = c.load
	r[RegTrips], r[RegTrips+1] = uint16(c.trips>>16), uint16(c.trips)
	return r
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
