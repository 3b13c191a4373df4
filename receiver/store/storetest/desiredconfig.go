package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// testDesiredConfigs: versions per scope (a site and each of its cabins
// apart), optimistic concurrency, the history newest first, the newest of
// every scope in byte order, and one winner among concurrent writers.
func testDesiredConfigs(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.DesiredConfig(ctx, "s", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty: %v, want ErrNotFound", err)
	}
	lvl := func(l string) wire.ConfigOverlay { return wire.ConfigOverlay{LogLevel: &l} }
	put := func(site, cabin string, version uint64, level string) error {
		return s.PutDesiredConfig(ctx, wire.DesiredConfig{V: 1, Site: site, Cabin: cabin, Version: version, At: T0, By: "Chiara", Config: lvl(level)})
	}
	if err := put("s", "", 1, "debug"); err != nil {
		t.Fatal(err)
	}
	if err := put("s", "", 1, "warn"); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("version 1 again: %v, want ErrVersionConflict", err)
	}
	if err := put("s", "", 3, "warn"); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("version 3 over 1: %v, want ErrVersionConflict", err)
	}
	if err := put("s", "a", 2, "warn"); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("a cabin's first version 2: %v, want ErrVersionConflict (its versions are its own)", err)
	}
	for _, p := range []struct {
		site, cabin string
		v           uint64
		level       string
	}{{"s", "", 2, "warn"}, {"s", "a", 1, "error"}, {"s", "a-b", 1, "info"}, {"r", "", 1, "info"}, {"s", "a", 2, "debug"}} {
		if err := put(p.site, p.cabin, p.v, p.level); err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
	}
	got, err := s.DesiredConfig(ctx, "s", "")
	if err != nil || got.Version != 2 || *got.Config.LogLevel != "warn" || got.By != "Chiara" || !got.At.Equal(T0) {
		t.Fatalf("site s: %+v, %v", got, err)
	}
	hist, err := s.DesiredConfigHistory(ctx, "s", "a", 10)
	if err != nil || len(hist) != 2 || hist[0].Version != 2 || hist[1].Version != 1 || *hist[1].Config.LogLevel != "error" {
		t.Fatalf("history of s/a: %+v, %v", hist, err)
	}
	if hist, err := s.DesiredConfigHistory(ctx, "s", "a", 1); err != nil || len(hist) != 1 || hist[0].Version != 2 {
		t.Fatalf("history of s/a, limit 1: %+v, %v", hist, err)
	}
	all, err := s.DesiredConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, d := range all {
		scopes = append(scopes, d.Site+"/"+d.Cabin+"@"+string(rune('0'+d.Version)))
	}
	want := []string{"r/@1", "s/@2", "s/a@2", "s/a-b@1"}
	if len(scopes) != len(want) {
		t.Fatalf("newest of every scope: %v, want %v", scopes, want)
	}
	for i := range want {
		if scopes[i] != want[i] {
			t.Fatalf("newest of every scope: %v, want %v", scopes, want)
		}
	}

	// Four operators change cabin a at once from version 2: one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := put("s", "a", 3, "info")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrVersionConflict):
				conflicts++
			default:
				t.Errorf("concurrent put: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != 3 {
		t.Fatalf("%d writers won version 3, %d were told of a conflict; want 1 and 3", wins, conflicts)
	}

	// What the cabin reports becomes its facts: the versions it runs (a
	// rollback's included, with its reason) and its newest refusal.
	ev := func(seq uint64, sec int, typ string, data any) wire.Event {
		e := Event(seq, typ, data)
		e.Time = T0.Add(time.Duration(sec) * time.Second)
		return e
	}
	mustInsert(t, s, wire.Batch{V: 1, Site: "s", Cabin: "a", Epoch: "e1", Events: []wire.Event{
		ev(1, 10, wire.TypeConfigApplied, wire.ConfigAppliedData{SiteVersion: 2, CabinVersion: 2}),
		ev(2, 20, wire.TypeConfigRefused, wire.ConfigRefusedData{Scope: wire.ConfigScopeCabin, Version: 3, Problems: []string{"log_level: \"x\""}}),
		ev(3, 30, wire.TypeConfigApplied, wire.ConfigAppliedData{SiteVersion: 2, CabinVersion: 4, Restart: true}),
		ev(4, 40, wire.TypeConfigRolledBack, wire.ConfigRolledBackData{FromSite: 2, FromCabin: 4, SiteVersion: 2, CabinVersion: 2, Reason: "no answer"}),
	}})
	facts, err := s.Facts(ctx, "s", "a")
	if err != nil {
		t.Fatal(err)
	}
	got2 := map[string]string{}
	for _, f := range facts {
		got2[f.Name] = f.Value
	}
	if v := got2[store.FactConfigApplied]; v != `{"site_version":2,"cabin_version":2,"rolled_back":"no answer"}` {
		t.Errorf("config_applied fact %s", v)
	}
	if v := got2[store.FactConfigRefused]; v != `{"scope":"cabin","version":3,"problems":["log_level: \"x\""]}` {
		t.Errorf("config_refused fact %s", v)
	}
}
