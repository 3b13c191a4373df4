package sensors

import (
	"fmt"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Reasons carried by entrapment and service events.
const (
	ReasonOutsideDoorZone = "stopped_outside_door_zone"             // entrapment: stopped, doors closed, outside the door zone
	ReasonAlarmOutside    = "alarm_while_stopped_outside_door_zone" // entrapment: alarm pressed while stopped there
	ReasonCarMoved        = "car_moved"                             // entrapment cleared / back in service
	ReasonDoorsOpened     = "doors_opened"                          // entrapment cleared
	ReasonDoorZone        = "in_door_zone"                          // entrapment cleared
	ReasonControllerMode  = "controller_mode"                       // out of / back in service by the controller's mode
	ReasonNoMovement      = "no_movement_with_calls_pending"        // out of service: calls wait, the car does not move
)

// jumpResync is how many consecutive samples must agree on a floor that looks
// like an implausible jump before the Machine believes them: it keeps one bad
// baseline sample from locking the floor forever.
const jumpResync = 2

// Machine is the cabin state machine. It is not safe for concurrent use: the
// agent's polling loop owns it.
type Machine struct {
	cfg MachineConfig

	// Counters: the initial totals plus what this Machine counted.
	base                          wire.Counters
	trips, doorCycles, dirChanges uint64
	running, idle, standby        time.Duration

	dropped uint64
	version uint64

	// The last accepted sample, the baseline of plausibility checks.
	lastOK    bool
	lastTime  time.Time
	lastFloor int
	jumpFloor int // floor of the previous implausible-jump sample
	jumpRun   int // how many consecutive samples showed jumpFloor

	linkOK bool
	pos    int64
	hasPos bool

	floor  signal[int]
	dir    signal[uint8]
	moving signal[bool]
	zone   signal[bool]
	doors  signal[doorSet]
	mode   signal[uint8]
	fault  signal[int]
	alarm  signal[bool]
	calls  signal[bool]

	trip struct {
		active  bool
		from    int
		start   time.Time
		dir     uint8
		tooLong bool
	}
	lastTravel   uint8 // last travel direction seen, dirNone when unknown
	door         [MaxDoors]doorCycle
	lastActivity time.Time

	entrap struct {
		cond   bool // stopped outside the door zone with doors closed
		since  time.Time
		active bool
	}
	stall struct {
		cond   bool // normal mode, calls pending, car stopped
		since  time.Time
		active bool
	}
	modeOOS   bool
	inService bool
	hbNext    time.Time

	// Bookkeeping for the property tests: every trip that starts either
	// ends with a trip event or is interrupted by a link loss.
	tripsStarted, tripsInterrupted uint64
}

type doorCycle struct {
	active  bool
	partial bool // already open when first seen: no door_cycle at the end
	start   time.Time
	floor   int
	reopens int
	tooLong bool
}

// NewMachine returns a Machine with the configuration (zero thresholds take
// their defaults; call cfg.Validate first to report mistakes) and the counter
// totals persisted by a previous run, so that totals never go backwards.
func NewMachine(cfg MachineConfig, initial wire.Counters) *Machine {
	m := &Machine{cfg: cfg.withDefaults(), base: initial, inService: true}
	// No fault and no alarm is the baseline: one active at start is reported.
	m.fault.known = true
	m.alarm.known = true
	return m
}

// SetConfig changes the thresholds of a running Machine (a configuration
// set from a distance): the state, the counters and what is under way (a
// trip, a door cycle, a suspected entrapment) carry on under the new
// thresholds. A nil FaultInfo keeps the current one. Like every method, it
// must be called from the goroutine that owns the Machine.
func (m *Machine) SetConfig(cfg MachineConfig) {
	fi := m.cfg.FaultInfo
	m.cfg = cfg.withDefaults()
	if m.cfg.FaultInfo == nil {
		m.cfg.FaultInfo = fi
	}
}

// Dropped returns how many samples were dropped as implausible: invalid
// values, impossible floor jumps, time going backwards, or changes that did
// not outlast the debounce.
func (m *Machine) Dropped() uint64 { return m.dropped }

// Version grows whenever the believed state changes, so that the agent can
// push a new snapshot to the screen only when there is one.
func (m *Machine) Version() uint64 { return m.version }

// Counters returns the running totals, including the initial ones.
func (m *Machine) Counters() wire.Counters {
	return wire.Counters{
		Trips:            m.base.Trips + m.trips,
		DoorCycles:       m.base.DoorCycles + m.doorCycles,
		DirectionChanges: m.base.DirectionChanges + m.dirChanges,
		RunningSeconds:   m.base.RunningSeconds + uint64(m.running/time.Second),
		IdleSeconds:      m.base.IdleSeconds + uint64(m.idle/time.Second),
		StandbySeconds:   m.base.StandbySeconds + uint64(m.standby/time.Second),
	}
}

// State returns the believed cabin state.
func (m *Machine) State() State {
	s := State{
		Time:        m.lastTime,
		Floor:       m.floor.val,
		PositionMM:  m.pos,
		HasPosition: m.hasPos,
		Direction:   dirName(m.dir.val),
		Moving:      m.moving.val,
		DoorZone:    m.zone.val,
		Alarm:       m.alarm.val,
		Entrapment:  m.entrap.active,
		InService:   m.inService,
		Link:        LinkStateLost,
		Counters:    m.Counters(),
	}
	if m.linkOK {
		s.Link = LinkStateOK
	}
	if m.mode.known {
		s.Mode = modeName(m.mode.val)
	}
	d := m.doors.val
	s.Doors = make([]string, d.n)
	for i := range s.Doors {
		s.Doors[i] = doorName(d.s[i])
	}
	s.Faults = []int{}
	if m.fault.val != 0 {
		s.Faults = append(s.Faults, m.fault.val)
	}
	return s
}

// Step consumes one sample and returns the events it completes. A sample
// that changes nothing costs no allocation.
func (m *Machine) Step(s Sample) []wire.Event { return m.AppendStep(nil, s) }

// AppendStep is Step appending to dst, for callers that reuse a slice.
func (m *Machine) AppendStep(dst []wire.Event, s Sample) []wire.Event {
	var doors doorSet
	if !m.plausible(&s, &doors) {
		m.dropped++
		return dst
	}
	if m.lastOK && m.linkOK && s.Time.Sub(m.lastTime) > m.cfg.MaxSampleGap {
		m.loseLink()
	}
	if m.linkOK {
		m.account(s.Time)
	} else {
		m.linkOK = true
		m.version++
	}
	m.lastOK, m.lastTime, m.lastFloor, m.jumpRun = true, s.Time, s.Floor, 0
	if s.Has&HasPosition != 0 {
		m.pos, m.hasPos = s.PositionMM, true
	}

	dir, _ := parseDir(s.Direction)
	mode, _ := parseMode(s.Mode)
	t, db := s.Time, m.cfg.Debounce
	// glitches collects when the reverted changes were first seen, so that
	// one glitchy sample counts once however many signals it disturbed.
	var glitches [9]time.Time
	ng := 0
	note := func(o outcome, since time.Time) bool {
		if o == reverted {
			for i := 0; i < ng; i++ {
				if glitches[i].Equal(since) {
					return false
				}
			}
			glitches[ng] = since
			ng++
		}
		return o == committed
	}

	// Order matters when several signals change at once: the mode and faults
	// first, the floor before the stop that ends a trip, the doors before the
	// start of movement that begins one, the alarm last so that it sees
	// whether the car is stopped.
	if s.Has&HasFault != 0 {
		old := m.fault.val
		o := m.fault.observe(s.FaultCode, t, db)
		if note(o, m.fault.since) {
			dst = m.faultChanged(dst, m.fault.since, old, s.FaultCode)
		}
	}
	wasKnown, oldMode := m.mode.known, m.mode.val
	o := m.mode.observe(mode, t, db)
	if note(o, m.mode.since) {
		dst = m.modeChanged(dst, m.mode.since, wasKnown, oldMode, mode)
	}
	o = m.floor.observe(s.Floor, t, db)
	if note(o, m.floor.since) {
		m.version++
	}
	if s.Has&HasDoorZone != 0 {
		o = m.zone.observe(s.DoorZone, t, db)
		if note(o, m.zone.since) {
			m.version++
			dst = m.evaluate(dst, m.zone.since)
		}
	}
	wasKnown = m.dir.known
	o = m.dir.observe(dir, t, db)
	if note(o, m.dir.since) {
		m.version++
		switch {
		case dir == dirNone:
		case wasKnown:
			dst = m.travel(dst, m.dir.since, dir)
		default:
			m.lastTravel = dir // adopted: no reversal was seen
		}
		if m.trip.active && m.trip.dir == dirNone {
			m.trip.dir = dir
		}
	}
	wasKnown, oldDoors := m.doors.known, m.doors.val
	o = m.doors.observe(doors, t, db)
	if note(o, m.doors.since) {
		dst = m.doorsChanged(dst, m.doors.since, wasKnown, oldDoors, doors)
	}
	wasKnown = m.moving.known
	o = m.moving.observe(s.Moving, t, db)
	if note(o, m.moving.since) {
		dst = m.movingChanged(dst, m.moving.since, wasKnown, s.Moving)
	}
	if s.Has&HasCalls != 0 {
		o = m.calls.observe(s.CallsPending, t, db)
		if note(o, m.calls.since) {
			m.version++
			dst = m.evaluate(dst, m.calls.since)
		}
	}
	if s.Has&HasAlarm != 0 {
		o = m.alarm.observe(s.Alarm, t, db)
		if note(o, m.alarm.since) {
			dst = m.alarmChanged(dst, m.alarm.since, s.Alarm)
		}
	}
	m.dropped += uint64(ng)
	return dst
}

// plausible checks a sample before it may touch the state, and decodes its
// doors. An implausible sample leaves no trace but the dropped count.
func (m *Machine) plausible(s *Sample, doors *doorSet) bool {
	if s.Time.IsZero() || (m.lastOK && !s.Time.After(m.lastTime)) {
		return false
	}
	if s.Floor < m.cfg.MinFloor || s.Floor > m.cfg.MaxFloor {
		return false
	}
	if _, ok := parseDir(s.Direction); !ok {
		return false
	}
	if _, ok := parseMode(s.Mode); !ok {
		return false
	}
	if len(s.Doors) > MaxDoors {
		return false
	}
	doors.n = int8(len(s.Doors))
	for i, d := range s.Doors {
		v, ok := parseDoor(d)
		if !ok {
			return false
		}
		doors.s[i] = v
	}
	if s.Has&HasFault != 0 && s.FaultCode < 0 {
		return false
	}
	if s.Has&HasLoad != 0 && (s.LoadPercent < 0 || s.LoadPercent > 1000) {
		return false
	}
	// The floor jump is judged against the last accepted sample while the
	// link is up; after a loss the car may be anywhere.
	if m.lastOK && m.linkOK {
		dt := s.Time.Sub(m.lastTime)
		if dt <= m.cfg.MaxSampleGap {
			jump := s.Floor - m.lastFloor
			if jump < 0 {
				jump = -jump
			}
			allowed := 1 + m.cfg.MaxFloorsPerSecond*dt.Seconds()
			if float64(jump) > allowed {
				if m.jumpRun > 0 && s.Floor == m.jumpFloor {
					m.jumpRun++
				} else {
					m.jumpFloor, m.jumpRun = s.Floor, 1
				}
				return m.jumpRun >= jumpResync
			}
		}
	}
	return true
}

// account adds the time since the last sample to running, idle or standby.
func (m *Machine) account(t time.Time) {
	if !m.moving.known {
		return
	}
	dt := t.Sub(m.lastTime)
	if m.moving.val {
		m.running += dt
		return
	}
	// Split at the standby boundary so that the totals do not depend on
	// when samples happen to fall.
	idle := m.lastActivity.Add(m.cfg.StandbyAfter).Sub(m.lastTime)
	idle = min(max(idle, 0), dt)
	m.idle += idle
	m.standby += dt - idle
}

// LinkLost tells the Machine that polling failed at now. No event is
// invented: a trip in progress is abandoned, door cycles are forgotten, and
// position signals must be confirmed again before anything more is said.
// Mode, faults, alarm, entrapment and service status are kept, so that a
// change across the outage is still reported.
func (m *Machine) LinkLost(now time.Time) {
	_ = now // kept in the signature: the agent reports when, the Machine needs only that it happened
	if m.linkOK {
		m.loseLink()
	}
}

func (m *Machine) loseLink() {
	m.linkOK = false
	m.version++
	if m.trip.active {
		m.trip.active = false
		m.tripsInterrupted++
	}
	m.door = [MaxDoors]doorCycle{}
	m.floor.forget()
	m.dir.forget()
	m.moving.forget()
	m.zone.forget()
	m.doors.forget()
	m.calls.forget()
	m.mode.drop()
	m.fault.drop()
	m.alarm.drop()
	m.lastTravel = dirNone
	m.entrap.cond = false
	m.stall.cond = false
}

// Tick runs the time-driven part: heartbeats and thresholds (entrapment,
// door open too long, trip too long, no movement with calls pending). The
// agent calls it after every poll, and on its own ticker while polling fails.
func (m *Machine) Tick(now time.Time) []wire.Event { return m.AppendTick(nil, now) }

// AppendTick is Tick appending to dst.
func (m *Machine) AppendTick(dst []wire.Event, now time.Time) []wire.Event {
	if m.linkOK && m.lastOK && now.Sub(m.lastTime) > m.cfg.MaxSampleGap {
		m.loseLink() // samples stopped coming: stale state must not fire thresholds
	}
	if m.linkOK {
		normal := m.mode.known && m.mode.val == modeNormal
		for i := range m.door {
			c := &m.door[i]
			if c.active && !c.tooLong && normal && now.Sub(c.start) >= m.cfg.DoorOpenTooLong {
				c.tooLong = true
				dst = m.emit(dst, now, wire.TypeDoorOpenTooLong, wire.DoorOpenTooLongData{Floor: c.floor, OpenMS: now.Sub(c.start).Milliseconds()})
			}
		}
		if m.trip.active && !m.trip.tooLong && m.mode.val != modeInspection && now.Sub(m.trip.start) >= m.cfg.TripTooLong {
			m.trip.tooLong = true
			dst = m.emit(dst, now, wire.TypeTripTooLong, wire.TripTooLongData{From: m.trip.from, Direction: dirName(m.trip.dir), DurationMS: now.Sub(m.trip.start).Milliseconds()})
		}
		if m.entrap.cond && !m.entrap.active && m.mode.val != modeInspection && now.Sub(m.entrap.since) >= m.cfg.EntrapmentAfter {
			m.entrap.active = true
			m.version++
			dst = m.emit(dst, now, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Reason: ReasonOutsideDoorZone, Floor: m.floor.val})
		}
		if m.stall.cond && !m.stall.active && now.Sub(m.stall.since) >= m.cfg.NoMovementWithCalls {
			m.stall.active = true
			dst = m.serviceChanged(dst, now, ReasonNoMovement)
		}
	}
	if m.hbNext.IsZero() {
		m.hbNext = now.Add(m.cfg.HeartbeatInterval)
	} else if !now.Before(m.hbNext) {
		// From now, not from hbNext: after a long pause one heartbeat, not a burst.
		m.hbNext = now.Add(m.cfg.HeartbeatInterval)
		dst = m.emit(dst, now, wire.TypeHeartbeat, wire.HeartbeatData{Counters: m.Counters()})
	}
	return dst
}

func (m *Machine) faultChanged(dst []wire.Event, t time.Time, old, code int) []wire.Event {
	m.version++
	if old != 0 {
		text, sev := m.cfg.faultInfo(old)
		dst = m.emit(dst, t, wire.TypeFault, wire.FaultData{Code: old, Text: text, Severity: sev, Active: false})
	}
	if code != 0 {
		text, sev := m.cfg.faultInfo(code)
		dst = m.emit(dst, t, wire.TypeFault, wire.FaultData{Code: code, Text: text, Severity: sev, Active: true})
	}
	return dst
}

func (m *Machine) modeChanged(dst []wire.Event, t time.Time, wasKnown bool, old, mode uint8) []wire.Event {
	m.version++
	if wasKnown {
		dst = m.emit(dst, t, wire.TypeModeChange, wire.ModeChangeData{From: modeName(old), To: modeName(mode)})
	}
	// Thresholds restart with the new mode: time spent stopped between
	// floors in inspection says nothing about entrapment in normal service.
	m.entrap.cond, m.stall.cond = false, false
	if oos := mode == modeOutOfService; oos != m.modeOOS {
		m.modeOOS = oos
		dst = m.serviceChanged(dst, t, ReasonControllerMode)
	}
	return m.evaluate(dst, t)
}

// travel notes a travel direction and counts a reversal.
func (m *Machine) travel(dst []wire.Event, t time.Time, d uint8) []wire.Event {
	if m.lastTravel != dirNone && m.lastTravel != d {
		m.dirChanges++
		dst = m.emit(dst, t, wire.TypeDirectionChange, wire.DirectionChangeData{From: dirName(m.lastTravel), To: dirName(d)})
	}
	m.lastTravel = d
	return dst
}

func (m *Machine) doorsChanged(dst []wire.Event, t time.Time, wasKnown bool, old, cur doorSet) []wire.Event {
	m.version++
	m.lastActivity = t
	multi := cur.n > 1 || old.n > 1
	for i := 0; i < MaxDoors; i++ {
		o, n := old.at(i), cur.at(i)
		c := &m.door[i]
		switch {
		case !wasKnown:
			// Adopted after a start or a link loss: the opening was not seen.
			*c = doorCycle{}
			if n != doorClosed {
				*c = doorCycle{active: true, partial: true, start: t, floor: m.floor.val}
			}
		case o == doorClosed && n != doorClosed:
			*c = doorCycle{active: true, start: t, floor: m.floor.val}
		case o != doorClosed && n == doorClosed:
			if c.active && !c.partial {
				m.doorCycles++
				d := wire.DoorCycleData{Floor: c.floor, OpenMS: t.Sub(c.start).Milliseconds(), Reopens: c.reopens}
				if multi {
					d.Door = doorLetter(i)
				}
				dst = m.emit(dst, t, wire.TypeDoorCycle, d)
			}
			*c = doorCycle{}
		case (o == doorClosing || o == doorBlocked) && (n == doorOpening || n == doorOpen):
			c.reopens++
		}
	}
	return m.evaluate(dst, t)
}

func (m *Machine) movingChanged(dst []wire.Event, t time.Time, wasKnown, moving bool) []wire.Event {
	m.version++
	m.lastActivity = t
	switch {
	case !wasKnown:
		// Adopted: the start or the stop was not seen, so no trip.
	case moving:
		if m.floor.known {
			m.tripsStarted++
			m.trip.active, m.trip.from, m.trip.start, m.trip.tooLong = true, m.floor.val, t, false
			m.trip.dir = dirNone
			if m.dir.known {
				m.trip.dir = m.dir.val
			}
		}
	default:
		outside := m.zone.known && !m.zone.val
		to := m.floor.val
		if !outside && m.floor.known {
			dst = m.emit(dst, t, wire.TypeArrival, wire.ArrivalData{Floor: to})
			if m.hasPos && m.cfg.FloorLevelsMM != nil {
				errMM := m.pos - m.cfg.FloorLevelsMM[to-m.cfg.MinFloor]
				if errMM > m.cfg.LevellingToleranceMM || -errMM > m.cfg.LevellingToleranceMM {
					dst = m.emit(dst, t, wire.TypeLevellingError, wire.LevellingErrorData{Floor: to, ErrorMM: errMM})
				}
			}
		}
		if m.trip.active {
			m.trip.active = false
			d := m.trip.dir
			if d == dirNone {
				// The source gives no direction: infer it from the floors.
				switch {
				case to > m.trip.from:
					d = dirUp
				case to < m.trip.from:
					d = dirDown
				}
				if d != dirNone {
					dst = m.travel(dst, t, d)
				}
			}
			m.trips++
			dst = m.emit(dst, t, wire.TypeTrip, wire.TripData{From: m.trip.from, To: to, Direction: dirName(d), DurationMS: t.Sub(m.trip.start).Milliseconds()})
		}
	}
	return m.evaluate(dst, t)
}

func (m *Machine) alarmChanged(dst []wire.Event, t time.Time, active bool) []wire.Event {
	m.version++
	dst = m.emit(dst, t, wire.TypeAlarm, wire.AlarmData{Active: active, Floor: m.floor.val})
	if active && !m.entrap.active && m.moving.known && !m.moving.val && m.zone.known && !m.zone.val {
		m.entrap.active = true
		dst = m.emit(dst, t, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Reason: ReasonAlarmOutside, Floor: m.floor.val})
	}
	return dst
}

// evaluate updates the conditions that thresholds watch (entrapment, no
// movement with calls) after a believed signal changed at t, and clears
// entrapment or the stall as soon as the evidence says so.
func (m *Machine) evaluate(dst []wire.Event, t time.Time) []wire.Event {
	if m.moving.known && m.doors.known && m.zone.known {
		stuck := !m.moving.val && m.doors.val.allClosed() && !m.zone.val
		if stuck && !m.entrap.cond {
			m.entrap.cond, m.entrap.since = true, t
		}
		if !stuck {
			m.entrap.cond = false
			if m.entrap.active {
				m.entrap.active = false
				m.version++
				reason := ReasonDoorZone
				switch {
				case m.moving.val:
					reason = ReasonCarMoved
				case !m.doors.val.allClosed():
					reason = ReasonDoorsOpened
				}
				dst = m.emit(dst, t, wire.TypeEntrapment, wire.EntrapmentData{Active: false, Reason: reason, Floor: m.floor.val})
			}
		}
	}
	if m.moving.known && m.moving.val {
		m.stall.cond = false
		if m.stall.active {
			m.stall.active = false
			dst = m.serviceChanged(dst, t, ReasonCarMoved)
		}
	} else if m.moving.known && m.calls.known && m.mode.known {
		waiting := m.calls.val && m.mode.val == modeNormal
		if waiting && !m.stall.cond {
			m.stall.cond, m.stall.since = true, t
		}
		if !waiting {
			m.stall.cond = false
		}
	}
	return dst
}

// serviceChanged emits a service event when the overall status flips.
func (m *Machine) serviceChanged(dst []wire.Event, t time.Time, reason string) []wire.Event {
	in := !m.modeOOS && !m.stall.active
	if in == m.inService {
		return dst
	}
	m.inService = in
	m.version++
	return m.emit(dst, t, wire.TypeService, wire.ServiceData{InService: in, Reason: reason})
}

func (m *Machine) emit(dst []wire.Event, t time.Time, typ string, data any) []wire.Event {
	e, err := wire.NewEvent(t, typ, data)
	if err != nil {
		// The wire data types are plain structs: encoding them cannot fail.
		panic(fmt.Sprintf("sensors: %v", err))
	}
	return append(dst, e)
}
