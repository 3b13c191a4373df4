package e2e_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/internal/amtest"
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

	_, pty, _ := startSimulator(t, ctx, "stuck_between_floors", 4)
	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	runAgent(t, ctx, acfg, log.With("part", "agent"), nil)

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
