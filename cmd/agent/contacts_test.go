package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/palier-lifts/palier/agent"
)

// This machine has no GPIO chip: the relay board of the shipped contact map
// is wired to periph's gpiotest pins, which the test switches the way the
// controller's relays would while an installer runs the lift.

// relayBoard is the shipped relay-board wiring: every contact open.
type relayBoard struct {
	mu   sync.Mutex
	pins map[string]*gpiotest.Pin
}

func newRelayBoard() *relayBoard {
	b := &relayBoard{pins: map[string]*gpiotest.Pin{}}
	for _, n := range []string{"GPIO17", "GPIO27", "GPIO22", "GPIO23", "GPIO24", "GPIO25", "GPIO16", "GPIO5", "GPIO6", "GPIO13", "GPIO19"} {
		b.pins[n] = &gpiotest.Pin{N: n, L: gpio.High} // active low: high is an open contact
	}
	return b
}

func (b *relayBoard) open(name string) (gpio.PinIn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.pins[name]
	if !ok {
		return nil, fmt.Errorf("gpio line %s not found", name)
	}
	return wiredPin{p}, nil
}

// set closes (true) or opens the contacts on the named lines.
func (b *relayBoard) set(t *testing.T, closed bool, lines ...string) {
	t.Helper()
	for _, l := range lines {
		lvl := gpio.High
		if closed {
			lvl = gpio.Low
		}
		p := b.pins[l]
		p.Lock()
		p.L = lvl
		p.Unlock()
	}
}

// floorCode sets the binary floor lines (GPIO5 is the low bit).
func (b *relayBoard) floorCode(t *testing.T, floor int) {
	t.Helper()
	for i, l := range []string{"GPIO5", "GPIO6", "GPIO13", "GPIO19"} {
		b.set(t, floor&(1<<i) != 0, l)
	}
}

// contactsConfig writes an agent config on the relay-board contact map.
func contactsConfig(t *testing.T, broker string) (string, agent.Config) {
	t.Helper()
	dir := t.TempDir()
	contacts, _ := filepath.Abs("../../sensors/profiles/contacts/relay-board.yaml")
	path := filepath.Join(dir, "agent.yaml")
	y := fmt.Sprintf(`site: doc-site
cabin: a
state_dir: %s
controller:
  source: contacts
  contacts: %s
  poll_interval: 10ms
uplink:
  broker: %s
events:
  debounce: 40ms
`, filepath.Join(dir, "state"), contacts, broker)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// countingClock advances 10 ms each time it is read: the session's time
// follows its own progress, so the debounces hold however slow the machine
// is, and the test can wait for a number of readings rather than a duration.
type countingClock struct {
	calls atomic.Int64
	start time.Time
}

func (c *countingClock) now() time.Time {
	n := c.calls.Add(1)
	return c.start.Add(time.Duration(n) * 10 * time.Millisecond)
}

// settle waits until the clock has been read n more times (several polls).
func (c *countingClock) settle(t *testing.T, n int64) {
	t.Helper()
	target := c.calls.Load() + n
	deadline := time.Now().Add(30 * time.Second) // a failure guard only
	for c.calls.Load() < target {
		if time.Now().After(deadline) {
			t.Fatal("the commissioning session stopped reading the contacts")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestCommissionOverContacts(t *testing.T) {
	board := newRelayBoard()
	board.set(t, true, "GPIO27") // in the door zone at floor 0
	path, cfg := contactsConfig(t, "tcp://127.0.0.1:1")
	reportPath := filepath.Join(t.TempDir(), "report.json")
	clock := &countingClock{start: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runCommission(ctx, []string{"--config", path, "--report", reportPath}, pw, &errOut, commissionDeps{openGPIO: board.open, now: clock.now})
		pw.Close()
	}()
	var mu sync.Mutex
	var out strings.Builder
	last := ""
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			last = sc.Text()
			mu.Unlock()
		}
	}()
	// waitSeen waits for the live view's tally to show what the step did.
	waitSeen := func(step, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // a failure guard only
		for {
			mu.Lock()
			l := last
			mu.Unlock()
			if strings.Contains(l, want) {
				return
			}
			if time.Now().After(deadline) {
				cancel()
				<-readDone
				t.Fatalf("%s: the live view never showed %q; output:\n%s\n%s", step, want, out.String(), errOut.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	const hold = 40 // clock readings: about 20 polls, 400 ms of session time

	// trip drives the relays through a trip: out of the door zone, the
	// direction relay, the floor code one floor at a time, the stop in the
	// door zone.
	trip := func(from, to int) {
		relay, step := "GPIO22", 1 // up
		if to < from {
			relay, step = "GPIO23", -1 // down
		}
		board.set(t, false, "GPIO27")
		board.set(t, true, relay)
		clock.settle(t, hold)
		for f := from + step; f != to+step; f += step {
			board.floorCode(t, f)
			clock.settle(t, hold)
		}
		board.set(t, true, "GPIO27")
		board.set(t, false, relay)
	}

	clock.settle(t, hold)
	trip(0, 2)
	waitSeen("trip up", "trips 1 [up]")
	// A door cycle at floor 2.
	board.set(t, true, "GPIO17")
	clock.settle(t, hold)
	board.set(t, false, "GPIO17")
	waitSeen("door cycle", "door cycles 1")
	// The alarm button, the fault relay, the inspection key.
	board.set(t, true, "GPIO25")
	waitSeen("alarm", "alarm true")
	board.set(t, false, "GPIO25")
	board.set(t, true, "GPIO24")
	waitSeen("fault relay", "faults [1]")
	board.set(t, false, "GPIO24")
	board.set(t, true, "GPIO16")
	waitSeen("inspection key", "modes [inspection normal]")
	board.set(t, false, "GPIO16")
	clock.settle(t, hold)
	trip(2, 0)
	waitSeen("trip down", "trips 2 [down up]")

	cancel()
	code := <-done
	<-readDone
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	for _, want := range []string{"door_open (GPIO17)=CLOSED", "alarm (GPIO25)=CLOSED", "floor line 1 (GPIO6)=CLOSED"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the live view never showed %q:\n%s", want, out.String())
		}
	}

	rep := readReport(t, reportPath)
	if rep.Source != "contacts relay-board" || rep.Trips != 2 || rep.DoorCycles != 1 || !rep.Alarm || rep.PollErrors != 0 {
		t.Errorf("report: source %q, trips %d, door cycles %d, alarm %t, poll errors %d", rep.Source, rep.Trips, rep.DoorCycles, rep.Alarm, rep.PollErrors)
	}
	if !slices.Equal(rep.Directions, []string{"down", "up"}) || !slices.Equal(rep.Faults, []int{1}) ||
		!slices.Equal(rep.Modes, []string{"inspection", "normal"}) || !slices.Contains(rep.Floors, 0) || !slices.Contains(rep.Floors, 2) {
		t.Errorf("report: directions %v, faults %v, modes %v, floors %v", rep.Directions, rep.Faults, rep.Modes, rep.Floors)
	}
	// Everything was shown but a reopen, which a door contact cannot tell,
	// and the two high floor bits and fire service, which the run never used.
	for _, seen := range []string{"a trip up", "a trip down", "a door cycle (doors opening and closing at a floor)",
		"the alarm button pressed", "a controller fault", "inspection mode"} {
		if slices.Contains(rep.NotSeen, seen) {
			t.Errorf("not_seen lists %q, which the installer did", seen)
		}
	}
	if !slices.Contains(rep.Unchanged, "floor line 2 (GPIO13)") || slices.Contains(rep.Unchanged, "door_open (GPIO17)") {
		t.Errorf("unchanged signals %v", rep.Unchanged)
	}
	if q := queuedReport(t, cfg.StateDir); q.Trips != 2 || q.Source != rep.Source {
		t.Errorf("queued report %+v differs from the saved one", q)
	}
}

func TestCommissionOverContactsNamesAMissingLine(t *testing.T) {
	board := newRelayBoard()
	delete(board.pins, "GPIO24") // the fault relay is wired elsewhere
	path, cfg := contactsConfig(t, "tcp://127.0.0.1:1")
	var out, errOut bytes.Buffer
	code := runCommission(context.Background(), []string{"--config", path, "--duration", "1s"}, &out, &errOut, commissionDeps{openGPIO: board.open})
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut.String())
	}
	for _, want := range []string{"GPIO24", "gpioinfo", "gpio group"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("message lacks %q:\n%s", want, errOut.String())
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "outbox.db")); err == nil {
		t.Error("an outbox was created for a session that never started")
	}
}

func TestDoctorOverContacts(t *testing.T) {
	board := newRelayBoard()
	board.set(t, true, "GPIO25") // somebody leans on the alarm button
	path, _ := contactsConfig(t, "tcp://127.0.0.1:1")
	var out, errOut bytes.Buffer
	doctor(context.Background(), []string{"--config", path, "--timeout", "2s"}, &out, &errOut, doctorDeps{openGPIO: board.open})
	text := out.String()
	if !strings.Contains(text, "contact map relay-board, 11 lines read:") || !strings.Contains(text, "alarm (GPIO25)=CLOSED") || !strings.Contains(text, "door_open (GPIO17)=open") {
		t.Errorf("the contacts check does not list the lines:\n%s", text)
	}

	delete(board.pins, "GPIO17")
	out.Reset()
	if code := doctor(context.Background(), []string{"--config", path, "--timeout", "2s"}, &out, &errOut, doctorDeps{openGPIO: board.open}); code == 0 {
		t.Fatalf("doctor passed with a door contact missing:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "GPIO17") || !strings.Contains(out.String(), "gpioinfo") {
		t.Errorf("the failure does not name the line and the fix:\n%s", out.String())
	}
}
