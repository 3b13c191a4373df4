package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// configRecorder is a ConfigPublisher that keeps what it was given.
type configRecorder struct {
	mu  sync.Mutex
	got []wire.DesiredConfig
}

func (r *configRecorder) PublishDesiredConfig(_ context.Context, d wire.DesiredConfig) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, d)
	return nil
}

func (r *configRecorder) all() []wire.DesiredConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.DesiredConfig(nil), r.got...)
}

func TestDesiredConfigAPI(t *testing.T) {
	pub := &configRecorder{}
	f := newFixture(t, map[string]Role{"reader-token-0123456789": RoleRead, "admin-token-0123456789ab": RoleAdmin}, func(o *Options) { o.Configs = pub })
	put := func(path, ifMatch, body string) (int, []byte, http.Header) {
		t.Helper()
		return f.doWith(t, "PUT", path, "application/json", []byte(body), func(r *http.Request) {
			if ifMatch != "" {
				r.Header.Set("If-Match", ifMatch)
			}
		})
	}
	const site = "/api/v1/sites/les-pins/config"
	const cabin = "/api/v1/cabins/les-pins/a/config"

	f.token = "reader-token-0123456789"
	if code, _, _ := put(site, "", `{"version":0,"config":{}}`); code != http.StatusForbidden {
		t.Fatalf("PUT with a read token: %d, want 403", code)
	}
	var sc SiteConfig
	if code := f.get(t, site, &sc); code != http.StatusOK || sc.Desired != nil || len(sc.History) != 0 {
		t.Fatalf("GET before any: %d %+v", code, sc)
	}

	f.token = "admin-token-0123456789ab"
	if code, b, _ := put(site, "", `{"config":{"log_level":"debug"}}`); code != http.StatusPreconditionRequired || !strings.Contains(string(b), "If-Match") {
		t.Fatalf("PUT without a version: %d %s, want 428", code, b)
	}
	code, b, h := put(site, "", `{"version":0,"by":"Chiara","config":{"events":{"trip_too_long":"2m"},"log_level":"debug"}}`)
	if code != http.StatusOK || h.Get("ETag") != `"1"` {
		t.Fatalf("first PUT: %d %s %v", code, b, h)
	}
	if got := pub.all(); len(got) != 1 || got[0].Version != 1 || got[0].Cabin != "" || got[0].By != "Chiara" || *got[0].Config.Events.TripTooLong != "2m" {
		t.Fatalf("published %+v", got)
	}
	if code, b, h := put(site, `"0"`, `{"config":{}}`); code != http.StatusPreconditionFailed || h.Get("ETag") != `"1"` || !strings.Contains(string(b), "version 1") {
		t.Fatalf("PUT over a version already replaced: %d %s %v, want 412", code, b, h)
	}
	if code, b, _ := put(site, `"1"`, `{"version":2,"config":{}}`); code != http.StatusBadRequest || !strings.Contains(string(b), "disagree") {
		t.Fatalf("If-Match and version disagree: %d %s", code, b)
	}
	// Bad values: every problem named, by the agent's own rules, nothing stored.
	code, b, _ = put(site, `"1"`, `{"config":{"events":{"trip_too_long":"-1m"},"controller":{"poll_interval":"5ms"},"log_level":"loud","uplink":{"rate_limit":-2}}}`)
	var apiErr APIError
	json.Unmarshal(b, &apiErr)
	if code != http.StatusBadRequest || apiErr.Param != "config.events" {
		t.Fatalf("bad values: %d %s", code, b)
	}
	for _, want := range []string{"trip_too_long is -1m0s", "controller.poll_interval: 5ms out of range", `log_level: "loud"`, "uplink.rate_limit:"} {
		if !strings.Contains(apiErr.Error, want) {
			t.Errorf("the refusal does not name %q: %s", want, apiErr.Error)
		}
	}
	if code, b, _ := put(site, `"1"`, `{"config":{"events":{"trip_too_lng":"1m"}}}`); code != http.StatusBadRequest || !strings.Contains(string(b), "trip_too_lng") {
		t.Fatalf("an unknown field: %d %s", code, b)
	}
	if code, b, _ := put(site, `"1"`, `{"config":{"controller":{"profile":"name: x\nsignals:\n  floor: {adress: 1}\n"}}}`); code != http.StatusBadRequest || !strings.Contains(string(b), "config.controller.profile") {
		t.Fatalf("a bad profile: %d %s", code, b)
	}
	huge := `{"version":1,"config":{"controller":{"profile":"` + strings.Repeat("x", wire.MaxDesiredConfigBytes) + `"}}}`
	if code, _, _ := put(site, "", huge); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the bound: %d, want 413", code)
	}
	if code, b, _ := put(site, `"1"`, `{"by":"Chiara","config":{"events":{"trip_too_long":"3m"}}}`); code != http.StatusOK {
		t.Fatalf("second PUT: %d %s", code, b)
	}
	if code, b, _ := put(cabin, "", `{"version":0,"config":{"events":{"door_open_too_long":"3m"}}}`); code != http.StatusOK {
		t.Fatalf("cabin PUT: %d %s", code, b)
	}
	if got := pub.all(); len(got) != 3 || got[2].Cabin != "a" || got[2].Version != 1 {
		t.Fatalf("published %+v", got)
	}

	// What the cabin reports: not yet in sync, then in sync, then a refusal.
	var cc CabinConfig
	if code := f.get(t, cabin, &cc); code != http.StatusOK || versionOf(cc.DesiredSite) != 2 || versionOf(cc.DesiredCabin) != 1 || cc.Applied != nil || cc.InSync || len(cc.History) != 1 {
		t.Fatalf("GET cabin: %d %+v", code, cc)
	}
	now := time.Now().UTC()
	batch := func(seq uint64, typ string, data any) {
		ev, _ := wire.NewEvent(now.Add(time.Duration(seq)*time.Millisecond), typ, data)
		ev.Seq = seq
		if _, err := f.st.InsertBatches(context.Background(), []wire.Batch{{V: 1, Site: "les-pins", Cabin: "a", Epoch: "e1", Events: []wire.Event{ev}}}, now); err != nil {
			t.Fatal(err)
		}
	}
	batch(1, wire.TypeConfigApplied, wire.ConfigAppliedData{SiteVersion: 2, CabinVersion: 1})
	if f.get(t, cabin, &cc); !cc.InSync || cc.Applied == nil || cc.Applied.SiteVersion != 2 {
		t.Fatalf("after config_applied: %+v", cc)
	}
	if f.get(t, site, &sc); len(sc.Cabins) != 1 || !sc.Cabins[0].InSync || versionOf(sc.Desired) != 2 || len(sc.History) != 2 || sc.History[0].Version != 2 {
		t.Fatalf("site view: %+v", sc)
	}
	batch(2, wire.TypeConfigRefused, wire.ConfigRefusedData{Scope: "cabin", Version: 2, Problems: []string{"events: machine config: debounce 20s is not shorter than max_sample_gap 10s"}})
	if f.get(t, cabin, &cc); cc.Refused == nil || cc.Refused.Version != 2 || !cc.InSync {
		t.Fatalf("after config_refused: %+v", cc)
	}
	if _, err := f.st.DesiredConfig(context.Background(), "les-pins", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.DesiredConfig(context.Background(), "les-pins", "b"); err == nil || !strings.Contains(err.Error(), store.ErrNotFound.Error()) {
		t.Fatalf("another cabin: %v", err)
	}
}
