package receiver

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/wire"
)

// TestStateFromTheFutureRefused: newest wins for a cabin's state, so a
// snapshot dated 9999-12-31 would pin it until then (issue 20, 11).
func TestStateFromTheFutureRefused(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	w := NewStateWatcher(nil, st, DefaultConfig().Stream, NewMetrics(prometheus.NewRegistry()), testLogger(t), func() time.Time { return now })
	state := func(at time.Time, floor int) []byte {
		b, _ := json.Marshal(wire.State{V: wire.Version, Site: "s1", Cabin: "c1", Time: at, Floor: floor, Direction: "none",
			Doors: []string{"closed"}, Mode: "normal", Faults: []int{}, Link: "ok", Uplink: true})
		return b
	}
	err = w.applyState(ctx, "palier.v1.s1.c1.state", state(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), 9), now)
	if err == nil || !strings.Contains(err.Error(), "clock is wrong") {
		t.Fatalf("state dated 9999: %v, want it refused naming the clock", err)
	}
	if err := w.applyState(ctx, "palier.v1.s1.c1.state", state(now.Add(-time.Second), 3), now); err != nil {
		t.Fatal(err)
	}
	if err := w.applyState(ctx, "palier.v1.s1.c1.state", state(now, 4), now); err != nil {
		t.Fatal(err)
	}
	c, err := st.Cabin(ctx, "s1", "c1")
	if err != nil || c.Floor == nil || *c.Floor != 4 {
		t.Fatalf("cabin %+v, %v: want floor 4 from the true snapshots", c, err)
	}
}
