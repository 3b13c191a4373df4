package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/receiver"
)

// writeConfig writes an agent config for the simulator's pty and a broker.
func writeConfig(t *testing.T, port, broker string) string {
	t.Helper()
	dir := t.TempDir()
	profile, _ := filepath.Abs("../../sensors/profiles/palier-sim.yaml")
	path := filepath.Join(dir, "agent.yaml")
	cfg := fmt.Sprintf(`site: doc-site
cabin: a
state_dir: %s
controller:
  profile: %s
  port: %s
  baud: 115200
  response_timeout: 300ms
uplink:
  broker: %s
outbox:
  max_bytes: 1048576
`, filepath.Join(dir, "state"), profile, port, broker)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runDoctor runs the doctor; timeout bounds the wait for the receiver.
func runDoctor(t *testing.T, path, timeout string) (int, []check) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := doctor(context.Background(), []string{"--config", path, "--json", "--timeout", timeout}, &out, &errOut, doctorDeps{})
	var checks []check
	if err := json.Unmarshal(out.Bytes(), &checks); err != nil {
		t.Fatalf("doctor --json: %v\n%s%s", err, out.String(), errOut.String())
	}
	return code, checks
}

func find(checks []check, name string) (check, bool) {
	for _, c := range checks {
		if c.Name == name {
			return c, true
		}
	}
	return check{}, false
}

func TestDoctorPassesAgainstSimulatorAndReceiver(t *testing.T) {
	_, pty := startSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rcfg := receiver.DefaultConfig()
	rcfg.StateDir = t.TempDir()
	rcfg.NATS.Embedded.Port = -1 // a free port, bound by the server itself
	rcfg.NATS.Embedded.MQTTPort = -1
	rcfg.HTTP.Listen = "127.0.0.1:0"
	rcv, err := receiver.New(ctx, rcfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rcv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	code, checks := runDoctor(t, writeConfig(t, pty, "tcp://"+rcv.MQTTAddr()), "20s")
	for _, name := range []string{"config", "disk", "serial port", "controller", "broker TCP", "broker MQTT", "receiver"} {
		c, ok := find(checks, name)
		if !ok || !c.OK {
			t.Errorf("check %q: %+v", name, c)
		}
	}
	if c, _ := find(checks, "controller"); !strings.Contains(c.Detail, "floor=4") {
		t.Errorf("controller check does not show the floor: %s", c.Detail)
	}
	// The clock may be unsynchronised on a test machine: only that check may fail.
	if c, _ := find(checks, "clock"); code != 0 && c.OK {
		t.Fatalf("exit %d with every check passing: %+v", code, checks)
	}
}

func TestDoctorNamesEachFailureAndItsFix(t *testing.T) {
	_, pty := startSim(t)

	// Broker down: nothing listens on the port.
	code, checks := runDoctor(t, writeConfig(t, pty, "tcp://"+nettest.RefusedAddr(t)), "2s")
	if c, _ := find(checks, "broker TCP"); code == 0 || c.OK || !strings.Contains(c.Fix, "port") {
		t.Errorf("broker down: exit %d, %+v", code, c)
	}

	// A broker but no receiver: the test event is never acknowledged.
	srv, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	path := writeConfig(t, pty, "tcp://"+srv.MQTTAddr())
	code, checks = runDoctor(t, path, "2s")
	mqtt, _ := find(checks, "broker MQTT")
	rc, _ := find(checks, "receiver")
	if code == 0 || !mqtt.OK || rc.OK || !strings.Contains(rc.Fix, "receiver") {
		t.Errorf("no receiver: exit %d, mqtt %+v, receiver %+v", code, mqtt, rc)
	}

	// Wrong serial port.
	code, checks = runDoctor(t, writeConfig(t, "/dev/ttyNOPE0", "tcp://"+srv.MQTTAddr()), "1s")
	if c, _ := find(checks, "serial port"); code == 0 || c.OK || !strings.Contains(c.Fix, "by-id") {
		t.Errorf("wrong port: exit %d, %+v", code, c)
	}

	// Wrong slave id on the right port: the hint says what to check.
	path = writeConfig(t, pty, "tcp://"+srv.MQTTAddr())
	b, _ := os.ReadFile(path)
	profile := filepath.Join(t.TempDir(), "slave9.yaml")
	p, _ := os.ReadFile("../../sensors/profiles/palier-sim.yaml")
	os.WriteFile(profile, bytes.ReplaceAll(p, []byte("slave: 1"), []byte("slave: 9")), 0o600)
	abs, _ := filepath.Abs("../../sensors/profiles/palier-sim.yaml")
	os.WriteFile(path, bytes.Replace(b, []byte(abs), []byte(profile), 1), 0o600)
	code, checks = runDoctor(t, path, "1s")
	if c, _ := find(checks, "controller"); code == 0 || c.OK || !strings.Contains(c.Fix, "slave id") {
		t.Errorf("wrong slave: exit %d, %+v", code, c)
	}
}
