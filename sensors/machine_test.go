package sensors

import (
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

func TestMachineConfigValidate(t *testing.T) {
	if err := DefaultMachineConfig().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	for name, tc := range map[string]struct {
		edit func(*MachineConfig)
		want string
	}{
		"heartbeat": {func(c *MachineConfig) { c.HeartbeatInterval = 0 }, "heartbeat_interval"},
		"floors":    {func(c *MachineConfig) { c.MinFloor, c.MaxFloor = 3, 1 }, "max_floor"},
		"levels":    {func(c *MachineConfig) { c.FloorLevelsMM = []int64{0, 3000} }, "floor_levels_mm"},
		"speed":     {func(c *MachineConfig) { c.MaxFloorsPerSecond = 0 }, "max_floors_per_second"},
		"debounce":  {func(c *MachineConfig) { c.Debounce = time.Minute }, "debounce"},
	} {
		c := DefaultMachineConfig()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", name, err, tc.want)
		}
	}
}

func settle(m *Machine, s Sample, at time.Time, n int) []wire.Event {
	var out []wire.Event
	for i := 0; i < n; i++ {
		s.Time = at.Add(time.Duration(i) * 500 * time.Millisecond)
		out = m.AppendStep(out, s)
	}
	return out
}

// A bad first sample must not lock the floor: two consecutive samples that
// agree on a floor re-establish the baseline.
func TestMachineJumpResync(t *testing.T) {
	m := NewMachine(DefaultMachineConfig(), wire.Counters{})
	t0 := scenarioStart()
	s := Sample{Floor: 40, Doors: []string{wire.DoorClosed}}
	settle(m, s, t0, 1)
	s.Floor = 2
	settle(m, s, t0.Add(time.Second), 4)
	if got := m.State().Floor; got != 2 {
		t.Fatalf("floor %d, want 2 after resync", got)
	}
	if m.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1 (the first sample of the new floor)", m.Dropped())
	}
}

func TestMachineStateAcrossLinkLoss(t *testing.T) {
	m := NewMachine(DefaultMachineConfig(), wire.Counters{Trips: 5})
	t0 := scenarioStart()
	s := Sample{Floor: 3, Doors: []string{wire.DoorClosed}, Mode: wire.ModeNormal, PositionMM: 9000, Has: HasPosition | HasFault, FaultCode: 12}
	ev := settle(m, s, t0, 3)
	if len(ev) != 1 || ev[0].Type != wire.TypeFault {
		t.Fatalf("events %v, want one fault raised (active at start)", ev)
	}
	st := m.State()
	if st.Link != LinkStateOK || st.Floor != 3 || len(st.Faults) != 1 || st.Counters.Trips != 5 {
		t.Fatalf("state %+v", st)
	}
	v := m.Version()
	m.LinkLost(t0.Add(5 * time.Second))
	st = m.State()
	if st.Link != LinkStateLost || st.Floor != 3 || m.Version() == v {
		t.Fatalf("after link loss: state %+v, version %d (was %d)", st, m.Version(), v)
	}
	w := st.ToWire("site-1", "cabin-a")
	if w.PositionMM == nil || *w.PositionMM != 9000 || w.Link != "lost" || w.Direction != wire.DirectionNone || w.V != wire.Version {
		t.Fatalf("wire state %+v", w)
	}
	// Thresholds do not fire on a stale state, heartbeats still do.
	ev = m.Tick(t0.Add(time.Hour))
	ev = append(ev, m.Tick(t0.Add(2*time.Hour))...)
	if len(ev) != 1 || ev[0].Type != wire.TypeHeartbeat {
		t.Fatalf("ticks while lost gave %d events, want one heartbeat: %v", len(ev), ev)
	}
}

// SetConfig changes the thresholds of a running machine: a door already
// open falls under the new door_open_too_long, the counters and the fault
// table stay.
func TestMachineSetConfigKeepsStateAndCounters(t *testing.T) {
	cfg := DefaultMachineConfig()
	cfg.FaultInfo = func(int) (string, string) { return "Safety chain open", wire.SeveritySelfClearing }
	m := NewMachine(cfg, wire.Counters{Trips: 7, DoorCycles: 3})
	t0 := scenarioStart()
	s := Sample{Floor: 2, DoorZone: true, Direction: wire.DirectionNone, Mode: wire.ModeNormal, Doors: []string{wire.DoorClosed}, Has: HasDoorZone | HasFault}
	settle(m, s, t0, 4)
	s.Doors = []string{wire.DoorOpen}
	settle(m, s, t0.Add(2*time.Second), 4)
	before := m.Counters()

	next := DefaultMachineConfig()
	next.DoorOpenTooLong = 5 * time.Second
	m.SetConfig(next) // no FaultInfo: the profile's stays
	if m.Counters() != before {
		t.Fatalf("counters %+v after SetConfig, want %+v", m.Counters(), before)
	}
	// As the poller does: a step, then a tick, after each reading.
	evs := settle(m, s, t0.Add(10*time.Second), 2)
	evs = m.AppendTick(evs, t0.Add(10500*time.Millisecond))
	s.FaultCode = 12
	evs = append(evs, settle(m, s, t0.Add(12*time.Second), 3)...)
	var tooLong, fault bool
	for _, ev := range evs {
		switch ev.Type {
		case wire.TypeDoorOpenTooLong:
			tooLong = true
		case wire.TypeFault:
			fault = strings.Contains(string(ev.Data), "Safety chain open") && strings.Contains(string(ev.Data), wire.SeveritySelfClearing)
		}
	}
	if !tooLong {
		t.Errorf("no door_open_too_long under the new 5 s threshold; events %v", evs)
	}
	if !fault {
		t.Errorf("the fault table was lost; events %v", evs)
	}
	if m.Counters().Trips != 7 || m.Counters().DoorCycles < 3 {
		t.Errorf("counters went back: %+v", m.Counters())
	}
}
