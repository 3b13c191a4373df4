package sensors

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

func propConfig() MachineConfig {
	c := DefaultMachineConfig()
	c.HeartbeatInterval = time.Minute
	c.EntrapmentAfter = 20 * time.Second
	c.DoorOpenTooLong = 30 * time.Second
	c.TripTooLong = 30 * time.Second
	c.NoMovementWithCalls = 30 * time.Second
	c.StandbyAfter = time.Minute
	c.MinFloor, c.MaxFloor = -2, 10
	c.FaultInfo = testFaults
	return c
}

// genStream simulates a car (trips, door cycles with reopens, modes, faults,
// alarms, calls, link losses, silent gaps, and its own one-sample glitches)
// and returns the agent loop's operations.
func genStream(r *rand.Rand, n int) []scenarioOp {
	doorCount := 1 + r.IntN(2)
	doors := func(st string) []string {
		d := make([]string, doorCount)
		for i := range d {
			d[i] = st
		}
		return d
	}
	t := scenarioStart()
	s := Sample{Floor: 0, Direction: wire.DirectionNone, DoorZone: true, Doors: doors(wire.DoorClosed), Mode: wire.ModeNormal,
		Has: HasDoorZone | HasCalls | HasFault | HasAlarm}
	doorSeq := []string{wire.DoorClosed, wire.DoorOpening, wire.DoorOpen, wire.DoorClosing}
	doorAt := 0
	var ops []scenarioOp
	for len(ops) < n {
		t = t.Add(time.Duration(300+r.IntN(500)) * time.Millisecond)
		switch p := r.IntN(1000); {
		case p < 8:
			ops = append(ops, scenarioOp{at: t, kind: "lost"})
			continue
		case p < 12:
			t = t.Add(time.Duration(10+r.IntN(30)) * time.Second) // silent gap
		case p < 40:
			ops = append(ops, scenarioOp{at: t, kind: "tick"})
			continue
		}
		if r.IntN(3) == 0 {
			switch k := r.IntN(100); {
			case k < 30: // start or stop
				if s.Moving {
					s.Moving, s.DoorZone = false, r.IntN(6) != 0
				} else if doorAt == 0 {
					s.Moving, s.DoorZone = true, false
					if s.Floor >= 8 || (s.Floor > -2 && r.IntN(2) == 0) {
						s.Direction = wire.DirectionDown
					} else {
						s.Direction = wire.DirectionUp
					}
				}
			case k < 55: // pass a floor
				if s.Moving && s.Direction == wire.DirectionUp && s.Floor < 10 {
					s.Floor++
				} else if s.Moving && s.Direction == wire.DirectionDown && s.Floor > -2 {
					s.Floor--
				}
			case k < 75: // doors move on, sometimes reopen or block
				if !s.Moving {
					blocked := false
					switch {
					case doorAt == 3 && r.IntN(3) == 0:
						doorAt = 1 // reopen
					case doorAt == 3 && r.IntN(4) == 0:
						blocked = true
					default:
						doorAt = (doorAt + 1) % len(doorSeq)
					}
					s.Doors = doors(doorSeq[doorAt])
					if blocked {
						s.Doors = doors(wire.DoorBlocked)
					}
				}
			case k < 80:
				s.Mode = []string{wire.ModeNormal, wire.ModeNormal, wire.ModeInspection, wire.ModeFireService, wire.ModeOutOfService, wire.ModeOverload, wire.ModeEmergencyPower}[r.IntN(7)]
			case k < 85:
				s.FaultCode = []int{0, 0, 7, 12, 33}[r.IntN(5)]
			case k < 90:
				s.Alarm = !s.Alarm
			case k < 97:
				s.CallsPending = !s.CallsPending
			default:
				if !s.Moving {
					s.Direction = wire.DirectionNone
				}
			}
		}
		x := s
		x.Time = t
		x.Doors = append([]string(nil), s.Doors...)
		ops = append(ops, scenarioOp{at: t, kind: "sample", sample: x})
	}
	return ops
}

func runOps(cfg MachineConfig, initial wire.Counters, ops []scenarioOp, each func(m *Machine, ev []wire.Event)) (*Machine, []wire.Event) {
	m := NewMachine(cfg, initial)
	var all []wire.Event
	for _, op := range ops {
		n := len(all)
		switch op.kind {
		case "sample":
			all = m.AppendStep(all, op.sample)
			if !op.noTick {
				all = m.AppendTick(all, op.at)
			}
		case "tick":
			all = m.AppendTick(all, op.at)
		case "lost":
			m.LinkLost(op.at)
		}
		if each != nil {
			each(m, all[n:])
		}
	}
	return m, all
}

func decodeData[T any](t *testing.T, e wire.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("decode %s data %s: %v", e.Type, e.Data, err)
	}
	return v
}

func countersLE(a, b wire.Counters) bool {
	return a.Trips <= b.Trips && a.DoorCycles <= b.DoorCycles && a.DirectionChanges <= b.DirectionChanges &&
		a.RunningSeconds <= b.RunningSeconds && a.IdleSeconds <= b.IdleSeconds && a.StandbySeconds <= b.StandbySeconds
}

var seedFlag = flag.Uint64("seed", 0, "base seed of the property tests (0: from the clock)")

func seeds(t *testing.T, n int) []uint64 {
	base := *seedFlag
	if base == 0 {
		base = uint64(time.Now().UnixNano())
	}
	t.Logf("base seed %d (seeds are base+i; rerun with -seed=%d)", base, base)
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + uint64(i)
	}
	return out
}

// TestPropertyCountersAndTrips: over random streams, counters never decrease
// (heartbeats included), and every trip that starts ends with a trip event
// or is interrupted by a link loss.
func TestPropertyCountersAndTrips(t *testing.T) {
	var started, interrupted, events uint64
	for _, seed := range seeds(t, 40) {
		r := rand.New(rand.NewPCG(seed, 1))
		ops := genStream(r, 3000)
		initial := wire.Counters{Trips: 1000, DoorCycles: 2000, DirectionChanges: 300, RunningSeconds: 4000, IdleSeconds: 5000, StandbySeconds: 6000}
		prev := initial
		prevHB := initial
		var tripEvents uint64
		m, all := runOps(propConfig(), initial, ops, func(m *Machine, ev []wire.Event) {
			c := m.Counters()
			if !countersLE(prev, c) {
				t.Fatalf("seed %d: counters went backwards: %+v -> %+v", seed, prev, c)
			}
			prev = c
			for _, e := range ev {
				switch e.Type {
				case wire.TypeHeartbeat:
					hb := decodeData[wire.HeartbeatData](t, e)
					if !countersLE(prevHB, hb.Counters) {
						t.Fatalf("seed %d: heartbeat counters went backwards: %+v -> %+v", seed, prevHB, hb.Counters)
					}
					prevHB = hb.Counters
				case wire.TypeTrip:
					tripEvents++
				}
			}
		})
		open := uint64(0)
		if m.trip.active {
			open = 1
		}
		if m.tripsStarted != tripEvents+m.tripsInterrupted+open {
			t.Fatalf("seed %d: %d trips started, %d trip events, %d interrupted, %d open", seed, m.tripsStarted, tripEvents, m.tripsInterrupted, open)
		}
		if got := m.Counters().Trips - initial.Trips; got != tripEvents {
			t.Fatalf("seed %d: trip counter grew by %d, %d trip events", seed, got, tripEvents)
		}
		started += m.tripsStarted
		interrupted += m.tripsInterrupted
		events += uint64(len(all))
	}
	// The generator must exercise what the property is about.
	if started < 100 || interrupted == 0 {
		t.Fatalf("generator too tame: %d trips started, %d interrupted", started, interrupted)
	}
	t.Logf("%d trips started, %d interrupted, %d events", started, interrupted, events)
}

// TestPropertyDroppedLeavesNoTrace: inserting implausible samples anywhere,
// and one-sample glitches into steady stretches, changes no event at all;
// each inserted sample is counted as dropped.
func TestPropertyDroppedLeavesNoTrace(t *testing.T) {
	var inserted, glitches int
	for _, seed := range seeds(t, 40) {
		r := rand.New(rand.NewPCG(seed, 2))
		ops := genStream(r, 2000)
		cfg := propConfig()
		m1, want := runOps(cfg, wire.Counters{}, ops, nil)

		var noisy []scenarioOp
		n := 0
		for i, op := range ops {
			noisy = append(noisy, op)
			if op.kind != "sample" || i+1 >= len(ops) || r.IntN(4) != 0 {
				continue
			}
			bad := op.sample
			bad.Doors = append([]string(nil), bad.Doors...)
			bad.Time = op.at.Add(time.Millisecond)
			steady := i >= 2 && steadyRun(ops[i-2:i+2], cfg.Debounce)
			k := r.IntN(9)
			switch {
			case k == 0:
				bad.Floor = cfg.MaxFloor + 1 + r.IntN(100)
			case k == 1:
				bad.Direction = "sideways"
			case k == 2:
				bad.Mode = "party"
			case k == 3:
				bad.Doors[0] = "ajar"
			case k == 4:
				bad.Time = op.at // not after the previous sample
			case k == 5:
				bad.Doors = make([]string, MaxDoors+1)
			case steady && k == 6:
				bad.Alarm = !bad.Alarm
			case steady && k == 7:
				bad.Moving = !bad.Moving
			case steady && k == 8:
				if bad.Doors[0] == wire.DoorClosed {
					bad.Doors[0] = wire.DoorOpen
				} else {
					bad.Doors[0] = wire.DoorClosed
				}
			default:
				continue
			}
			noisy = append(noisy, scenarioOp{at: bad.Time, kind: "sample", sample: bad, noTick: true})
			n++
			if k >= 6 {
				glitches++
			}
		}
		m2, got := runOps(cfg, wire.Counters{}, noisy, nil)
		if !reflect.DeepEqual(eventsText(want), eventsText(got)) {
			t.Fatalf("seed %d: %d inserted samples changed the events:\n%s", seed, n, lineDiff(joinLines(eventsText(want)), joinLines(eventsText(got))))
		}
		if m2.Dropped() != m1.Dropped()+uint64(n) {
			t.Fatalf("seed %d: dropped %d, want %d + %d inserted", seed, m2.Dropped(), m1.Dropped(), n)
		}
		if m2.Counters() != m1.Counters() {
			t.Fatalf("seed %d: counters %+v, want %+v", seed, m2.Counters(), m1.Counters())
		}
		inserted += n
	}
	if glitches == 0 {
		t.Fatal("no glitch landed in a steady stretch: the generator does not exercise debouncing")
	}
	t.Logf("%d implausible samples inserted, %d of them steady-state glitches", inserted, glitches)
}

// steadyRun reports whether four consecutive operations are samples with the
// same signals, close enough that the first two settle every signal: a
// one-sample glitch between the 2nd and 3rd is then plain noise.
func steadyRun(ops []scenarioOp, debounce time.Duration) bool {
	for i, op := range ops {
		if op.kind != "sample" || !sameSignals(op.sample, ops[0].sample) {
			return false
		}
		if i > 0 && op.at.Sub(ops[i-1].at) > 5*time.Second {
			return false
		}
	}
	return ops[1].at.Sub(ops[0].at) >= debounce
}

func sameSignals(a, b Sample) bool {
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func eventsText(ev []wire.Event) []string {
	out := make([]string, len(ev))
	for i, e := range ev {
		out[i] = e.Time.Format(time.RFC3339Nano) + " " + e.Type + " " + string(e.Data)
	}
	return out
}

func joinLines(l []string) string {
	s := ""
	for _, x := range l {
		s += x + "\n"
	}
	return s
}
