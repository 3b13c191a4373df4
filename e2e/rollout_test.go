package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// rolloutCabin is a cabin's outbox and uplink answering desired versions
// as an agent and its update helper would: a healthy update reports
// update_applied and a health event with the new version; a broken one
// reports update_rolled_back and keeps its version.
type rolloutCabin struct {
	name   string
	broken bool
	ob     *outbox.Outbox

	mu      sync.Mutex
	version string
	told    []wire.Update
}

func (c *rolloutCabin) report(t *testing.T, typ string, data any) {
	t.Helper()
	appendEvent(t, c.ob, time.Now(), typ, data)
}

// TestRolloutWavesThroughTheReceiver: through the real receiver (embedded
// NATS with MQTT, SQLite) and real uplinks, a wave of two cabins is told,
// both apply and the wave is done with their new version shown; a second
// wave over the site, whose first two cabins roll back, stops at its
// failure limit and never tells the others.
func TestRolloutWavesThroughTheReceiver(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))
	ctrl := rcv.Rollout()
	if ctrl == nil {
		t.Fatal("the receiver has no rollout controller")
	}
	const rsite = "rollout-site"
	var cabins []*rolloutCabin
	for i := range 6 {
		c := &rolloutCabin{name: fmt.Sprintf("c%d", i+1), broken: i < 2, version: "v1.0.0"}
		ob, err := outbox.Open(ctx, filepath.Join(dir, c.name+".db"), outbox.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ob.Close() })
		c.ob = ob
		cfg := uplink.DefaultConfig()
		cfg.Broker = "tcp://" + rcv.MQTTAddr()
		cfg.Protocol = uplink.Protocol311
		up, err := uplink.New(cfg, rsite, c.name, ob, logger(t).With("cabin", c.name))
		if err != nil {
			t.Fatal(err)
		}
		updates := make(chan wire.Update, 16)
		up.OnUpdate = func(u wire.Update) { updates <- u } // must not block: buffered, a handful per test
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case u := <-updates:
					c.mu.Lock()
					c.told = append(c.told, u)
					from := c.version
					if u.Version == from {
						c.mu.Unlock()
						continue
					}
					if !c.broken {
						c.version = u.Version
					}
					c.mu.Unlock()
					if c.broken {
						c.report(t, wire.TypeUpdateRolledBack, wire.UpdateData{From: from, To: u.Version, Wave: u.Wave, Reason: "no health verdict within 300s"})
						continue
					}
					c.report(t, wire.TypeUpdateApplied, wire.UpdateData{From: from, To: u.Version, Wave: u.Wave})
					c.report(t, wire.TypeHealth, wire.HealthData{AgentVersion: u.Version})
				}
			}
		}()
		upDone := make(chan error, 1)
		uctx, ucancel := context.WithCancel(ctx)
		go func() { upDone <- up.Run(uctx) }()
		t.Cleanup(func() { ucancel(); <-upDone })
		c.report(t, wire.TypeHealth, wire.HealthData{AgentVersion: "v1.0.0"})
		cabins = append(cabins, c)
	}
	st := rcv.Store()
	waitFor(t, 30*time.Second, "six cabins known with their version", func() bool {
		all, err := st.Cabins(ctx)
		n := 0
		for _, cb := range all {
			if cb.Site == rsite && cb.AgentVersion == "v1.0.0" {
				n++
			}
		}
		return err == nil && n == 6
	})

	api := "http://" + rcv.HTTPAddr() + "/api/v1/rollout/waves"
	post := func(url, body string) (int, rollout.Progress, map[string]string) {
		t.Helper()
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		var p rollout.Progress
		var e map[string]string
		if resp.StatusCode < 300 {
			if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
				t.Fatalf("%s: %v\n%s", url, err, buf.String())
			}
		} else {
			json.Unmarshal(buf.Bytes(), &e)
		}
		return resp.StatusCode, p, e
	}
	get := func(id int64) rollout.Progress {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("%s/%d", api, id))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p rollout.Progress
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Refused, naming the field.
	for body, param := range map[string]string{
		`{"version":"1.1.0","channel":"canary","cabins":["rollout-site/c3"],"max_failures":0,"by":"ops"}`:         "version",
		`{"version":"v1.1.0","channel":"beta","cabins":["rollout-site/c3"],"max_failures":0,"by":"ops"}`:          "channel",
		`{"version":"v1.1.0","channel":"canary","cabins":["rollout-site/nope"],"max_failures":0,"by":"ops"}`:      "cabins[0]",
		`{"version":"v1.1.0","channel":"canary","site":"rollout-site","percent":101,"max_failures":0,"by":"ops"}`: "percent",
		`{"version":"v1.1.0","channel":"canary","cabins":["rollout-site/c3"],"max_failures":0}`:                   "by",
	} {
		code, _, e := post(api, body)
		if code != http.StatusBadRequest || e["param"] != param {
			t.Errorf("%s: %d %v, want 400 naming %s", body, code, e, param)
		}
	}

	// Wave 1: two named cabins, both healthy.
	code, w1, _ := post(api, `{"version":"v1.1.0","channel":"canary","cabins":["rollout-site/c3","rollout-site/c4"],"max_failures":0,"step":1,"by":"ops"}`)
	if code != http.StatusCreated || w1.Counts[store.TargetPending] != 2 || w1.State != store.WaveRunning {
		t.Fatalf("wave 1: %d %+v", code, w1)
	}
	// A second wave may not take a cabin the first has not finished with.
	if code, _, e := post(api, `{"version":"v1.1.1","channel":"canary","cabins":["rollout-site/c4"],"max_failures":0,"by":"ops"}`); code != http.StatusBadRequest ||
		!strings.Contains(e["error"], "running wave") {
		t.Errorf("an overlapping wave: %d %v", code, e)
	}
	waitFor(t, 60*time.Second, "wave 1 done", func() bool {
		if err := ctrl.Step(ctx); err != nil {
			t.Logf("step: %v", err)
		}
		return get(w1.ID).State == store.WaveDone
	})
	p1 := get(w1.ID)
	for _, cp := range p1.Cabins {
		if cp.Status != store.TargetApplied {
			t.Errorf("wave 1 %s/%s: %s", cp.Site, cp.Cabin, cp.Status)
		}
	}
	waitFor(t, 30*time.Second, "the new version shown", func() bool {
		p := get(w1.ID)
		return p.Cabins[0].Running == "v1.1.0" && p.Cabins[1].Running == "v1.1.0"
	})

	// Wave 2: the whole site, two at a time; c1 and c2 (told first, in
	// the order of their ids) roll back, one more than allowed.
	code, w2, _ := post(api, `{"version":"v1.2.0","channel":"stable","site":"rollout-site","percent":100,"max_failures":1,"step":2,"by":"ops"}`)
	if code != http.StatusCreated || len(w2.Cabins) != 6 {
		t.Fatalf("wave 2: %d %+v", code, w2)
	}
	waitFor(t, 60*time.Second, "wave 2 stopped", func() bool {
		if err := ctrl.Step(ctx); err != nil {
			t.Logf("step: %v", err)
		}
		return get(w2.ID).State == store.WaveStopped
	})
	for range 3 { // later steps tell nobody
		if err := ctrl.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p2 := get(w2.ID)
	if p2.Counts[store.TargetRolledBack] != 2 || p2.Counts[store.TargetPending] != 4 || !strings.Contains(p2.Reason, "2 cabins failed or rolled back, more than the 1 allowed") {
		t.Fatalf("wave 2: %+v", p2)
	}
	for _, c := range cabins {
		c.mu.Lock()
		n := 0
		for _, u := range c.told {
			if u.Version == "v1.2.0" {
				n++
				if u.Wave != uint64(w2.ID) || u.Channel != wire.ChannelStable {
					t.Errorf("%s told %+v", c.name, u)
				}
			}
		}
		if want := map[bool]int{true: 1, false: 0}[c.broken]; n != want {
			t.Errorf("%s was told v1.2.0 %d times, want %d", c.name, n, want)
		}
		c.mu.Unlock()
	}
	for _, cp := range p2.Cabins {
		want := map[string]string{"c1": "v1.0.0", "c2": "v1.0.0", "c3": "v1.1.0", "c4": "v1.1.0", "c5": "v1.0.0", "c6": "v1.0.0"}[cp.Cabin]
		if cp.Running != want {
			t.Errorf("%s runs %q, want %q", cp.Cabin, cp.Running, want)
		}
	}
	// Stopping it again is a conflict.
	if code, _, e := post(fmt.Sprintf("%s/%d/stop", api, w2.ID), `{"by":"ops"}`); code != http.StatusConflict {
		t.Errorf("stop a stopped wave: %d %v", code, e)
	}
}
