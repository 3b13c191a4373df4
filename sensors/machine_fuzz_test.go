package sensors

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// decodeFuzzOps turns arbitrary bytes into the agent loop's operations, five
// bytes per operation, so that the fuzzer explores sample streams:
//
//	b0: bit 7 set: a special operation (b1%3: LinkLost, Tick, Tick after a
//	    long silence); else the time step, b0*40 ms (0 = same time)
//	b1: floor, as int8
//	b2: bit 0 moving, 1 door zone, 2 alarm, 3 calls, 4-5 direction (3 is
//	    invalid), 6 the optional signals are present, 7 position present
//	b3: door A state (bits 0-2; 5-7 invalid), door B (bits 3-5), bit 6 two doors,
//	    bit 7 no doors at all
//	b4: mode (bits 0-2: 6 is "", 7 invalid), fault (bits 3-4), load (bits 5-7)
func decodeFuzzOps(b []byte) []scenarioOp {
	doorStates := []string{wire.DoorClosed, wire.DoorOpening, wire.DoorOpen, wire.DoorClosing, wire.DoorBlocked, "ajar", "", "CLOSED"}
	dirs := []string{wire.DirectionNone, wire.DirectionUp, wire.DirectionDown, "sideways"}
	modes := []string{wire.ModeNormal, wire.ModeInspection, wire.ModeFireService, wire.ModeOutOfService, wire.ModeOverload, wire.ModeEmergencyPower, "", "party"}
	faults := []int{0, 7, 12, -3}
	t := scenarioStart()
	var ops []scenarioOp
	for ; len(b) >= 5; b = b[5:] {
		if b[0]&0x80 != 0 {
			switch b[1] % 3 {
			case 0:
				ops = append(ops, scenarioOp{at: t, kind: "lost"})
			case 1:
				ops = append(ops, scenarioOp{at: t, kind: "tick"})
			case 2:
				t = t.Add(time.Duration(b[2]) * 10 * time.Second)
				ops = append(ops, scenarioOp{at: t, kind: "tick"})
			}
			continue
		}
		t = t.Add(time.Duration(b[0]) * 40 * time.Millisecond)
		s := Sample{
			Time:         t,
			Floor:        int(int8(b[1])),
			Moving:       b[2]&1 != 0,
			DoorZone:     b[2]&2 != 0,
			Alarm:        b[2]&4 != 0,
			CallsPending: b[2]&8 != 0,
			Direction:    dirs[(b[2]>>4)&3],
			Mode:         modes[b[4]&7],
			FaultCode:    faults[(b[4]>>3)&3],
			LoadPercent:  int(b[4]>>5) * 40,
			PositionMM:   int64(int8(b[1])) * 3000,
		}
		if b[2]&0x40 != 0 {
			s.Has |= HasDoorZone | HasAlarm | HasCalls | HasFault | HasLoad
		}
		if b[2]&0x80 != 0 {
			s.Has |= HasPosition
		}
		if b[3]&0x80 == 0 {
			s.Doors = []string{doorStates[b[3]&7]}
			if b[3]&0x40 != 0 {
				s.Doors = append(s.Doors, doorStates[(b[3]>>3)&7])
			}
		}
		ops = append(ops, scenarioOp{at: t, kind: "sample", sample: s})
	}
	return ops
}

// FuzzMachine feeds arbitrary sample streams: no panic, counters never go
// backwards, every event is a valid wire event, and the state snapshot is a
// valid wire state.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{10, 0, 0x42, 0, 0, 10, 0, 0x42, 0, 0, 10, 0, 0x53, 0, 0, 10, 1, 0x51, 0, 0, 10, 1, 0x40, 0, 0, 10, 1, 0x42, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := DefaultMachineConfig()
		cfg.MinFloor, cfg.MaxFloor = -5, 20
		cfg.FloorLevelsMM = make([]int64, 26)
		for i := range cfg.FloorLevelsMM {
			cfg.FloorLevelsMM[i] = int64(i-5) * 3000
		}
		cfg.FaultInfo = testFaults
		cfg.EntrapmentAfter, cfg.DoorOpenTooLong, cfg.TripTooLong, cfg.NoMovementWithCalls = 5*time.Second, 5*time.Second, 5*time.Second, 5*time.Second
		cfg.HeartbeatInterval = 10 * time.Second
		initial := wire.Counters{Trips: 7, DoorCycles: 9, RunningSeconds: 100}
		prev := initial
		runOps(cfg, initial, decodeFuzzOps(b), func(m *Machine, ev []wire.Event) {
			c := m.Counters()
			if !countersLE(prev, c) {
				t.Fatalf("counters went backwards: %+v -> %+v", prev, c)
			}
			prev = c
			for i := range ev {
				e := ev[i]
				e.Seq = 1
				if err := e.Validate(); err != nil {
					t.Fatalf("invalid %s event %s: %v", e.Type, e.Data, err)
				}
			}
			st, err := json.Marshal(m.State().ToWire("site-1", "cabin-a"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wire.DecodeState(st); err != nil {
				t.Fatalf("state %s does not decode: %v", st, err)
			}
		})
	})
}
