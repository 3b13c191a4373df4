package simulator

import (
	"github.com/palier-lifts/palier/hal/modbus"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run advances the simulator by d in steps of dt, with no wall clock.
func run(s *Simulator, d, dt time.Duration) {
	for t := time.Duration(0); t < d; t += dt {
		s.advance(dt)
	}
}

func newTest(t *testing.T, cfg Config) *Simulator {
	t.Helper()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parse(t *testing.T, y string) *Scenario {
	t.Helper()
	sc, err := ParseScenario(t.Name(), strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestTripTakesDistanceOverSpeed(t *testing.T) {
	s := newTest(t, Config{Scenario: parse(t, "steps:\n  - call: 3\n")})
	// 9000 mm at 1000 mm/s: 9 s. Watch the car every 100 ms.
	var movingFor time.Duration
	sawUp := false
	for i := 0; i < 200; i++ {
		s.advance(100 * time.Millisecond)
		r := s.Registers()
		if r[RegStatus]&StatusMoving != 0 {
			movingFor += 100 * time.Millisecond
			sawUp = sawUp || r[RegStatus]&StatusUp != 0
		}
	}
	if movingFor < 8900*time.Millisecond || movingFor > 9100*time.Millisecond || !sawUp {
		t.Errorf("moved for %v (up %v), want 9 s going up", movingFor, sawUp)
	}
	r := s.Registers()
	if r[RegFloor] != 3 || r[RegPosition+1] != 9000 || r[RegTrips+1] != 1 || r[RegDoorA] != DoorClosed {
		t.Errorf("after the trip: %v", r)
	}
}

func TestDoorCycleAndReopen(t *testing.T) {
	s := newTest(t, Config{Scenario: parse(t, "steps:\n  - call: 1\n  - reopen: true\n")})
	var seq []uint16
	for i := 0; i < 400; i++ {
		s.advance(50 * time.Millisecond)
		d := s.Registers()[RegDoorA]
		if len(seq) == 0 || seq[len(seq)-1] != d {
			seq = append(seq, d)
		}
	}
	want := []uint16{DoorClosed, DoorOpening, DoorOpen, DoorClosing, DoorOpening, DoorOpen, DoorClosing, DoorClosed}
	if len(seq) != len(want) {
		t.Fatalf("door states %v, want %v", seq, want)
	}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("door states %v, want %v", seq, want)
		}
	}
	if s.car.doorCycles != 1 {
		t.Errorf("%d door cycles, want 1", s.car.doorCycles)
	}
}

func TestStopBetweenFloorsLeavesDoorZone(t *testing.T) {
	s := newTest(t, Config{Scenario: parse(t, "start_floor: 2\nsteps:\n  - stop_between_floors: true\n  - wait: 20s\n  - alarm: true\n  - resume: true\n  - wait_idle: true\n")})
	run(s, 10*time.Second, 50*time.Millisecond)
	r := s.Registers()
	pos := uint32(r[RegPosition])<<16 | uint32(r[RegPosition+1])
	if pos != 7500 || r[RegStatus]&(StatusMoving|StatusDoorZone) != 0 || r[RegDoorA] != DoorClosed {
		t.Fatalf("stopped car: position %d, status %06b, door %d", pos, r[RegStatus], r[RegDoorA])
	}
	run(s, 30*time.Second, 50*time.Millisecond)
	select {
	case <-s.Done():
	default:
		t.Fatal("scenario not done")
	}
	r = s.Registers()
	if r[RegFloor] != 3 || r[RegStatus]&StatusAlarm == 0 || r[RegStatus]&StatusDoorZone == 0 {
		t.Errorf("after resume: %v", r)
	}
}

func TestPowerLossIsSilenceThenResume(t *testing.T) {
	s := newTest(t, Config{Scenario: parse(t, "steps:\n  - call: 4\n  - wait: 3s\n  - power_loss: 10s\n  - wait_idle: true\n")})
	run(s, 4*time.Second, 50*time.Millisecond)
	s.mu.Lock()
	off, pos := s.car.powerOff > 0, s.car.pos
	s.mu.Unlock()
	if !off || pos < 2900 || pos > 3100 {
		t.Fatalf("power off %v at %g mm, want off at ~3000 mm", off, pos)
	}
	run(s, 30*time.Second, 50*time.Millisecond)
	if r := s.Registers(); r[RegFloor] != 4 || r[RegTrips+1] != 1 {
		t.Errorf("after power back: %v", r)
	}
}

func TestModeHoldsCalls(t *testing.T) {
	s := newTest(t, Config{Scenario: parse(t, "steps:\n  - mode: out_of_service\n  - call: 5\n  - wait: 30s\n  - mode: normal\n  - wait_idle: true\n")})
	run(s, 20*time.Second, 50*time.Millisecond)
	if r := s.Registers(); r[RegFloor] != 0 || r[RegStatus]&StatusCalls == 0 || r[RegMode] != ModeOutOfService {
		t.Fatalf("out of service: %v, want waiting at 0 with a call pending", r)
	}
	run(s, 40*time.Second, 50*time.Millisecond)
	if r := s.Registers(); r[RegFloor] != 5 || r[RegMode] != ModeNormal {
		t.Errorf("back in service: %v", r)
	}
}

// The shipped scenarios parse, validate and finish, ending idle and stable.
func TestShippedScenariosFinishIdle(t *testing.T) {
	paths, err := filepath.Glob("scenarios/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			sc, err := LoadScenario(path)
			if err != nil {
				t.Fatal(err)
			}
			s := newTest(t, Config{Scenario: sc})
			for i := 0; i < 200000; i++ {
				s.advance(50 * time.Millisecond)
				select {
				case <-s.Done():
					i = 1 << 30
				default:
				}
			}
			select {
			case <-s.Done():
			default:
				t.Fatalf("not done after %v of simulated time", s.SimTime())
			}
			before := s.Registers()
			run(s, time.Hour, time.Second)
			if after := s.Registers(); after != before || !s.car.idle() {
				t.Errorf("state moved after the end: %v -> %v", before, after)
			}
			t.Logf("%s: %v simulated, %d trips", path, s.SimTime(), s.car.trips)
		})
	}
}

func TestScenarioValidation(t *testing.T) {
	bad := map[string]string{
		"two actions": "steps:\n  - {call: 1, alarm: true}\n",
		"no action":   "steps:\n  - {}\n",
		"floor":       "steps:\n  - call: 9\n",
		"mode":        "steps:\n  - mode: party\n",
		"start floor": "start_floor: -1\n",
		"fault zero":  "steps:\n  - fault_raise: 0\n",
	}
	for name, y := range bad {
		sc, err := ParseScenario(name, strings.NewReader(y))
		if err == nil {
			err = sc.Validate(9)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseScenario("typo", strings.NewReader("steps:\n  - cal: 1\n")); err == nil || !strings.Contains(err.Error(), "cal") {
		t.Errorf("unknown key: %v", err)
	}
}

// The same seed gives the same day; another seed another one.
func TestTrafficDeterministic(t *testing.T) {
	trace := func(seed uint64) []uint16 {
		s := newTest(t, Config{Seed: seed})
		var out []uint16
		for i := 0; i < 3*3600; i++ { // three simulated hours, in 1 s steps
			s.advance(time.Second)
			if i%60 == 0 {
				r := s.Registers()
				out = append(out, r[RegFloor], r[RegTrips+1], r[RegDoorA])
			}
		}
		return out
	}
	a, b, c := trace(1), trace(1), trace(2)
	same := func(x, y []uint16) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("same seed, different days")
	}
	if same(a, c) {
		t.Error("seeds 1 and 2 gave the same day")
	}
	if trips := a[len(a)-2]; trips < 20 {
		t.Errorf("%d trips in the first three hours, want a morning rush", trips)
	}
}

func TestFaultInjectionDeterministic(t *testing.T) {
	draw := func(seed uint64) string {
		s := newTest(t, Config{Seed: seed, FaultRate: 0.5})
		var b strings.Builder
		for i := 0; i < 50; i++ {
			out, ok := s.injectFault(mustReq(), []byte{1, 3, 2, 0, 7, 0xf9, 0x86})
			b.WriteString(string(rune('0' + len(out))))
			if !ok {
				b.WriteByte('s')
			}
		}
		return b.String()
	}
	first, again := draw(9), draw(9)
	if first != again || first == draw(10) {
		t.Error("fault injection is not a function of the seed")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{{Floors: 1}, {Speed: -1}, {FaultRate: 2}, {CarSpeedMMs: -3}, {Slave: 250}} {
		if _, err := New(c, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestPTYLink(t *testing.T) {
	link := t.TempDir() + "/sim"
	p, err := OpenPTY(link)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(link)
	if err != nil || target != p.Path() {
		t.Fatalf("link -> %q, %v; want %s", target, err, p.Path())
	}
	// A second simulator replaces a stale link.
	p2, err := OpenPTY(link)
	if err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(link); target != p2.Path() {
		t.Errorf("link -> %q, want %s", target, p2.Path())
	}
	p.Close()
	p2.Close()
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link left behind: %v", err)
	}
}

func mustReq() modbus.Request {
	return modbus.Request{Slave: 1, Function: modbus.ReadHoldingRegisters, Address: 0, Count: 1}
}

func TestStopWhileMovingHaltsBeforeTarget(t *testing.T) {
	// Going down from 5 to 4, asked to stop 2.4 s in (near 12600 mm): the
	// half-floor point 13500 mm is passed and the next one, 10500 mm, is
	// past the target, so the car stops where it is, outside the door zone.
	s := newTest(t, Config{Scenario: parse(t, "start_floor: 5\nsteps:\n  - call: 4\n  - wait: 2400ms\n  - stop_between_floors: true\n")})
	run(s, 10*time.Second, 50*time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.car.halted || s.car.moving || s.car.pos < 12000+doorZoneMM || s.car.pos > 15000-doorZoneMM {
		t.Fatalf("halted %v moving %v at %g mm, want stopped between 4 and 5", s.car.halted, s.car.moving, s.car.pos)
	}
	s.car.resume()
	for i := 0; i < 400; i++ {
		s.car.step(50 * time.Millisecond)
	}
	if s.car.floor() != 4 || !s.car.idle() {
		t.Errorf("after resume: floor %d, idle %v", s.car.floor(), s.car.idle())
	}
}

// With AlarmRate, the procedural day has passengers pressing the alarm
// now and then, each press released after a while; without it, never.
func TestTrafficAlarms(t *testing.T) {
	for _, rate := range []float64{0, 0.5} {
		s := newTest(t, Config{Seed: 7, AlarmRate: rate})
		presses, pressed := 0, false
		for range 4 * 3600 { // four simulated hours from 06:00, second by second
			s.advance(time.Second)
			now := s.Registers()[RegStatus]&StatusAlarm != 0
			if now && !pressed {
				presses++
			}
			pressed = now
		}
		switch {
		case rate == 0 && presses != 0:
			t.Errorf("alarm rate 0: %d presses", presses)
		case rate > 0 && presses < 10:
			t.Errorf("alarm rate %g: %d presses in four hours of calls", rate, presses)
		}
	}
}
