package simtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/simulator/simtest"
)

func TestStillAnswersOnItsPTY(t *testing.T) {
	sim, path := simtest.Still(t)
	m := simtest.Master(t, path, 115200, modbus.Config{ResponseTimeout: 2 * time.Second})
	regs, err := m.ReadHoldingRegisters(context.Background(), 1, 0, simulator.NumRegs)
	if err != nil {
		t.Fatal(err)
	}
	if regs[simulator.RegFloor] != 4 || regs[simulator.RegFloor] != sim.Registers()[simulator.RegFloor] {
		t.Errorf("floor register %d, want 4", regs[simulator.RegFloor])
	}
}

func TestServeStopsOnceAndAgain(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Scenario: simtest.Scenario(t, simtest.AllSetYAML), Baud: 115200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	link := t.TempDir() + "/sim"
	path, stop := simtest.Serve(t, sim, link)
	if path == "" {
		t.Fatal("no pty path")
	}
	stop()
	stop() // and once more when the test ends
	// The simulator serves one port at a time: stopped, it serves again.
	simtest.Serve(t, sim, link)
}
