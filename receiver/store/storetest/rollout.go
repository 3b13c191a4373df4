package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

// testRolloutWaves: a wave keeps its cabins in byte order, numbers
// itself, moves its cabins only forward and stops once.
func testRolloutWaves(t *testing.T, s store.Store) {
	r, ok := s.(store.Rollouts)
	if !ok {
		t.Fatalf("%T does not keep rollout waves (store.Rollouts)", s)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	w, err := r.CreateWave(ctx, store.Wave{Version: "v1.4.1", Channel: "canary", MaxFailures: 1, Step: 2, CreatedBy: "ops", Created: t0},
		[]store.CabinKey{{Site: "les-pins", Cabin: "b"}, {Site: "a-c", Cabin: "x"}, {Site: "ab", Cabin: "x"}, {Site: "les-pins", Cabin: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := r.CreateWave(ctx, store.Wave{Version: "v1.4.2", Channel: "stable", MaxFailures: 0, Step: 1, CreatedBy: "ops", Created: t0.Add(time.Hour)},
		[]store.CabinKey{{Site: "les-pins", Cabin: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.ID == 0 || w2.ID <= w.ID || w.State != store.WaveRunning {
		t.Fatalf("waves %+v and %+v", w, w2)
	}
	list, err := r.Waves(ctx, 10)
	if err != nil || len(list) != 2 || list[0].ID != w2.ID || list[1].Version != "v1.4.1" || !list[1].Created.Equal(t0) {
		t.Fatalf("Waves = %+v, %v", list, err)
	}

	a := store.CabinKey{Site: "les-pins", Cabin: "a"}
	steps := []struct {
		status string
		moved  bool
	}{
		{store.TargetApplied, false}, // a result is final
		{store.TargetTold, false},    // never back
	}
	if moved, err := r.SetTarget(ctx, w.ID, a, store.TargetTold, "", t0.Add(time.Minute)); err != nil || !moved {
		t.Fatalf("pending to told: %v %v", moved, err)
	}
	if moved, err := r.SetTarget(ctx, w.ID, a, store.TargetRolledBack, "no health verdict", t0.Add(2*time.Minute)); err != nil || !moved {
		t.Fatalf("told to rolled_back: %v %v", moved, err)
	}
	for _, st := range steps {
		if moved, err := r.SetTarget(ctx, w.ID, a, st.status, "", t0.Add(3*time.Minute)); err != nil || moved != st.moved {
			t.Fatalf("rolled_back to %s: moved %v (want %v), %v", st.status, moved, st.moved, err)
		}
	}
	if moved, err := r.SetTarget(ctx, w.ID, store.CabinKey{Site: "ab", Cabin: "x"}, store.TargetApplied, "already running it", t0.Add(time.Minute)); err != nil || !moved {
		t.Fatalf("pending to applied: %v %v", moved, err)
	}

	got, targets, err := r.Wave(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "v1.4.1" || got.Step != 2 || got.MaxFailures != 1 || got.CreatedBy != "ops" {
		t.Fatalf("wave %+v", got)
	}
	order := []string{"a-c/x", "ab/x", "les-pins/a", "les-pins/b"}
	if len(targets) != len(order) {
		t.Fatalf("%d cabins, want %d", len(targets), len(order))
	}
	for i, tg := range targets {
		if tg.Site+"/"+tg.Cabin != order[i] {
			t.Fatalf("cabin %d is %s/%s, want %s (byte order)", i, tg.Site, tg.Cabin, order[i])
		}
	}
	if tg := targets[2]; tg.Status != store.TargetRolledBack || tg.Reason != "no health verdict" || !tg.Told.Equal(t0.Add(time.Minute)) || !tg.Done.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("les-pins/a: %+v", tg)
	}
	if tg := targets[3]; tg.Status != store.TargetPending || !tg.Told.IsZero() || !tg.Done.IsZero() {
		t.Fatalf("les-pins/b: %+v", tg)
	}

	if moved, err := r.SetWaveState(ctx, w.ID, store.WaveStopped, "2 failures, more than 1", t0.Add(4*time.Minute)); err != nil || !moved {
		t.Fatalf("stop: %v %v", moved, err)
	}
	if moved, err := r.SetWaveState(ctx, w.ID, store.WaveDone, "", t0.Add(5*time.Minute)); err != nil || moved {
		t.Fatalf("a stopped wave moved again: %v %v", moved, err)
	}
	if got, _, err := r.Wave(ctx, w.ID); err != nil || got.State != store.WaveStopped || got.Reason != "2 failures, more than 1" || !got.Updated.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("stopped wave %+v, %v", got, err)
	}
	if _, _, err := r.Wave(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown wave: %v", err)
	}
}
