package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/wire"
)

// TestRemoteConfigThroughTheChain sets a site's configuration through the
// receiver's API; the real agent (on the simulator's pty) takes it from
// its retained config topic, says so, and the API shows the cabin in
// sync. A cabin's configuration that the receiver accepts over the
// agent's defaults but that this cabin's file makes wrong (a debounce
// longer than its max_sample_gap) is refused by the cabin, and the API
// shows the refusal and its reason.
func TestRemoteConfigThroughTheChain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	log := logger(t)
	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))
	api := "http://" + rcv.HTTPAddr()

	_, pty, _ := playScenario(t, ctx, "still", "start_floor: 2\nsteps:\n  - wait: 1h\n", 1)

	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	acfg.Events.MaxSampleGap = 5 * time.Second
	runAgent(t, ctx, acfg, log.With("part", "agent"), nil)

	put := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", api+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, b)
		}
	}
	cabinConfig := func() httpapi.CabinConfig {
		t.Helper()
		resp, err := http.Get(api + "/api/v1/cabins/" + site + "/" + cabin + "/config")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var cc httpapi.CabinConfig
		if err := json.NewDecoder(resp.Body).Decode(&cc); err != nil {
			t.Fatal(err)
		}
		return cc
	}
	waitUntil := func(what string, cond func(httpapi.CabinConfig) bool) httpapi.CabinConfig {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			cc := cabinConfig()
			if cond(cc) {
				return cc
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; last %+v", what, cc)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	put("/api/v1/sites/"+site+"/config", `{"version":0,"by":"Chiara","config":{"events":{"trip_too_long":"2m"},"log_level":"debug"}}`)
	cc := waitUntil("the cabin in sync with site v1", func(cc httpapi.CabinConfig) bool { return cc.InSync && cc.Applied != nil })
	if cc.Applied.SiteVersion != 1 || cc.Applied.CabinVersion != 0 || cc.Refused != nil {
		t.Fatalf("after the site's change: %+v", cc)
	}

	put("/api/v1/cabins/"+site+"/"+cabin+"/config", `{"version":0,"config":{"events":{"debounce":"6s"}}}`)
	cc = waitUntil("the cabin's refusal", func(cc httpapi.CabinConfig) bool { return cc.Refused != nil })
	if cc.Refused.Scope != wire.ConfigScopeCabin || cc.Refused.Version != 1 || !strings.Contains(strings.Join(cc.Refused.Problems, "\n"), "debounce 6s is not shorter than max_sample_gap 5s") {
		t.Fatalf("refusal %+v", cc.Refused)
	}
	if cc.InSync || cc.Applied.SiteVersion != 1 || cc.Applied.CabinVersion != 0 {
		t.Fatalf("after the refusal the cabin must still run site v1 alone, out of sync: %+v", cc)
	}
}
