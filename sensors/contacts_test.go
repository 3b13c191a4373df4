package sensors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	palgpio "github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/wire"
)

// board is a set of gpiotest pins standing in for the GPIO header.
type board map[string]*gpiotest.Pin

func (b board) open(name string) (gpio.PinIn, error) {
	p, ok := b[name]
	if !ok {
		p = &gpiotest.Pin{N: name}
		b[name] = p
	}
	return p, nil
}

// close sets a contact to ground (on, for active-low wiring) or open.
func (b board) set(name string, closed bool) {
	p := b[name]
	p.Lock()
	p.L = gpio.Level(!closed)
	p.Unlock()
}

func TestContactReaderRelayBoard(t *testing.T) {
	m, err := LoadContactMap("profiles/contacts/relay-board.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := board{}
	r, err := NewContactReader(m, b.open)
	if err != nil {
		t.Fatal(err)
	}
	if b["GPIO17"].Pull() != gpio.PullUp {
		t.Errorf("door contact pull %v, want up", b["GPIO17"].Pull())
	}
	now := time.Unix(1000, 0)
	r.Now = func() time.Time { return now }
	ctx := context.Background()

	// At rest at floor 0: every contact open (lines high).
	s, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Floor != 0 || s.Moving || s.Direction != wire.DirectionNone || s.Doors[0] != wire.DoorClosed || s.Mode != wire.ModeNormal || s.Alarm || s.FaultCode != 0 {
		t.Fatalf("at rest: %+v", s)
	}
	if s.Has&(HasDoorZone|HasFault|HasAlarm) != HasDoorZone|HasFault|HasAlarm {
		t.Errorf("has %b", s.Has)
	}

	// Floor 5 (binary 0101), travelling up, door zone: after the debounce.
	b.set("GPIO5", true)
	b.set("GPIO13", true)
	b.set("GPIO22", true)
	b.set("GPIO27", true)
	if s, _ := r.Read(ctx); s.Floor != 0 || s.Direction != wire.DirectionNone {
		t.Fatalf("changes accepted before their debounce: %+v", s)
	}
	now = now.Add(50 * time.Millisecond)
	s, err = r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Floor != 5 || !s.Moving || s.Direction != wire.DirectionUp || !s.DoorZone {
		t.Fatalf("travelling: %+v", s)
	}

	// Fault relay, alarm and inspection key.
	b.set("GPIO24", true)
	b.set("GPIO25", true)
	b.set("GPIO16", true)
	r.Read(ctx)
	now = now.Add(time.Second)
	s, err = r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.FaultCode != 1 || !s.Alarm || s.Mode != wire.ModeInspection {
		t.Fatalf("fault, alarm, inspection: %+v", s)
	}

	// Up and down together is a wiring or relay fault: refused.
	b.set("GPIO23", true)
	r.Read(ctx)
	now = now.Add(time.Second)
	if _, err := r.Read(ctx); !errors.Is(err, ErrContactConflict) {
		t.Fatalf("up and down: %v, want ErrContactConflict", err)
	}
	if lv := r.Levels(); len(lv) != 11 || !lv["up (GPIO22)"] {
		t.Errorf("levels %v", lv)
	}
}

func TestContactReaderOnePerFloor(t *testing.T) {
	var y strings.Builder
	y.WriteString("contacts:\n  moving: {line: M}\nfloors:\n  encoding: one_per_floor\n  first_floor: -1\n  lines:\n")
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&y, "    - {line: F%d}\n", i)
	}
	m, err := ParseContactMap("opf.yaml", strings.NewReader(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	b := board{}
	r, err := NewContactReader(m, b.open)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	level := func(name string, on bool) {
		p := b[name]
		p.Lock()
		p.L = gpio.Level(on)
		p.Unlock()
	}
	if _, err := r.Read(ctx); !errors.Is(err, ErrNoFloor) {
		t.Fatalf("no floor input yet: %v, want ErrNoFloor", err)
	}
	level("F2", true)
	if s, err := r.Read(ctx); err != nil || s.Floor != 1 {
		t.Fatalf("F2 on: %+v %v, want floor 1 (first_floor -1)", s, err)
	}
	level("F2", false)
	level("M", true)
	if s, err := r.Read(ctx); err != nil || s.Floor != 1 || !s.Moving {
		t.Fatalf("between floors: %+v %v, want the last floor kept", s, err)
	}
	level("F0", true)
	level("F3", true)
	if _, err := r.Read(ctx); !errors.Is(err, ErrContactConflict) {
		t.Fatalf("two floor inputs: %v, want ErrContactConflict", err)
	}
}

func TestContactMapValidation(t *testing.T) {
	y := `
contacts:
  door_open: {line: GPIO17, pull: sideways}
  door_zone: {line: GPIO17}
  trapdoor: {line: GPIO4}
  alarm: {line: GPIO5, fault_code: 3}
floors:
  encoding: gray
  lines: []
`
	_, err := ParseContactMap("bad-contacts.yaml", strings.NewReader(y))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	for _, want := range []string{"door_open: field pull", "door_zone: field line: GPIO17 is already wired", "trapdoor", "alarm: field fault_code", "floors: field encoding"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "bad-contacts.yaml") {
		t.Errorf("file not named: %v", err)
	}
	if _, err := ParseContactMap("typo.yaml", strings.NewReader("contacts:\n  alarm: {lin: X}\n")); err == nil || !strings.Contains(err.Error(), "lin") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestContactReaderOpenError(t *testing.T) {
	m, err := LoadContactMap("profiles/contacts/relay-board.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var h palgpio.Host // this machine has no GPIO chip
	if _, err := NewContactReader(m, h.Open); err == nil || !strings.Contains(err.Error(), "GPIO") {
		t.Fatalf("err = %v, want an error naming a line", err)
	}
}

func FuzzParseContactMap(f *testing.F) {
	f.Add([]byte("contacts:\n  alarm: {line: A}\nfloors:\n  encoding: binary\n  lines: [{line: B}]\n"))
	f.Add([]byte("floors:\n  encoding: one_per_floor\n  lines: [{line: B}, {line: C, debounce: 5ms}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseContactMap("fuzz.yaml", strings.NewReader(string(b)))
		if err != nil {
			return
		}
		bd := board{}
		r, err := NewContactReader(m, bd.open)
		if err != nil {
			t.Fatalf("valid map %+v does not open: %v", m, err)
		}
		r.Read(context.Background())
	})
}
