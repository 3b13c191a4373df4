package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/fleet"
	"github.com/palier-lifts/palier/receiver/httpapi"
)

// TestSiteConfigWithoutReconnectStorm plays a site of 100 cabins (set
// PALIER_FLEET_CONFIG_CABINS=1000 for the figure of docs/BENCHMARKS.md)
// against a receiver with its embedded NATS, changes the site's
// thresholds once through the API, and counts: every cabin takes the
// change (the API shows each in sync), and no cabin opens a new session
// for it — the change travels as one retained message per cabin on the
// sessions already up.
func TestSiteConfigWithoutReconnectStorm(t *testing.T) {
	cabins := 100
	if v := os.Getenv("PALIER_FLEET_CONFIG_CABINS"); v != "" {
		if _, err := fmt.Sscan(v, &cabins); err != nil {
			t.Fatalf("PALIER_FLEET_CONFIG_CABINS: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rcv := startReceiver(t, ctx)
	cfg := testConfig(t, rcv, cabins)
	cfg.CabinsPerSite = cabins // one building: one site change reaches every cabin
	// An upper bound: the test stops the generation once it has seen the
	// change spread (StopGenerating), in seconds on a quiet machine.
	cfg.Duration = 3 * time.Minute
	// As a fleet comes up for real: the agent's backoff, 100 new sessions
	// a second, real time. testConfig's ×120 and 500 a second overload
	// the one in-process broker (under -race, or with 1,000 cabins), and
	// its own retry storm would hide the one looked for here.
	d := fleet.DefaultConfig()
	cfg.BackoffMin, cfg.BackoffMax = d.BackoffMin, d.BackoffMax
	cfg.ConnectRate, cfg.TimeFactor = d.ConnectRate, 1
	f, err := fleet.Open(ctx, cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	site := f.Cabins()[0].Site()
	type result struct {
		rep *fleet.Report
		err error
	}
	ran := make(chan result, 1)
	go func() { rep, err := f.Run(ctx); ran <- result{rep, err} }()

	waitUntil := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		began := time.Now()
		for !cond() {
			if time.Since(began) > limit {
				t.Fatalf("timed out waiting for %s (%d of %d cabins connected, %d sessions)", what, f.Connected(), cabins, f.Sessions())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(began)
	}
	waitUntil("every cabin connected", time.Minute+time.Duration(cabins)*30*time.Millisecond, func() bool { return f.Connected() == cabins })
	before := f.Sessions()

	body := `{"version":0,"by":"fleet test","config":{"events":{"door_open_too_long":"3m","trip_too_long":"2m"}}}`
	req, _ := http.NewRequest("PUT", "http://"+rcv.HTTPAddr()+"/api/v1/sites/"+site+"/config", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT site config: %d %s", resp.StatusCode, b)
	}
	took := waitUntil("every cabin to take the change", time.Minute, func() bool {
		for _, c := range f.Cabins() {
			if s, _ := c.ConfigVersions(); s != 1 {
				return false
			}
		}
		return true
	})
	after := f.Sessions()
	t.Logf("%d cabins took site v1 within %s of the PUT (one retained message of %d bytes); sessions %d before, %d after",
		cabins, took.Round(time.Millisecond), len(strings.TrimSpace(string(b))), before, after)
	if after != before {
		t.Errorf("%d new sessions while the change spread: a reconnect storm", after-before)
	}

	f.StopGenerating()
	res := <-ran
	if res.err != nil {
		t.Fatal(res.err)
	}
	summary(t, res.rep)
	// The receiver heard every cabin's config_applied: the API shows the
	// whole site in sync.
	resp, err = http.Get("http://" + rcv.HTTPAddr() + "/api/v1/sites/" + site + "/config")
	if err != nil {
		t.Fatal(err)
	}
	var sc httpapi.SiteConfig
	err = json.NewDecoder(resp.Body).Decode(&sc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	inSync := 0
	for _, c := range sc.Cabins {
		if c.InSync && c.Applied != nil && c.Applied.SiteVersion == 1 {
			inSync++
		}
	}
	if len(sc.Cabins) != cabins || inSync != cabins {
		t.Fatalf("the API shows %d of %d cabins in sync with site v1 (%d listed)", inSync, cabins, len(sc.Cabins))
	}
}
