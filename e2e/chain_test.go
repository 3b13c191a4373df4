package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/wire"
)

const site, cabin = "e2e-site", "cabin-a"

func logger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", rel)
}

// TestScenarioArrivesOnceInOrder plays the short scenario through the whole
// chain and checks that every event the agent accepted is stored exactly
// once, with sequences 1..N and nothing else, and that the receiver's end-to-
// end acknowledgements emptied the agent's outbox.
func TestScenarioArrivesOnceInOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	log := logger(t)

	// Receiver: embedded NATS (MQTT + JetStream), SQLite, HTTP.
	rcfg := receiver.DefaultConfig()
	rcfg.StateDir = filepath.Join(dir, "receiver")
	rcfg.NATS.Embedded.Port = -1 // free ports; the agent dials rcv.MQTTAddr()
	rcfg.NATS.Embedded.MQTTPort = -1
	rcfg.HTTP.Listen = "127.0.0.1:0"
	rcfg.Acks.ResendInterval = time.Second
	rcv, err := receiver.New(ctx, rcfg, log.With("part", "receiver"))
	if err != nil {
		t.Fatal(err)
	}
	rcvDone := make(chan error, 1)
	go func() { rcvDone <- rcv.Run(ctx) }()

	// Simulator: a Modbus RTU slave on a pty, playing the short scenario.
	sim, pty, simDone := startSimulator(t, ctx, "short", 5)

	// Agent: reads the pty, outbox in bbolt, MQTT 3.1.1 to the embedded NATS.
	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	acfg.Events.HeartbeatInterval = time.Hour // keep the event count to the scenario's
	ag, err := agent.New(ctx, acfg, log.With("part", "agent"))
	if err != nil {
		t.Fatal(err)
	}
	agDone := make(chan error, 1)
	go func() { agDone <- ag.Run(ctx) }()

	select {
	case <-sim.Done():
	case <-time.After(3 * time.Minute):
		t.Fatal("the scenario did not finish")
	}
	// The scenario ends idle; give the state machine time to confirm the
	// last changes, then wait until everything is confirmed end to end.
	deadline := time.Now().Add(2 * time.Minute)
	var appended uint64
	for {
		st := ag.Stats()
		appended = st.Appended
		if appended > 0 && st.Outbox.Depth() == 0 && time.Since(lastChange(ag)) > 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %d appended, depth %d, uplink %+v", appended, st.Outbox.Depth(), st.Uplink)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Every accepted event is in the store exactly once: sequences 1..N of
	// the agent's epoch, no other, no repeat.
	events := allEvents(t, rcv.Store())
	if uint64(len(events)) != appended {
		t.Fatalf("store holds %d events, the agent accepted %d", len(events), appended)
	}
	seen := map[uint64]bool{}
	types := map[string]int{}
	for _, e := range events {
		if e.Epoch != ag.Epoch() {
			t.Fatalf("event of epoch %q, the agent's is %q", e.Epoch, ag.Epoch())
		}
		if seen[e.Seq] {
			t.Fatalf("sequence %d stored twice", e.Seq)
		}
		seen[e.Seq] = true
		types[e.Type]++
	}
	for seq := uint64(1); seq <= appended; seq++ {
		if !seen[seq] {
			t.Fatalf("sequence %d missing from the store", seq)
		}
	}
	// What the agent sent matches the published schema, every type of it.
	sent := make([]wire.Event, len(events))
	for i, e := range events {
		sent[i] = wire.Event{Seq: e.Seq, Time: e.Time, Type: e.Type, Data: e.Data}
	}
	checkSchema(t, sent)
	// In order: sequences follow the events' times (safety events may be
	// sent first, but they keep their place in the sequence).
	bySeq := make([]time.Time, appended+1)
	for _, e := range events {
		bySeq[e.Seq] = e.Time
	}
	for seq := uint64(2); seq <= appended; seq++ {
		if bySeq[seq].Before(bySeq[seq-1]) {
			t.Errorf("sequence %d at %s is before sequence %d at %s", seq, bySeq[seq], seq-1, bySeq[seq-1])
		}
	}
	// The scenario: three trips (0->3, 3->5, 5->0), a fault raised and cleared.
	if types[wire.TypeTrip] != 3 || types[wire.TypeArrival] != 3 {
		t.Errorf("trips %d and arrivals %d, want 3 and 3 (all types: %v)", types[wire.TypeTrip], types[wire.TypeArrival], types)
	}
	if types[wire.TypeFault] != 2 {
		t.Errorf("fault events %d, want 2 (raised, cleared); all types: %v", types[wire.TypeFault], types)
	}
	if types[wire.TypeDoorCycle] < 3 {
		t.Errorf("door cycles %d, want at least 3; all types: %v", types[wire.TypeDoorCycle], types)
	}

	// The backend's view: the cabin is online, at floor 0, with its events counted.
	resp, err := http.Get("http://" + rcv.HTTPAddr() + "/api/v1/cabins")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cabins []map[string]any
	if err := json.Unmarshal(body, &cabins); err != nil {
		t.Fatalf("GET /api/v1/cabins: %v: %s", err, body)
	}
	if len(cabins) != 1 || cabins[0]["site"] != site || cabins[0]["cabin"] != cabin {
		t.Fatalf("cabins: %s", body)
	}
	c := cabins[0]
	for _, k := range []string{"online", "floor", "last_seen", "events"} {
		if _, ok := c[k]; !ok {
			t.Errorf("cabin has no %q: %s", k, body)
		}
	}
	if c["events"] != float64(appended) || c["online"] != true || c["floor"] != float64(0) {
		t.Errorf("cabin = %s, want online at floor 0 with %d events", body, appended)
	}

	// Notices travel down: a picture uploaded to the receiver and a notice
	// referencing it reach the agent, which downloads and checks the
	// picture and serves the notice to the screen.
	noticeReachesTheScreen(t, rcv.HTTPAddr(), acfg)

	cancel()
	for name, ch := range map[string]chan error{"agent": agDone, "receiver": rcvDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", name)
		}
	}
	<-simDone
}

// startSimulator plays simulator/scenarios/{name}.yaml at speed on a new
// pty until ctx is done; done gets what Serve returned.
func startSimulator(t *testing.T, ctx context.Context, name string, speed float64) (sim *simulator.Simulator, pty *simulator.PTY, done <-chan error) {
	t.Helper()
	sc, err := simulator.LoadScenario(repoFile(t, "simulator/scenarios/"+name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return serveScenario(t, ctx, sc, speed)
}

// playScenario is startSimulator with the scenario given as YAML.
func playScenario(t *testing.T, ctx context.Context, name, yaml string, speed float64) (sim *simulator.Simulator, pty *simulator.PTY, done <-chan error) {
	t.Helper()
	sc, err := simulator.ParseScenario(name, strings.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return serveScenario(t, ctx, sc, speed)
}

func serveScenario(t *testing.T, ctx context.Context, sc *simulator.Scenario, speed float64) (sim *simulator.Simulator, pty *simulator.PTY, done <-chan error) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{Speed: speed, Seed: 7, Baud: 19200, Scenario: sc}, logger(t).With("part", "sim"))
	if err != nil {
		t.Fatal(err)
	}
	pty, err = simulator.OpenPTY("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pty.Close() })
	ch := make(chan error, 1)
	go func() { ch <- sim.Serve(ctx, pty) }()
	return sim, pty, ch
}

// agentConfig is an agent reading the simulator on port, with its outbox
// and sockets in dir, sending to broker with a quick reconnect.
func agentConfig(t *testing.T, dir, port, broker string) agent.Config {
	acfg := agent.DefaultConfig()
	acfg.Site, acfg.Cabin = site, cabin
	acfg.StateDir = filepath.Join(dir, "agent")
	acfg.Controller.Profile = repoFile(t, "sensors/profiles/palier-sim.yaml")
	acfg.Controller.Port = port
	acfg.Controller.PollInterval = 25 * time.Millisecond
	acfg.Uplink.Broker = broker
	acfg.Uplink.BackoffMin = 50 * time.Millisecond
	acfg.Uplink.BackoffMax = 500 * time.Millisecond
	acfg.Screen.Socket = filepath.Join(dir, "agent.sock")
	acfg.Metrics.Listen = ""
	return acfg
}

func noticeReachesTheScreen(t *testing.T, api string, acfg agent.Config) {
	t.Helper()
	picture := pngPicture(t)
	resp, err := http.Post("http://"+api+"/api/v1/media", "image/png", bytes.NewReader(picture))
	if err != nil {
		t.Fatal(err)
	}
	var media wire.Media
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &media) != nil {
		t.Fatalf("upload media: %s %s", resp.Status, body)
	}
	notice, _ := json.Marshal(wire.Notice{ID: "water-cut", Category: wire.CategoryWater, Priority: wire.PriorityUrgent,
		Title: wire.Text{FR: "Coupure d'eau", IT: "Interruzione dell'acqua"}, Body: wire.Text{FR: "Mardi de 9h à 12h."},
		ValidFrom: time.Now().Add(-time.Hour), Media: []wire.Media{media}})
	resp, err = http.Post("http://"+api+"/api/v1/sites/"+site+"/notices", "application/json", bytes.NewReader(notice))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("post notice: %s %s", resp.Status, body)
	}

	// The screen's view: the live feed serves the notice set.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := livefeed.Dial(ctx, acfg.Screen.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.ReadTimeout = 60 * time.Second
	for {
		line, err := conn.NextLine()
		if err != nil {
			t.Fatalf("the notice never reached the screen feed: %v", err)
		}
		m, err := livefeed.DecodeMessage(line)
		if err == nil && m.Type == livefeed.TypeNotices && len(m.Notices.Notices) == 1 && m.Notices.Notices[0].ID == "water-cut" {
			break
		}
	}
	// The picture, downloaded and verified, is where the display reads it.
	path := filepath.Join(acfg.StateDir, "media", media.SHA256)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := os.ReadFile(path)
		if err == nil && bytes.Equal(got, picture) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("media %s not downloaded: %v", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lastChange is when the agent last accepted an event; the test waits for
// the chain to be quiet before comparing.
func lastChange(ag *agent.Agent) time.Time { return ag.LastAppend() }

// runAgent runs a real agent with acfg until the test ends; it stops before
// what the test started earlier (the receiver, the simulator). tune, if
// given, adjusts the agent before it runs.
func runAgent(t *testing.T, ctx context.Context, acfg agent.Config, log *slog.Logger, tune func(*agent.Agent)) *agent.Agent {
	t.Helper()
	ag, err := agent.New(ctx, acfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(ag)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := ag.Run(ctx)
		if ctx.Err() == nil {
			// Stopped on its own: every wait of the test would time out
			// without saying why.
			t.Errorf("the agent stopped before the test ended: %v", err)
		}
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("agent: %v", err)
		}
	})
	return ag
}

func allEvents(t *testing.T, st store.Store) []store.StoredEvent {
	t.Helper()
	var all []store.StoredEvent
	q := store.EventQuery{Site: site, Cabin: cabin, Limit: store.MaxLimit}
	for {
		page, err := st.Events(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Events...)
		if page.Next == "" {
			return all
		}
		q.Cursor = page.Next
	}
}

// pngPicture is a real PNG: the receiver checks that an upload decodes as
// the type it claims.
func pngPicture(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{R: uint8(4 * x), G: uint8(5 * y), B: 128, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
