package sensors

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/hal/modbus"
)

// Type conversions, one case per encoding (after telegraf's modbus tests).
func TestDecodeSignalTypes(t *testing.T) {
	f32 := math.Float32bits(-12.5)
	cases := []struct {
		name string
		yaml string // the signal's mapping, as "position_mm: {...}"
		regs []uint16
		want float64
	}{
		{"u16", "{address: 0}", []uint16{65535}, 65535},
		{"i16 negative", "{address: 0, type: i16}", []uint16{0xFFFE}, -2},
		{"u32 high first", "{address: 0, type: u32}", []uint16{0x0001, 0x0002}, 65538},
		{"u32 low first", "{address: 0, type: u32, word_order: low_first}", []uint16{0x0002, 0x0001}, 65538},
		{"i32 negative", "{address: 0, type: i32}", []uint16{0xFFFF, 0xFFF6}, -10},
		{"f32", "{address: 0, type: f32}", []uint16{uint16(f32 >> 16), uint16(f32)}, -12.5},
		{"f32 low first", "{address: 0, type: f32, word_order: low_first}", []uint16{uint16(f32), uint16(f32 >> 16)}, -12.5},
		{"scale cm to mm", "{address: 0, scale: 10}", []uint16{123}, 1230},
		{"offset", "{address: 0, offset: -1}", []uint16{1}, 0},
		{"second register", "{address: 1}", []uint16{9, 8}, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseProfile(c.name, strings.NewReader("signals:\n  floor: {address: 0}\n  position_mm: "+c.yaml+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			s := p.Signals[SigPositionMM]
			s.off = int(s.Address) // one response from register 0
			v, err := decodeSignal(s, modbus.Response{Registers: c.regs})
			if err != nil {
				t.Fatal(err)
			}
			if v.Number != c.want {
				t.Errorf("decoded %v, want %v", v.Number, c.want)
			}
		})
	}
}

func TestDecodeSignalBitsAndStates(t *testing.T) {
	p, err := ParseProfile("bits", strings.NewReader(`
signals:
  floor: {address: 0}
  moving: {address: 3, bit: 0}
  alarm: {address: 3, bit: 15}
  door_zone: {table: discrete, address: 2}
  calls_pending: {address: 4}
  direction: {address: 5, enum: {0: none, 1: up, 2: down}}
`))
	if err != nil {
		t.Fatal(err)
	}
	regs := modbus.Response{Registers: []uint16{0, 0, 0, 0x8000, 7, 2}}
	check := func(name string, resp modbus.Response, want Value) {
		t.Helper()
		s := p.Signals[name]
		s.off = int(s.Address)
		got, err := decodeSignal(s, resp)
		if err != nil || got.Bool != want.Bool || got.State != want.State {
			t.Errorf("%s = %+v, %v; want %+v", name, got, err, want)
		}
	}
	check(SigMoving, regs, Value{Bool: false})
	check(SigAlarm, regs, Value{Bool: true})
	check(SigCallsPending, regs, Value{Bool: true}) // no bit: any non-zero value
	check(SigDirection, regs, Value{State: "down"})
	check(SigDoorZone, modbus.Response{Bits: []bool{false, false, true}}, Value{Bool: true})

	s := p.Signals[SigDirection]
	s.off = 0
	if _, err := decodeSignal(s, modbus.Response{Registers: []uint16{9}}); !errors.Is(err, ErrUnknownState) {
		t.Errorf("direction 9: %v, want ErrUnknownState", err)
	}
}

func TestDecodeSignalRejectsNaN(t *testing.T) {
	p, err := ParseProfile("nan", strings.NewReader("signals:\n  floor: {address: 0, type: f32}\n"))
	if err != nil {
		t.Fatal(err)
	}
	nan := math.Float32bits(float32(math.NaN()))
	if _, err := decodeSignal(p.Signals[SigFloor], modbus.Response{Registers: []uint16{uint16(nan >> 16), uint16(nan)}}); err == nil {
		t.Error("NaN floor accepted")
	}
}
