package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
)

func TestRunOnPTYPlaysScenarioAndExits(t *testing.T) {
	link := t.TempDir() + "/sim"
	out, outW := io.Pipe()
	res := make(chan error, 1)
	go func() {
		res <- run([]string{"--pty", "--pty-link", link, "--baud", "115200", "--speed", "50",
			"--scenario", "../../simulator/scenarios/short.yaml", "--exit-when-done", "--log-level", "warn"}, outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pty /dev/") {
		t.Fatalf("first line %q, %v; want the pty path", line, err)
	}
	go io.Copy(io.Discard, out)
	// Open through the link, as a script would.
	port, err := serialport.Open(serialport.Config{Path: link, Baud: 115200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	m := modbus.NewMaster(port, modbus.Config{Baud: 115200, ResponseTimeout: 2 * time.Second}, nil)
	var trips uint16
	ctx := context.Background()
	deadline := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case err := <-res:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			done = true
		case <-deadline:
			t.Fatal("elevatorsim did not exit after its scenario")
		default:
			regs, err := m.ReadHoldingRegisters(ctx, 1, 0, 11)
			if err != nil {
				continue // the simulator may be closing
			}
			trips = regs[10]
		}
	}
	if trips != 3 {
		t.Errorf("trip counter %d at the end of short.yaml, want 3", trips)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--pty", "--port", "/dev/ttyUSB0"},
		{"--pty", "--faults", "smoke"},
		{"--pty", "--slave", "0"},
		{"--pty", "--speed", "-1"},
		{"--pty", "--scenario", "/nonexistent.yaml"},
	} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// The fleet subcommand refuses a bad configuration before opening
// anything, naming every field at fault.
func TestFleetRefusesBadConfig(t *testing.T) {
	err := run([]string{"fleet", "--mode", "hurricane", "--cabin-pattern", "Cabin {cabin}", "--dir", t.TempDir(), "--log-level", "error"}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("a bad mode and cabin pattern were accepted")
	}
	for _, want := range []string{"mode: \"hurricane\" unknown", "cabin_pattern: \"Cabin {cabin}\" gives \"Cabin 0\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
