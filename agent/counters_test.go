package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/wire"
)

// TestCountersNeverGoBackAfterACrash: counters.json is saved on the health
// tick, so after a SIGKILL it lags the events already stored (the tester
// saw trips go 38 then 37, 8 times in 36 kills). The counters stored with
// the outbox's last event make up the difference, field by field.
func TestCountersNeverGoBackAfterACrash(t *testing.T) {
	cfg := contactsConfig(t)
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	// What the agent had saved at its last health tick...
	saved, _ := json.Marshal(wire.Counters{Trips: 5, DoorCycles: 4})
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "counters.json"), saved, 0o600); err != nil {
		t.Fatal(err)
	}
	// ...and the events it stored after it, before it was killed.
	ob, err := outbox.Open(context.Background(), filepath.Join(cfg.StateDir, "outbox.db"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for trips := uint64(6); trips <= 9; trips++ {
		st, _ := json.Marshal(wire.Counters{Trips: trips, DoorCycles: 2})
		if _, err := ob.AppendWithState(context.Background(), outbox.ClassEvents, []byte(`{}`), st); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.ob.Close()
	if c := a.machine.Counters(); c.Trips != 9 || c.DoorCycles != 4 {
		t.Fatalf("counters after the crash %+v, want 9 trips (from the outbox) and 4 door cycles (from counters.json)", c)
	}
}
