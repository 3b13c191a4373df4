package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

// TestNoticeShownThroughTheChain is proof of play end to end: a notice
// posted through the API reaches the screen feed of a real agent reading
// the simulator; a display client (a livefeed Subscriber with the
// display's own recording code, ui.PlayRecorder, observing ui.Model's
// views as cmd/display does) shows it in French and Italian and sends
// "played" lines; the agent appends notice_shown events, the uplink
// carries them through embedded NATS to the receiver, and the API answers
// where and how long the notice was shown: exactly what the display
// recorded, per cabin and language.
func TestNoticeShownThroughTheChain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	log := logger(t)
	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))

	_, pty, _ := playScenario(t, ctx, "idle", "start_floor: 0\nsteps:\n  - wait: 30m\n", 1)

	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	runAgent(t, ctx, acfg, log.With("part", "agent"), func(ag *agent.Agent) { ag.SetPlayPeriod(500 * time.Millisecond) })

	api := "http://" + rcv.HTTPAddr() + "/api/v1/sites/" + site
	notice, _ := json.Marshal(wire.Notice{ID: "ag-2026", Category: wire.CategoryAssembly, Priority: wire.PriorityNormal,
		Title: wire.Text{FR: "Assemblée générale", IT: "Assemblea generale"}, Body: wire.Text{FR: "Le 12 à 18 h, salle du rez-de-chaussée."},
		ValidFrom: time.Now().Add(-time.Hour)})
	resp, err := http.Post(api+"/notices", "application/json", bytes.NewReader(notice))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("post notice: %s %s", resp.Status, body)
	}
	since := time.Now().Add(-time.Minute)

	// The display: its model, its recorder, its subscriber.
	cfg := ui.DefaultConfig()
	cfg.Languages = []string{wire.LangFR, wire.LangIT}
	cfg.LanguagePeriod = time.Second
	cfg.Layout = "1280x800"
	model, err := ui.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := ui.NewPlayRecorder(cfg)
	rec.Period = 2 * time.Second
	sub := &livefeed.Subscriber{Path: acfg.Screen.Socket, Logger: log.With("part", "display"), MinBackoff: 50 * time.Millisecond}
	subCtx, subCancel := context.WithCancel(ctx)
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Run(subCtx) }()
	defer func() { subCancel(); <-subDone }()

	var mu sync.Mutex
	sent := map[string][2]int64{} // lang: ms, times
	send := func(p wire.NoticeShownData) {
		mu.Lock()
		s := sent[p.Lang]
		sent[p.Lang] = [2]int64{s[0] + p.ShownMS, s[1] + int64(p.Times)}
		mu.Unlock()
		sub.Played(p)
	}
	input := func() ui.Input {
		st, ns := sub.Last()
		return ui.Input{State: st, Notices: ns, AgentUp: true, Now: time.Now()}
	}
	shown := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return sent[wire.LangFR][0] >= 3000 && sent[wire.LangIT][0] >= 3000
	}
	// Observed four times a second (the display observes once a second;
	// quicker here so the test is short), until both languages were on
	// screen three seconds.
	tick := time.NewTicker(250 * time.Millisecond)
	deadline := time.Now().Add(90 * time.Second)
	for !shown() {
		if time.Now().After(deadline) {
			t.Fatalf("the notice was not shown in both languages: %v", sent)
		}
		<-tick.C
		in := input()
		for _, p := range rec.Observe(in, model.View(in)) {
			send(p)
		}
	}
	tick.Stop()
	for _, p := range rec.Flush() {
		send(p)
	}
	if sub.LostPlays() != 0 {
		t.Fatalf("%d play records lost on the display's side", sub.LostPlays())
	}

	// The receiver answers what the display recorded, to the millisecond.
	var got httpapi.PlaysJSON
	defer func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("the display sent %v (lang: ms, times); the API answered %+v", sent, got)
			mu.Unlock()
		}
	}()
	waitFor(t, 60*time.Second, "the plays stored and answered", func() bool {
		resp, err := http.Get(api + "/notices/ag-2026/plays?since=" + since.UTC().Format(time.RFC3339))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		got = httpapi.PlaysJSON{}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&got) != nil || len(got.Cabins) != 1 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		return math.Round(got.Shown*1000) == float64(sent[wire.LangFR][0]+sent[wire.LangIT][0])
	})
	mu.Lock()
	defer mu.Unlock()
	c := got.Cabins[0]
	if c.Cabin != cabin || len(c.Languages) != 2 {
		t.Fatalf("plays %+v", got)
	}
	for _, l := range c.Languages {
		want := sent[l.Lang]
		if math.Round(l.Shown*1000) != float64(want[0]) || l.Times != want[1] {
			t.Errorf("%s: the API says %.3f s, %d times; the display recorded %d ms, %d times", l.Lang, l.Shown, l.Times, want[0], want[1])
		}
	}
	t.Logf("shown in %s: %.1f s in all; fr %.1f s %d times, it %.1f s %d times", c.Cabin, got.Shown,
		c.Languages[0].Shown, c.Languages[0].Times, c.Languages[1].Shown, c.Languages[1].Times)
}
