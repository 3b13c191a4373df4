package alerting

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/internal/amtest"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runAlerter runs an alerter until the returned stop is called.
func runAlerter(t *testing.T, st store.Store, am string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a := New(st, Options{URLs: []string{am}, Interval: 300 * time.Millisecond, PublicURL: "https://palier.example",
		Logger: slog.New(slog.DiscardHandler)})
	go func() { defer close(done); a.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// TestEntrapmentReachesSomeoneOnce runs a real Alertmanager: an entrapment
// gives one notification though two receivers send it, and one resolution
// when it clears; the same when the receivers restart in between.
func TestEntrapmentReachesSomeoneOnce(t *testing.T) {
	am, hook := amtest.Start(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	seq := uint64(0)
	entrapment := func(active bool) {
		t.Helper()
		seq++
		e := storetest.Event(seq, wire.TypeEntrapment, wire.EntrapmentData{Active: active, Floor: 2})
		e.Time = time.Now()
		hb := storetest.Event(seq+1000, wire.TypeHeartbeat, wire.HeartbeatData{})
		hb.Time = time.Now()
		if _, err := st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "les-pins", Cabin: "a", Epoch: "e1", Events: []wire.Event{e, hb}}}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateStatus(ctx, "les-pins", "a", true, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	// Two receivers, one notification.
	stop1, stop2 := runAlerter(t, st, am), runAlerter(t, st, am)
	start := time.Now()
	entrapment(true)
	eventually(t, "the entrapment notified", func() bool { return hook.Count("firing", "ElevatorEntrapment") >= 1 })
	t.Logf("entrapment notified %s after it was stored", time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // more rounds of both: still one notification
	if n := hook.Count("firing", "ElevatorEntrapment"); n != 1 {
		t.Fatalf("%d notifications of one entrapment from two receivers, want 1", n)
	}
	// Cleared at the cabin: one resolution.
	entrapment(false)
	eventually(t, "the entrapment resolved", func() bool { return hook.Count("resolved", "ElevatorEntrapment") >= 1 })

	// Again, with the receivers restarted while it is active: the new
	// ones send the same alert, which stays one notification; then the
	// entrapment clears while no receiver runs, and the alert resolves
	// itself when nobody sends it any more.
	entrapment(true)
	eventually(t, "the second entrapment notified", func() bool { return hook.Count("firing", "ElevatorEntrapment") >= 2 })
	stop1()
	stop2()
	restarted := runAlerter(t, st, am)
	time.Sleep(2 * time.Second)
	if n := hook.Count("firing", "ElevatorEntrapment"); n != 2 {
		t.Fatalf("%d firing notifications after a restart during the entrapment, want 2 in all", n)
	}
	restarted()
	entrapment(false)
	eventually(t, "resolved without a receiver", func() bool { return hook.Count("resolved", "ElevatorEntrapment") >= 2 })
}

// TestShippedAlertmanagerConfig: packaging/alertmanager/alertmanager.yml is
// what amtool accepts, and routes each severity the alerts carry.
func TestShippedAlertmanagerConfig(t *testing.T) {
	amtool, err := exec.LookPath("amtool")
	if err != nil {
		if os.Getenv("PALIER_REQUIRE_ALERTMANAGER") != "" {
			t.Fatal("amtool not found but PALIER_REQUIRE_ALERTMANAGER is set (Debian package prometheus-alertmanager)")
		}
		t.Skip("amtool not installed (Debian package prometheus-alertmanager)")
	}
	cfg := filepath.Join("..", "..", "packaging", "alertmanager", "alertmanager.yml")
	if out, err := exec.Command(amtool, "check-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	for sev, want := range map[string]string{"critical": "on-call", "warning": "operators-chat"} {
		out, err := exec.Command(amtool, "config", "routes", "test", "--config.file="+cfg,
			"alertname=ElevatorEntrapment", "site=s", "cabin=c", "severity="+sev).Output() // stdout: the receiver
		if err != nil || string(out) != want+"\n" {
			t.Errorf("a %s alert routes to %q (%v), want %s", sev, out, err, want)
		}
	}
}
