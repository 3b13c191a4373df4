package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// TestContactsSourceRecordsADoorCycle runs the agent on dry contacts wired
// as in the shipped relay-board map, driven through periph's gpiotest pins
// (this machine has no GPIO chip), and checks that opening and closing the
// door at a floor becomes a door_cycle event in the outbox.
// contactsConfig is an agent on the shipped relay-board contact map with
// no broker (events stay in the outbox) and no metrics listener.
func contactsConfig(t *testing.T) Config {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Site, cfg.Cabin = "s", "c"
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Controller.Source = sensors.SourceContacts
	cfg.Controller.Contacts = "../sensors/profiles/contacts/relay-board.yaml"
	cfg.Uplink.Broker = "tcp://127.0.0.1:1"
	cfg.Screen.Socket = filepath.Join(dir, "a.sock")
	cfg.Metrics.Listen = ""
	return cfg
}

func TestContactsSourceRecordsADoorCycle(t *testing.T) {
	cfg := contactsConfig(t)
	cfg.Controller.PollInterval = 10 * time.Millisecond
	cfg.Events.HeartbeatInterval = time.Hour

	pins := map[string]*gpiotest.Pin{}
	pin := func(name string) *gpiotest.Pin {
		if pins[name] == nil {
			pins[name] = &gpiotest.Pin{N: name, L: gpio.High} // active low: high is open contact
		}
		return pins[name]
	}
	// Every line of the map, all contacts open: floor code 0, doors closed.
	for _, n := range []string{"GPIO17", "GPIO27", "GPIO22", "GPIO23", "GPIO24", "GPIO25", "GPIO16", "GPIO5", "GPIO6", "GPIO13", "GPIO19"} {
		pin(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.SetGPIOOpener(func(name string) (gpio.PinIn, error) { return pin(name), nil })
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	closeContact := func(line string, closed bool) {
		lvl := gpio.High
		if closed {
			lvl = gpio.Low
		}
		if err := pins[line].Out(lvl); err != nil {
			t.Fatal(err)
		}
	}
	waitPolls := func(n uint64) {
		start := a.Stats().Polls
		for a.Stats().Polls < start+n {
			time.Sleep(5 * time.Millisecond)
		}
	}
	closeContact("GPIO27", true) // in the door zone
	waitPolls(40)
	closeContact("GPIO17", true) // door open
	waitPolls(60)
	closeContact("GPIO17", false) // door closed again
	waitPolls(60)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	ob, err := outbox.Open(context.Background(), filepath.Join(cfg.StateDir, "outbox.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer lcancel()
	entries, err := ob.Lease(lctx, 100, 1<<20)
	if err != nil {
		t.Fatalf("no events in the outbox: %v", err)
	}
	var types []string
	cycles := 0
	for _, e := range entries {
		var ev wire.Event
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
		if ev.Type == wire.TypeDoorCycle {
			cycles++
			var d wire.DoorCycleData
			json.Unmarshal(ev.Data, &d)
			if d.Floor != 0 || d.OpenMS <= 0 {
				t.Errorf("door cycle %+v, want floor 0 and a positive open time", d)
			}
		}
	}
	if cycles != 1 {
		t.Fatalf("door cycles %d, want 1; events %v", cycles, types)
	}
}
