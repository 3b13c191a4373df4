package simtest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
	"github.com/palier-lifts/palier/simulator"
)

// AllSetYAML is a car standing at floor 4 with every signal set (inspection
// mode, fault 12, the alarm, 42 % load, a call): its registers can be
// compared exactly.
const AllSetYAML = `
name: still
start_floor: 4
steps:
  - mode: inspection
  - fault_raise: 12
  - alarm: true
  - load: 42
  - call: 7
`

// StillYAML is a car standing at floor 4, doors closed, for an hour.
const StillYAML = "name: still\nstart_floor: 4\nsteps:\n  - wait: 1h\n"

// Scenario parses a scenario written in the test, named after the test.
func Scenario(t testing.TB, yaml string) *simulator.Scenario {
	t.Helper()
	sc, err := simulator.ParseScenario(t.Name(), strings.NewReader(yaml))
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return sc
}

// Still serves a car standing at floor 4 (StillYAML) at 115200 baud, the
// simulator's fastest line, until the test ends.
func Still(t testing.TB) (*simulator.Simulator, string) {
	t.Helper()
	return Start(t, simulator.Config{Scenario: Scenario(t, StillYAML), Baud: 115200})
}

// Start builds a simulator from cfg and serves it on a new pty until the
// test ends. It returns the simulator and the pty's path.
func Start(t testing.TB, cfg simulator.Config) (*simulator.Simulator, string) {
	t.Helper()
	sim, err := simulator.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("simtest: new simulator: %v", err)
	}
	path, _ := Serve(t, sim, "")
	return sim, path
}

// Serve serves sim on a new pty, with a symlink at link unless it is
// empty, until stop is called or the test ends. It returns the pty's path
// (the slave side, which the agent opens). stop may be called more than
// once; a restart test serves a new simulator under the same link.
func Serve(t testing.TB, sim *simulator.Simulator, link string) (path string, stop func()) {
	t.Helper()
	pt, err := simulator.OpenPTY(link)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- sim.Serve(ctx, pt) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("simtest: serve: %v", err)
			}
			pt.Close()
		})
	}
	t.Cleanup(stop)
	return pt.Path(), stop
}

// Master opens the serial port at path at baud and returns a Modbus master
// on it, closed when the test ends (before the simulator stops serving:
// cleanups run last registered first).
func Master(t testing.TB, path string, baud int, mcfg modbus.Config) *modbus.Master {
	t.Helper()
	port, err := serialport.Open(serialport.Config{Path: path, Baud: baud}, nil)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	t.Cleanup(func() { port.Close() })
	mcfg.Baud = baud
	return modbus.NewMaster(port, mcfg, nil)
}
