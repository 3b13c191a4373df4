package sensors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/simulator/simtest"
	"github.com/palier-lifts/palier/wire"
)

// simReader serves sim on a pty and returns a reader of the sim profile
// and its master.
func simReader(t *testing.T, sim *simulator.Simulator, mcfg modbus.Config) (*sensors.ProfileReader, *modbus.Master) {
	t.Helper()
	p, err := sensors.LoadProfile("profiles/palier-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path, _ := simtest.Serve(t, sim, "")
	m := simtest.Master(t, path, 115200, mcfg)
	return sensors.NewProfileReader(p, m), m
}

func TestReaderDecodesSimulator(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Baud: 115200, Scenario: simtest.Scenario(t, simtest.AllSetYAML)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, m := simReader(t, sim, modbus.Config{})
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	r.Now = func() time.Time { return now }
	got, err := r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := sensors.Sample{
		Time: now, Floor: 4, PositionMM: 12000, Direction: wire.DirectionNone, DoorZone: true,
		Doors: []string{wire.DoorClosed}, Mode: wire.ModeInspection, FaultCode: 12, Alarm: true,
		CallsPending: true, LoadPercent: 42,
		Has: sensors.HasPosition | sensors.HasDoorZone | sensors.HasCalls | sensors.HasLoad | sensors.HasFault | sensors.HasAlarm,
	}
	if !sameSample(got, want) {
		t.Fatalf("sample\n got %+v\nwant %+v", got, want)
	}
	if st := m.Stats(); st.Requests != 1 || st.Responses != 1 {
		t.Errorf("one sample took %+v, want a single request", st)
	}
	vals, err := r.Values(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if vals[sensors.SigTrips].Number != 0 || vals[sensors.SigMode].State != wire.ModeInspection {
		t.Errorf("values %+v", vals)
	}
}

func sameSample(a, b sensors.Sample) bool {
	if len(a.Doors) != len(b.Doors) {
		return false
	}
	for i := range a.Doors {
		if a.Doors[i] != b.Doors[i] {
			return false
		}
	}
	a.Doors, b.Doors = nil, nil
	return a.Time.Equal(b.Time) && a.Floor == b.Floor && a.PositionMM == b.PositionMM && a.Direction == b.Direction &&
		a.Moving == b.Moving && a.DoorZone == b.DoorZone && a.Mode == b.Mode && a.FaultCode == b.FaultCode &&
		a.Alarm == b.Alarm && a.CallsPending == b.CallsPending && a.LoadPercent == b.LoadPercent && a.Has == b.Has
}

// Poll the short scenario, sped up, over a line with faults: every sample
// is plausible, the trips happen, the car ends idle at floor 0, and the
// failed polls are exactly the injected faults that retries could not mask.
func TestReaderFollowsScenarioThroughLineFaults(t *testing.T) {
	sc, err := simulator.LoadScenario("../simulator/scenarios/short.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(simulator.Config{Baud: 115200, Speed: 10, Seed: 3, FaultRate: 0.1, Scenario: sc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, m := simReader(t, sim, modbus.Config{ResponseTimeout: 500 * time.Millisecond, Retries: 3, BusyBackoff: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	visited := map[int]bool{}
	var samples, failed int
	var last sensors.Sample
	for done := false; !done; {
		select {
		case <-sim.Done():
			done = true
		case <-ctx.Done():
			t.Fatalf("scenario not done after 20 s; visited %v", visited)
		default:
		}
		s, err := r.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal(err)
			}
			failed++
			continue
		}
		samples++
		if s.Floor < 0 || s.Floor > 8 || s.PositionMM < 0 || s.PositionMM > 8*3000 {
			t.Fatalf("implausible sample %+v", s)
		}
		if d := s.PositionMM - int64(s.Floor)*3000; d < -1500 || d > 1500 {
			t.Fatalf("floor %d does not match position %d", s.Floor, s.PositionMM)
		}
		if s.Moving && s.Direction == wire.DirectionNone || !s.Moving && s.Direction != wire.DirectionNone {
			t.Fatalf("moving %v with direction %s", s.Moving, s.Direction)
		}
		visited[s.Floor] = true
		last = s
	}
	st := m.Stats()
	t.Logf("%d samples, %d failed polls; master %+v; injected %v", samples, failed, st, sim.Stats().Injected)
	if !visited[3] || !visited[5] || !visited[0] {
		t.Errorf("saw floors %v, want 0, 3 and 5", visited)
	}
	vals, err := r.Values(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if trips := vals[sensors.SigTrips].Number; trips != 3 {
		t.Errorf("trip counter %v at the end, want 3", trips)
	}
	if last.Floor != 0 || last.Moving || last.Doors[0] != wire.DoorClosed || last.CallsPending {
		t.Errorf("last sample %+v, want idle at floor 0 with doors closed", last)
	}
	st = m.Stats()
	var injected uint64
	for _, n := range sim.Stats().Injected {
		injected += n
	}
	if injected == 0 || st.Errors() != injected || st.Responses != uint64(samples)+1 {
		t.Errorf("master counted %d errors and %d responses; simulator injected %d, reader got %d samples", st.Errors(), st.Responses, injected, samples)
	}
}

func TestReaderRefusesUnknownState(t *testing.T) {
	// A door state the profile does not map (the simulator's "blocked" is
	// 4; this profile only knows 0..3): the reading fails, nothing is
	// guessed.
	sim, err := simulator.New(simulator.Config{Baud: 115200, Scenario: simtest.Scenario(t, "steps:\n  - door_blocked: true\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, m := simReader(t, sim, modbus.Config{})
	p, err := sensors.ParseProfile("partial.yaml", strings.NewReader(
		"signals:\n  floor: {address: 0}\n  door_a: {address: 4, enum: {0: closed, 1: opening, 2: open, 3: closing}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sensors.NewProfileReader(p, m).Read(context.Background())
	if !errors.Is(err, sensors.ErrUnknownState) || !strings.Contains(err.Error(), "door_a") {
		t.Fatalf("err = %v, want ErrUnknownState naming door_a", err)
	}
}
