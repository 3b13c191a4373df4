package e2e_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/internal/amtest"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/wire"
)

// TestEntrapmentReachesAlertmanager is the end-to-end alert of issue 15:
// the simulator's stuck_between_floors scenario through the agent and the
// receiver to a real Alertmanager gives one entrapment notification within
// 60 s of the entrapment event, and one resolution after it clears.
func TestEntrapmentReachesAlertmanager(t *testing.T) {
	am, hook := amtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	log := logger(t)

	rcfg := receiverConfig(filepath.Join(dir, "receiver"))
	rcfg.Alerting.AlertmanagerURLs = []string{am}
	rcfg.Alerting.Interval = time.Second
	rcv, _ := startReceiver(t, ctx, rcfg)

	sc, err := simulator.LoadScenario(repoFile(t, "simulator/scenarios/stuck_between_floors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(simulator.Config{Speed: 4, Seed: 7, Baud: 19200, Scenario: sc}, log.With("part", "sim"))
	if err != nil {
		t.Fatal(err)
	}
	pty, err := simulator.OpenPTY("")
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	go sim.Serve(ctx, pty)

	acfg := agent.DefaultConfig()
	acfg.Site, acfg.Cabin = site, cabin
	acfg.StateDir = filepath.Join(dir, "agent")
	acfg.Controller.Profile = repoFile(t, "sensors/profiles/palier-sim.yaml")
	acfg.Controller.Port = pty.Path()
	acfg.Controller.PollInterval = 25 * time.Millisecond
	acfg.Uplink.Broker = "tcp://" + rcv.MQTTAddr()
	acfg.Uplink.BackoffMin = 50 * time.Millisecond
	acfg.Uplink.BackoffMax = 500 * time.Millisecond
	acfg.Screen.Socket = filepath.Join(dir, "agent.sock")
	acfg.Metrics.Listen = ""
	ag, err := agent.New(ctx, acfg, log.With("part", "agent"))
	if err != nil {
		t.Fatal(err)
	}
	agDone := make(chan error, 1)
	go func() { agDone <- ag.Run(ctx) }()
	defer func() { cancel(); <-agDone }()

	// The entrapment as the agent dated it, once stored.
	var trapped time.Time
	deadline := time.Now().Add(3 * time.Minute)
	for trapped.IsZero() {
		for _, e := range allEvents(t, rcv.Store()) {
			if e.Type == wire.TypeEntrapment && string(e.Data) != "" && trapped.IsZero() && strings.Contains(string(e.Data), `"active":true`) {
				trapped = e.Time
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no entrapment stored: the scenario did not play")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, 60*time.Second, "the entrapment notified", func() bool { return hook.Count("firing", "ElevatorEntrapment") >= 1 })
	first := hook.Matching("firing", "ElevatorEntrapment")[0]
	if lag := first.Received.Sub(trapped); lag > 60*time.Second {
		t.Fatalf("notified %s after the entrapment, want within 60 s", lag)
	} else {
		t.Logf("entrapment notified %s after the agent saw it", lag.Round(time.Millisecond))
	}
	if a := first.Alerts[0]; a.Labels["site"] != site || a.Labels["cabin"] != cabin || a.Labels["severity"] != "critical" || a.Annotations["since"] == "" {
		t.Errorf("alert %+v: want the site, cabin, critical and since", a)
	}
	waitFor(t, 2*time.Minute, "the entrapment resolved", func() bool { return hook.Count("resolved", "ElevatorEntrapment") >= 1 })
	if n := hook.Count("firing", "ElevatorEntrapment"); n != 1 {
		t.Fatalf("%d entrapment notifications, want exactly 1", n)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
