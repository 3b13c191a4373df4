package sensors

import (
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// BenchmarkStepUnchanged measures a sample that changes nothing: the common
// case, polled several times a second for months. Goal: under 1 µs, 0 allocs.
func BenchmarkStepUnchanged(b *testing.B) {
	m := NewMachine(DefaultMachineConfig(), wire.Counters{})
	s := Sample{Time: scenarioStart(), Floor: 3, Direction: wire.DirectionNone, DoorZone: true,
		Doors: []string{wire.DoorClosed, wire.DoorClosed}, Mode: wire.ModeNormal, PositionMM: 9000,
		Has: HasDoorZone | HasCalls | HasFault | HasAlarm | HasPosition}
	buf := make([]wire.Event, 0, 16)
	for i := 0; i < 4; i++ {
		s.Time = s.Time.Add(100 * time.Millisecond)
		m.AppendStep(buf[:0], s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		s.Time = s.Time.Add(100 * time.Millisecond)
		events += len(m.AppendStep(buf[:0], s))
	}
	b.StopTimer()
	if events != 0 || m.Dropped() != 0 {
		b.Fatalf("an unchanged sample produced %d events, %d dropped", events, m.Dropped())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
}

// movingSample returns sample i of an endless day of traffic polled every
// 100 ms: doors cycle at a floor, the car runs 0 -> 5 or back, and so on.
func movingSample(i int, doorSets [5][]string) Sample {
	const cycle = 200 // samples per floor-to-floor-and-doors cycle
	k := i % cycle
	up := (i/cycle)%2 == 0
	s := Sample{Time: scenarioStart().Add(time.Duration(i+1) * 100 * time.Millisecond), Direction: wire.DirectionNone,
		DoorZone: true, Doors: doorSets[0], Mode: wire.ModeNormal, Has: HasDoorZone | HasCalls | HasFault | HasAlarm}
	from, to := 0, 5
	if !up {
		from, to = 5, 0
	}
	s.Floor = from
	switch {
	case k < 20: // idle
	case k < 30:
		s.Doors = doorSets[1]
	case k < 70:
		s.Doors = doorSets[2]
	case k < 80:
		s.Doors = doorSets[3]
	case k < 90: // closed, direction chosen
		s.Direction = wire.DirectionUp
		if !up {
			s.Direction = wire.DirectionDown
		}
	case k < 180: // 90 samples = 9 s for 5 floors
		s.Direction = wire.DirectionUp
		if !up {
			s.Direction = wire.DirectionDown
		}
		s.Moving, s.DoorZone = true, false
		step := (k - 90) / 18
		if up {
			s.Floor = from + step
		} else {
			s.Floor = from - step
		}
	default:
		s.Floor = to
	}
	if k >= 180 {
		s.Floor = to
	}
	return s
}

// BenchmarkStepMoving measures a stream of traffic: events are built as they
// complete (JSON-encoded data, so they allocate); ns and allocs are per sample.
func BenchmarkStepMoving(b *testing.B) {
	doorSets := [5][]string{{wire.DoorClosed}, {wire.DoorOpening}, {wire.DoorOpen}, {wire.DoorClosing}, {wire.DoorBlocked}}
	m := NewMachine(DefaultMachineConfig(), wire.Counters{})
	buf := make([]wire.Event, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		events += len(m.AppendStep(buf[:0], movingSample(i, doorSets)))
	}
	b.StopTimer()
	if m.Dropped() != 0 {
		b.Fatalf("%d samples of a plausible stream dropped", m.Dropped())
	}
	if b.N >= 1000 && m.Counters().Trips == 0 {
		b.Fatal("the stream made no trip")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
	b.ReportMetric(float64(events)/float64(b.N), "events/sample")
}
