package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/buildinfo"
	"github.com/palier-lifts/palier/internal/logtest"
	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// TestAgentFollowsAWave: the real agent, reading the simulator, gets a
// wave's desired version from the real receiver over MQTT, writes exactly
// that request for its helper, and reports the helper's rollback, which
// stops the wave. (The helper itself, apt and the restart run in
// scripts/test-install.sh --updates.)
func TestAgentFollowsAWave(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))
	_, pty, _ := startSimulator(t, ctx, "normal", 10)
	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	var logs logtest.Buffer
	runAgent(t, ctx, acfg, slog.New(slog.NewTextHandler(&logs, nil)), nil)

	// The agent says which version runs as it starts.
	own := buildinfo.Version()
	waitFor(t, 30*time.Second, "the cabin's version at the receiver", func() bool {
		cb, err := rcv.Store().Cabin(ctx, site, cabin)
		return err == nil && cb.AgentVersion == own
	})

	body := fmt.Sprintf(`{"version":"v9.9.9","channel":"canary","cabins":["%s/%s"],"max_failures":0,"by":"ops"}`, site, cabin)
	resp, err := http.Post("http://"+rcv.HTTPAddr()+"/api/v1/rollout/waves", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var w rollout.Progress
	json.NewDecoder(resp.Body).Decode(&w)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("wave: %d", resp.StatusCode)
	}
	ctrl := rcv.Rollout()
	req := filepath.Join(acfg.StateDir, agent.UpdateRequestFile)
	waitFor(t, 30*time.Second, "the agent's request to its helper", func() bool {
		if err := ctrl.Step(ctx); err != nil {
			t.Logf("step: %v", err)
		}
		_, err := os.Stat(req)
		return err == nil
	})
	b, err := os.ReadFile(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("version=9.9.9\nchannel=canary\nwave=%d\n", w.ID); string(b) != want {
		t.Fatalf("request %q, want %q", b, want)
	}

	// What the helper writes when the new version was unhealthy and it
	// reinstalled this one.
	result := "status=rolled_back\nversion=9.9.9\nprevious=0\nreason=the new agent found itself unhealthy after 2m0s: controller link lost\n"
	if err := os.Remove(req); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(acfg.StateDir, agent.UpdateResultFile), []byte(result), 0o644); err != nil {
		t.Fatal(err)
	}
	var p rollout.Progress
	waitFor(t, 30*time.Second, "the wave stopped by the rollback", func() bool {
		if err := ctrl.Step(ctx); err != nil {
			t.Logf("step: %v", err)
		}
		p, err = ctrl.Progress(ctx, w.ID)
		return err == nil && p.State == store.WaveStopped
	})
	if c := p.Cabins[0]; c.Status != store.TargetRolledBack || !strings.Contains(c.Reason, "controller link lost") || c.Running != own {
		t.Fatalf("cabin %+v", c)
	}
	page, err := rcv.Store().Events(ctx, store.EventQuery{Site: site, Cabin: cabin, Type: wire.TypeUpdateRolledBack})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("update_rolled_back events: %v, %v", page.Events, err)
	}
	var d wire.UpdateData
	if err := json.Unmarshal(page.Events[0].Data, &d); err != nil || d.From != own || d.To != "v9.9.9" || d.Wave != uint64(w.ID) {
		t.Fatalf("update_rolled_back %s: %v", page.Events[0].Data, err)
	}
	// The same version again, in a new wave: the agent does not ask for it.
	resp, err = http.Post("http://"+rcv.HTTPAddr()+"/api/v1/rollout/waves", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("second wave: %d", resp.StatusCode)
	}
	waitFor(t, 30*time.Second, "the agent's refusal to try it again", func() bool {
		if err := ctrl.Step(ctx); err != nil {
			t.Logf("step: %v", err)
		}
		return strings.Contains(logs.String(), "failed before: not tried again")
	})
	if _, err := os.Stat(req); !os.IsNotExist(err) {
		t.Fatalf("the agent asked again for the version that rolled back: %v", err)
	}
}
