package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/simulator/simtest"
	"github.com/palier-lifts/palier/wire"
)

// cloud is a real embedded nats-server with its MQTT listener, what the
// agent sends seen from NATS, and an MQTT client that publishes desired
// configurations retained, as the receiver does.
type cloud struct {
	srv *natsembed.Server
	pub mqtt.Client

	mu       sync.Mutex
	events   []wire.Event
	seen     map[uint64]bool
	counters wire.Counters
}

func startCloud(t *testing.T, site, cabin string) *cloud {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c := &cloud{srv: srv, seen: map[uint64]bool{}}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe(wire.EventsSubjectOf(site, cabin), func(m *nats.Msg) {
		b, err := wire.DecodeBatch(m.Data)
		if err != nil {
			t.Errorf("agent sent a batch it should not: %v", err)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ev := range b.Events {
			if !c.seen[ev.Seq] { // resends are dropped, as the receiver does
				c.seen[ev.Seq] = true
				c.events = append(c.events, ev)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("palier.v1."+site+"."+cabin+".state", func(m *nats.Msg) {
		if s, err := wire.DecodeState(m.Data); err == nil {
			c.mu.Lock()
			c.counters = s.Counters
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + srv.MQTTAddr()).SetClientID("receiver-test").SetProtocolVersion(4)
	c.pub = mqtt.NewClient(opts)
	if tok := c.pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect MQTT: %v", tok.Error())
	}
	t.Cleanup(func() { c.pub.Disconnect(0) })
	return c
}

// publish sends a desired configuration retained at QoS 1, as the receiver does.
func (c *cloud) publish(t *testing.T, d wire.DesiredConfig) {
	t.Helper()
	d.V = wire.Version
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	topic := wire.SiteConfigTopic(d.Site)
	if d.Cabin != "" {
		topic = wire.ConfigTopic(d.Site, d.Cabin)
	}
	if tok := c.pub.Publish(topic, 1, true, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// count returns how many events of typ arrived, and the last one's data.
func (c *cloud) count(typ string) (int, json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	var last json.RawMessage
	for _, ev := range c.events {
		if ev.Type == typ {
			n++
			last = ev.Data
		}
	}
	return n, last
}

func (c *cloud) doorCycles() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counters.DoorCycles
}

// waitFor polls cond until it holds or a generous bound passes: this
// machine is shared, so no tight timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func str(s string) *string { return &s }

// TestRemoteConfigAppliedLiveAndRefused: over a real nats-server's MQTT
// listener, a site's new door_open_too_long threshold and log level apply
// while the agent runs (a door held open now raises door_open_too_long;
// the door-cycle counter goes on from where it was); a cabin's
// configuration with a negative threshold is refused with the field named,
// and the site's threshold stays.
func TestRemoteConfigAppliedLiveAndRefused(t *testing.T) {
	const site, cabin = "s", "c"
	c := startCloud(t, site, cabin)
	cfg := contactsConfig(t)
	cfg.Uplink.Broker = "tcp://" + c.srv.MQTTAddr()
	cfg.Controller.PollInterval = 10 * time.Millisecond
	cfg.Events.HeartbeatInterval = time.Hour
	var level slog.LevelVar
	cfg.Level = &level

	pins := map[string]*gpiotest.Pin{}
	for _, n := range []string{"GPIO17", "GPIO27", "GPIO22", "GPIO23", "GPIO24", "GPIO25", "GPIO16", "GPIO5", "GPIO6", "GPIO13", "GPIO19"} {
		pins[n] = &gpiotest.Pin{N: n, L: gpio.High} // active low: every contact open
	}
	contact := func(line string, closed bool) {
		lvl := gpio.High
		if closed {
			lvl = gpio.Low
		}
		if err := pins[line].Out(lvl); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.SetGPIOOpener(func(name string) (gpio.PinIn, error) { return pins[name], nil })
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	polls := func(n uint64) {
		start := a.Stats().Polls
		waitFor(t, "polls", func() bool { return a.Stats().Polls >= start+n })
	}
	doorCycle := func(open time.Duration) {
		contact("GPIO17", true)
		time.Sleep(open)
		polls(5)
		contact("GPIO17", false)
		polls(30)
	}

	contact("GPIO27", true) // in the door zone, at floor 0
	polls(30)
	doorCycle(600 * time.Millisecond)
	waitFor(t, "the first door cycle counted", func() bool { return c.doorCycles() == 1 })
	if n, _ := c.count(wire.TypeDoorOpenTooLong); n != 0 {
		t.Fatalf("door_open_too_long before the change: %d", n)
	}

	c.publish(t, wire.DesiredConfig{Site: site, Version: 1, Config: wire.ConfigOverlay{
		Events:   &wire.EventsOverlay{DoorOpenTooLong: str("200ms")},
		LogLevel: str("debug"),
	}})
	waitFor(t, "config_applied", func() bool { n, _ := c.count(wire.TypeConfigApplied); return n == 1 })
	_, raw := c.count(wire.TypeConfigApplied)
	var applied wire.ConfigAppliedData
	if err := json.Unmarshal(raw, &applied); err != nil || applied.SiteVersion != 1 || applied.CabinVersion != 0 || applied.Restart ||
		strings.Join(applied.Changed, ",") != "events,log_level" {
		t.Fatalf("config_applied %s (%v)", raw, err)
	}
	if level.Level() != slog.LevelDebug {
		t.Fatalf("log level %v after the change, want debug", level.Level())
	}
	doorCycle(800 * time.Millisecond)
	waitFor(t, "door_open_too_long under the new threshold", func() bool { n, _ := c.count(wire.TypeDoorOpenTooLong); return n == 1 })
	waitFor(t, "the second door cycle counted on top of the first", func() bool { return c.doorCycles() == 2 })

	// A bad cabin overlay: refused, every problem named, the site's kept.
	c.publish(t, wire.DesiredConfig{Site: site, Cabin: cabin, Version: 1, Config: wire.ConfigOverlay{
		Events:     &wire.EventsOverlay{DoorOpenTooLong: str("-1m")},
		Controller: &wire.ControllerOverlay{PollInterval: str("5ms")},
	}})
	waitFor(t, "config_refused", func() bool { n, _ := c.count(wire.TypeConfigRefused); return n == 1 })
	_, raw = c.count(wire.TypeConfigRefused)
	var refused wire.ConfigRefusedData
	if err := json.Unmarshal(raw, &refused); err != nil || refused.Scope != wire.ConfigScopeCabin || refused.Version != 1 {
		t.Fatalf("config_refused %s (%v)", raw, err)
	}
	all := strings.Join(refused.Problems, "\n")
	for _, want := range []string{"door_open_too_long is -1m0s", "controller.poll_interval: 5ms out of range"} {
		if !strings.Contains(all, want) {
			t.Errorf("the refusal does not name %q:\n%s", want, all)
		}
	}
	doorCycle(800 * time.Millisecond)
	waitFor(t, "door_open_too_long still under the site's threshold", func() bool { n, _ := c.count(wire.TypeDoorOpenTooLong); return n == 2 })
	waitFor(t, "three door cycles", func() bool { return c.doorCycles() == 3 })

	eff, src, err := EffectiveConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if eff.Events.DoorOpenTooLong != 200*time.Millisecond {
		t.Fatalf("effective door_open_too_long %s", eff.Events.DoorOpenTooLong)
	}
	for _, s := range src {
		want := "file"
		if s.Field == "events.door_open_too_long" || s.Field == "log_level" {
			want = "site v1"
		}
		if s.From != want {
			t.Errorf("%s comes from %q, want %q", s.Field, s.From, want)
		}
	}
	if n, _ := c.count(wire.TypeConfigApplied); n != 1 {
		t.Fatalf("%d config_applied events, want 1", n)
	}

	// Started again, the agent runs site v1 from its state directory and
	// gets both retained messages again: it neither applies nor refuses
	// anything twice.
	stop()
	stopped = true
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var level2 slog.LevelVar
	cfg.Level = &level2
	a2, err := New(ctx2, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if level2.Level() != slog.LevelDebug {
		t.Fatalf("log level %v after a restart, want debug (site v1)", level2.Level())
	}
	a2.SetGPIOOpener(func(name string) (gpio.PinIn, error) { return pins[name], nil })
	done2 := make(chan error, 1)
	go func() { done2 <- a2.Run(ctx2) }()
	waitFor(t, "the second session", func() bool { return a2.Stats().Uplink.Connected })
	start := a2.Stats().Polls
	waitFor(t, "polls after the retained messages", func() bool { return a2.Stats().Polls > start+100 })
	cancel2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	if n, _ := c.count(wire.TypeConfigApplied); n != 1 {
		t.Errorf("%d config_applied events after the restart, want 1", n)
	}
	if n, _ := c.count(wire.TypeConfigRefused); n != 1 {
		t.Errorf("%d config_refused events after the restart, want 1", n)
	}
}

// TestRemoteProfileThatBreaksTheLinkIsRolledBack: a cabin's new profile
// (the simulator's, but for slave 7, which nothing answers) makes the agent
// restart onto it; the controller, the simulator on a pty, stays silent
// past the grace period, so the agent goes back to its file's profile,
// says so, restarts, reads the controller again, and does not take the
// retained profile again.
func TestRemoteProfileThatBreaksTheLinkIsRolledBack(t *testing.T) {
	const site, cabin = "s", "c"
	c := startCloud(t, site, cabin)
	_, pty := simtest.Still(t)
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Site, cfg.Cabin = site, cabin
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Controller.Profile = "../sensors/profiles/palier-sim.yaml"
	cfg.Controller.Port = pty
	cfg.Controller.Baud = 115200
	cfg.Controller.ResponseTimeout = 100 * time.Millisecond
	cfg.Controller.Retries = 0
	cfg.Controller.PollInterval = 50 * time.Millisecond
	cfg.Uplink.Broker = "tcp://" + c.srv.MQTTAddr()
	cfg.Screen.Socket = filepath.Join(dir, "a.sock")
	cfg.Metrics.Listen = ""
	cfg.ConfigGrace = 2 * time.Second

	// run starts the agent and returns a stop that gives Run's result.
	run := func() (*Agent, func() error, <-chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		return a, func() error { cancel(); return <-done }, done
	}
	exited := func(done <-chan error, what string) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatalf("the agent did not stop to %s", what)
			return nil
		}
	}

	a, _, done := run()
	waitFor(t, "the controller read", func() bool { return a.lastPollOK.Load() != 0 })
	good, err := os.ReadFile(cfg.Controller.Profile)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(good), "slave: 1", "slave: 7", 1)
	c.publish(t, wire.DesiredConfig{Site: site, Cabin: cabin, Version: 1, Config: wire.ConfigOverlay{
		Controller: &wire.ControllerOverlay{Profile: &broken},
	}})
	if err := exited(done, "load the new profile"); !errors.Is(err, ErrRestart) {
		t.Fatalf("Run = %v, want ErrRestart", err)
	}

	// As systemd would: start again. The new profile reads nothing.
	a, _, done = run()
	if err := exited(done, "roll back"); !errors.Is(err, ErrRestart) {
		t.Fatalf("Run = %v, want ErrRestart after the rollback", err)
	}
	if a.lastPollOK.Load() != 0 {
		t.Fatal("the broken profile read the controller")
	}

	// Back on the file's profile: the controller answers, the retained
	// broken profile is not taken again.
	a, stop, _ := run()
	waitFor(t, "the controller read again", func() bool { return a.lastPollOK.Load() != 0 })
	waitFor(t, "config_rolled_back", func() bool { n, _ := c.count(wire.TypeConfigRolledBack); return n == 1 })
	_, raw := c.count(wire.TypeConfigRolledBack)
	var rb wire.ConfigRolledBackData
	if err := json.Unmarshal(raw, &rb); err != nil || rb.FromCabin != 1 || rb.CabinVersion != 0 || !strings.Contains(rb.Reason, "grace 2s") {
		t.Fatalf("config_rolled_back %s (%v)", raw, err)
	}
	waitFor(t, "the session up", func() bool { return a.Stats().Uplink.Connected })
	polls := a.Stats().Polls
	waitFor(t, "more polls", func() bool { return a.Stats().Polls > polls+20 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v after the retained profile came again, want nil (not taken)", err)
	}
	if n, _ := c.count(wire.TypeConfigApplied); n != 1 {
		t.Fatalf("%d config_applied events, want 1", n)
	}
	eff, src, err := EffectiveConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if eff.Controller.Profile != cfg.Controller.Profile {
		t.Fatalf("profile %s after the rollback", eff.Controller.Profile)
	}
	if left, _ := filepath.Glob(filepath.Join(cfg.StateDir, "profiles", "*")); len(left) != 0 {
		t.Errorf("the profile rolled back from is still kept: %v", left)
	}
	for _, s := range src {
		if s.From != "file" {
			t.Errorf("%s from %s after the rollback", s.Field, s.From)
		}
	}
}
