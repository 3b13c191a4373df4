package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/wire"
)

// TestAlarmWordingFollowsTheTruth presses the alarm in the simulator and
// follows what the screen is told, through the real agent, embedded NATS
// and receiver: the alarm is received by the monitoring centre once the
// receiver stored it, and help is on the way only after an operator
// acknowledged it through the API. The cabin's alarm_acknowledged event
// then shows in the alarm's life.
func TestAlarmWordingFollowsTheTruth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	log := logger(t)
	rcfg := receiverConfig(filepath.Join(dir, "receiver"))
	rcfg.HTTP.Listen = "127.0.0.1:0"
	rcv, _ := startReceiver(t, ctx, rcfg)

	_, pty, _ := playScenario(t, ctx, "alarm_held", "start_floor: 2\nsteps:\n  - wait: 1s\n  - alarm: true\n  - wait: 30m\n", 1)

	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	runAgent(t, ctx, acfg, log.With("part", "agent"), nil)

	// What the screen is told, as the display reads it.
	var mu sync.Mutex
	var progress []string
	seen := func(p string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range progress {
			if x == p {
				return true
			}
		}
		return false
	}
	feedCtx, feedCancel := context.WithCancel(ctx)
	defer feedCancel()
	var conn *livefeed.Conn
	var err error
	waitFor(t, 30*time.Second, "the screen feed's socket", func() bool {
		conn, err = livefeed.Dial(feedCtx, acfg.Screen.Socket)
		return err == nil
	})
	defer conn.Close()
	conn.ReadTimeout = 2 * time.Minute
	go func() {
		for {
			line, err := conn.NextLine()
			if err != nil {
				return
			}
			if m, err := livefeed.DecodeMessage(line); err == nil && m.Type == livefeed.TypeState && m.State.Alarm {
				mu.Lock()
				if n := len(progress); n == 0 || progress[n-1] != m.State.AlarmProgress {
					progress = append(progress, m.State.AlarmProgress)
				}
				mu.Unlock()
			}
		}
	}()

	waitFor(t, 60*time.Second, "the screen told the alarm reached the monitoring centre", func() bool { return seen(wire.AlarmDelivered) })
	// Nobody has answered yet: the screen must not say help is coming.
	time.Sleep(time.Second)
	if seen(wire.AlarmAcknowledged) {
		t.Fatalf("the screen said an operator answered before anyone did: %v", progress)
	}

	api := "http://" + rcv.HTTPAddr() + "/api/v1/cabins/" + site + "/" + cabin
	resp, err := http.Post(api+"/acknowledgements", "application/json", bytes.NewReader([]byte(`{"by":"Chiara","message":"technician in 15 min"}`)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"published":true`) {
		t.Fatalf("acknowledge: %s %s", resp.Status, body)
	}
	waitFor(t, 30*time.Second, "the screen told an operator answered", func() bool { return seen(wire.AlarmAcknowledged) })
	mu.Lock()
	t.Logf("the screen was told, in order: %v", progress)
	if progress[len(progress)-1] != wire.AlarmAcknowledged {
		t.Errorf("progress %v does not end acknowledged", progress)
	}
	mu.Unlock()

	// The cabin's word that it shows it comes back as an event.
	waitFor(t, 30*time.Second, "the alarm shown at the cabin", func() bool {
		resp, err := http.Get(api + "/alarms")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var got struct {
			Alarms []struct {
				State   string  `json:"state"`
				By      string  `json:"acknowledged_by"`
				ShownAt *string `json:"shown_at"`
			} `json:"alarms"`
		}
		if json.NewDecoder(resp.Body).Decode(&got) != nil || len(got.Alarms) != 1 {
			return false
		}
		a := got.Alarms[0]
		return a.State == "acknowledged" && a.By == "Chiara" && a.ShownAt != nil
	})
}
