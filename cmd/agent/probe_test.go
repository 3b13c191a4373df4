package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/simulator/simtest"
)

// startSim serves a simulator standing still at floor 4 on a pty.
func startSim(t *testing.T) (*simulator.Simulator, string) { return simtest.Still(t) }

func TestProbeModbusReadsTheSimulator(t *testing.T) {
	sim, path := startSim(t)
	var out, errOut bytes.Buffer
	code := run([]string{"probe", "modbus", "--port", path, "--baud", "115200", "--slave", "1", "--holding", "--json", "0:11"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var vals []probeValue
	if err := json.Unmarshal(out.Bytes(), &vals); err != nil {
		t.Fatalf("--json output %q: %v", out.String(), err)
	}
	regs := sim.Registers()
	if len(vals) != 11 {
		t.Fatalf("%d values, want 11", len(vals))
	}
	for i, v := range vals {
		if v.Address != i || v.Value != int(regs[i]) {
			t.Errorf("address %d = %d, simulator holds %d", v.Address, v.Value, regs[i])
		}
	}
	if vals[simulator.RegFloor].Value != 4 {
		t.Errorf("floor register = %d, want 4", vals[simulator.RegFloor].Value)
	}

	out.Reset()
	if code := run([]string{"probe", "modbus", "--port", path, "--baud", "115200", "0:2"}, &out, &errOut); code != 0 {
		t.Fatalf("plain output: exit %d: %s", code, errOut.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[0], strconv.Itoa(int(regs[0]))) {
		t.Fatalf("plain output %q", out.String())
	}
}

// Installers type the flags after the range as often as before it.
func TestProbeModbusTakesFlagsAfterTheRange(t *testing.T) {
	sim, path := startSim(t)
	var out, errOut bytes.Buffer
	code := run([]string{"probe", "modbus", "0:11", "--port", path, "--baud", "115200", "--holding", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var vals []probeValue
	if err := json.Unmarshal(out.Bytes(), &vals); err != nil {
		t.Fatalf("--json after the range was not taken: %q: %v", out.String(), err)
	}
	if len(vals) != 11 || vals[simulator.RegFloor].Value != int(sim.Registers()[simulator.RegFloor]) {
		t.Fatalf("values %+v", vals)
	}
	errOut.Reset()
	if code := run([]string{"probe", "modbus", "0:11", "--port", path, "--nope"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-nope") {
		t.Fatalf("unknown flag after the range: exit %d, %q", code, errOut.String())
	}
}

func TestProbeModbusExplainsFailures(t *testing.T) {
	_, path := startSim(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"wrong slave", []string{"--slave", "9", "--timeout", "200ms", "0:11"}, []string{"slave 9", "received nothing", "slave id"}},
		{"illegal address", []string{"--slave", "1", "900:4"}, []string{"exception", "no such address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"probe", "modbus", "--port", path, "--baud", "115200"}, tc.args...)
			if code := run(args, &out, &errOut); code != 1 {
				t.Fatalf("exit %d, want 1; stderr %s", code, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("message lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"probe", "modbus", "--port", "/dev/does-not-exist", "0:1"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "cannot open") {
		t.Fatalf("missing port: exit %d, %s", code, errOut.String())
	}
	if code := run([]string{"probe", "modbus", "--port", path, "0-3"}, &out, &errOut); code != 2 {
		t.Fatalf("bad range: exit %d", code)
	}
}

func TestProbeGPIOShowsEachContact(t *testing.T) {
	pins := map[string]*gpiotest.Pin{}
	open := func(name string) (gpio.PinIn, error) {
		if pins[name] == nil {
			pins[name] = &gpiotest.Pin{N: name, L: gpio.High}
		}
		return wiredPin{pins[name]}, nil
	}
	open("GPIO25")
	pins["GPIO25"].L = gpio.Low // alarm button pressed (active low)
	var out, errOut bytes.Buffer
	code := probeGPIO(context.Background(), []string{"--contacts", "../../sensors/profiles/contacts/relay-board.yaml", "--once", "--json"}, &out, &errOut, open)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var levels map[string]bool
	if err := json.Unmarshal(out.Bytes(), &levels); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	if !levels["alarm (GPIO25)"] || levels["door_open (GPIO17)"] {
		t.Fatalf("levels %v: want alarm closed and door_open open", levels)
	}
	if len(levels) != 11 {
		t.Fatalf("%d lines shown, the map wires 11", len(levels))
	}
	out.Reset()
	probeGPIO(context.Background(), []string{"--contacts", "../../sensors/profiles/contacts/relay-board.yaml", "--once"}, &out, &errOut, open)
	if !strings.Contains(out.String(), "alarm (GPIO25)") || !strings.Contains(out.String(), "CLOSED") {
		t.Fatalf("table %q", out.String())
	}
}

// wiredPin is a gpiotest pin whose level the wiring sets: gpiotest's In
// would reset it to the pull's level.
type wiredPin struct{ *gpiotest.Pin }

func (p wiredPin) In(pull gpio.Pull, _ gpio.Edge) error {
	p.Lock()
	defer p.Unlock()
	p.P = pull
	return nil
}
