package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/wire"
)

// published records what the controller tells cabins (the MQTT side is
// tested end to end in e2e TestRolloutWavesThroughTheReceiver).
type published struct {
	mu  sync.Mutex
	got []wire.Update
}

func (p *published) PublishUpdate(_ context.Context, u wire.Update) error {
	if err := u.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, u)
	return nil
}

func (p *published) cabins() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, u := range p.got {
		out = append(out, u.Site+"/"+u.Cabin)
	}
	return out
}

// fleet is a SQLite store knowing ten cabins in each of two sites.
func fleet(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "receiver.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, site := range []string{"les-pins", "villa-marina"} {
		for i := range 10 {
			if err := st.UpdateStatus(ctx, site, fmt.Sprintf("c%02d", i), true, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return st
}

func TestPercentOfASiteIsSpreadAndStable(t *testing.T) {
	ctx := context.Background()
	st := fleet(t)
	c := rollout.New(st, new(published), slog.New(slog.DiscardHandler))
	pick := func(version string) []string {
		w, err := c.Create(ctx, rollout.Request{Version: version, Channel: wire.ChannelCanary, Site: "les-pins", Percent: 25, MaxFailures: 1}, "ops")
		if err != nil {
			t.Fatal(err)
		}
		_, ts, err := st.Wave(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tg := range ts {
			if tg.Site != "les-pins" {
				t.Fatalf("%s/%s is not in the site asked", tg.Site, tg.Cabin)
			}
			out = append(out, tg.Cabin)
		}
		if _, err := c.Stop(ctx, w.ID, "ops"); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := pick("v1.4.1")
	if len(a) != 3 {
		t.Fatalf("25 %% of 10 cabins gave %d, want 3 (rounded up)", len(a))
	}
	if b := pick("v1.4.1"); !slices.Equal(a, b) {
		t.Fatalf("the same wave chose %v, then %v", a, b)
	}
	differs := false
	for _, v := range []string{"v1.4.2", "v1.4.3", "v1.4.4"} {
		differs = differs || !slices.Equal(a, pick(v))
	}
	if !differs {
		t.Fatal("every version picks the same cabins: the first to try each release would always be the same")
	}

	var fe *rollout.FieldError
	for _, r := range []rollout.Request{
		{Version: "v1.4.1", Channel: "stable", Site: "nowhere", Percent: 10},
		{Version: "v1.4.1", Channel: "stable", Percent: 0},
		{Version: "v1.4.1", Channel: "stable", Cabins: []string{"les-pins/c01"}, Percent: 10},
		{Version: "v1.4.1", Channel: "stable", Cabins: []string{"les-pins"}},
		{Version: "v1.4.1", Channel: "stable", Cabins: []string{"les-pins/c01"}, MaxFailures: -1},
		{Version: "v1.4.1", Channel: "stable", Cabins: []string{"les-pins/c01"}, Step: -2},
	} {
		if _, err := c.Create(ctx, r, "ops"); !errors.As(err, &fe) {
			t.Errorf("%+v: %v, want a field error", r, err)
		}
	}
}

// A wave tells a step of cabins at a time, counts a cabin silent past the
// result timeout as failed, applies at once a cabin already running the
// version, and stops past its failure limit.
func TestStepsTimeoutsAndTheFailureLimit(t *testing.T) {
	ctx := context.Background()
	st := fleet(t)
	pub := new(published)
	c := rollout.New(st, pub, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	c.Clock = func() time.Time { return now }
	cabins := []string{"villa-marina/c00", "villa-marina/c01", "villa-marina/c02", "villa-marina/c03", "villa-marina/c04"}
	// c00 already runs the version: a health event says so.
	ev, _ := wire.NewEvent(now.Add(-time.Hour), wire.TypeHealth, wire.HealthData{AgentVersion: "v2.0.0"})
	ev.Seq = 1
	if _, err := st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "villa-marina", Cabin: "c00", Epoch: "e1", Events: []wire.Event{ev}}}, now); err != nil {
		t.Fatal(err)
	}
	w, err := c.Create(ctx, rollout.Request{Version: "v2.0.0", Channel: wire.ChannelStable, Cabins: cabins, MaxFailures: 1, Step: 2}, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Step(ctx); err != nil {
		t.Fatal(err)
	}
	// c00 applied at once (it reports no update), so c01 and c02 are told.
	if got := pub.cabins(); !slices.Equal(got, []string{"villa-marina/c00", "villa-marina/c01", "villa-marina/c02"}) {
		t.Fatalf("told %v", got)
	}
	if err := c.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.cabins()); n != 3 {
		t.Fatalf("%d told while two are unanswered, want 3", n)
	}
	// Past the timeout both count as failed: two, more than one allowed.
	now = now.Add(rollout.DefaultResultTimeout + time.Minute)
	if err := c.Step(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := c.Progress(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != store.WaveStopped || p.Counts[store.TargetFailed] != 2 || p.Counts[store.TargetApplied] != 1 || p.Counts[store.TargetPending] != 2 {
		t.Fatalf("progress %+v", p)
	}
	if p.Cabins[0].Running != "v2.0.0" || p.Cabins[0].Reason != "already running it" || p.Cabins[1].Reason != "no update event within 1h0m0s" {
		t.Fatalf("cabins %+v", p.Cabins[:2])
	}
	if err := c.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.cabins()); n != 3 {
		t.Fatalf("a stopped wave told %d cabins, want still 3", n)
	}
}
