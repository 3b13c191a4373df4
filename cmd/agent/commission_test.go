package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/commission"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/simulator/simtest"
	"github.com/palier-lifts/palier/wire"
)

// startScenario serves the simulator playing a scenario file on a pty.
func startScenario(t *testing.T, file string, speed float64) (*simulator.Simulator, string) {
	t.Helper()
	sc, err := simulator.LoadScenario(file)
	if err != nil {
		t.Fatal(err)
	}
	return simtest.Start(t, simulator.Config{Scenario: sc, Speed: speed, Seed: 7, Baud: 115200})
}

// commissionConfig is writeConfig with a faster poll and debounce, for a
// simulator running five times faster than life.
func commissionConfig(t *testing.T, port string, poll time.Duration) (path string, cfg agent.Config) {
	t.Helper()
	path = writeConfig(t, port, "tcp://127.0.0.1:1883")
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("  baud: 115200\n"), []byte("  baud: 115200\n  poll_interval: "+poll.String()+"\n"), 1)
	b = append(b, "events:\n  debounce: 40ms\n"...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

func readReport(t *testing.T, path string) wire.CommissionReportData {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f commission.File
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return f.Report
}

// queuedReport opens the outbox the way the agent will and leases the
// commission_report event from it.
func queuedReport(t *testing.T, stateDir string) wire.CommissionReportData {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ob, err := outbox.Open(ctx, filepath.Join(stateDir, "outbox.db"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	entries, err := ob.Lease(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var ev wire.Event
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != wire.TypeCommissionReport {
			continue
		}
		if e.Class != outbox.ClassEvents {
			t.Errorf("report queued as %s, want events", e.Class)
		}
		ev.Seq = e.Seq
		if err := ev.Validate(); err != nil {
			t.Fatalf("queued event does not validate against the schema: %v", err)
		}
		var d wire.CommissionReportData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Fatalf("no commission_report among %d outbox entries", len(entries))
	return wire.CommissionReportData{}
}

var seenRE = regexp.MustCompile(`trips (\d+) .*door cycles (\d+)`)

func TestCommissionCountsTheScenario(t *testing.T) {
	sim, pty := startScenario(t, "../../simulator/scenarios/short.yaml", 5)
	path, cfg := commissionConfig(t, pty, 25*time.Millisecond)
	reportPath := filepath.Join(t.TempDir(), "report.json")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runCommission(ctx, []string{"--config", path, "--report", reportPath}, pw, &errOut, commissionDeps{})
		pw.Close()
	}()
	// Read the live lines until the scenario is over and the view shows its
	// three trips and door cycles, then stop the session as Ctrl-C would.
	var out strings.Builder
	var trips, cycles atomic.Int64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if m := seenRE.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[1])
				c, _ := strconv.Atoi(m[2])
				trips.Store(int64(n))
				cycles.Store(int64(c))
			}
		}
	}()
	deadline := time.Now().Add(90 * time.Second) // a failure guard only
	for {
		over := false
		select {
		case <-sim.Done():
			over = true
		default:
		}
		if over && trips.Load() >= 3 && cycles.Load() >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-readDone
			t.Fatalf("the scenario's trips were not all seen; output:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	code := <-done
	<-readDone
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}

	rep := readReport(t, reportPath)
	// The short scenario: 0->3, 3->5 (one reopen), a fault 31 raised and
	// cleared, 5->0; no alarm, no inspection.
	if rep.Trips != 3 || rep.DoorCycles < 3 || rep.Reopens < 1 {
		t.Errorf("report counts trips %d, door cycles %d, reopens %d; want 3, at least 3, at least 1", rep.Trips, rep.DoorCycles, rep.Reopens)
	}
	for _, f := range []int{0, 3, 5} {
		if !slices.Contains(rep.Floors, f) {
			t.Errorf("floor %d not in the floors visited %v", f, rep.Floors)
		}
	}
	if !slices.Equal(rep.Directions, []string{"down", "up"}) || !slices.Equal(rep.Faults, []int{31}) || rep.Alarm || !slices.Equal(rep.Modes, []string{"normal"}) {
		t.Errorf("report: directions %v, faults %v, alarm %t, modes %v", rep.Directions, rep.Faults, rep.Alarm, rep.Modes)
	}
	for _, want := range []string{"the alarm button pressed", "inspection mode"} {
		if !slices.Contains(rep.NotSeen, want) {
			t.Errorf("not_seen %q lacks %q", rep.NotSeen, want)
		}
	}
	for _, seen := range []string{"a trip up", "a trip down", "a controller fault", "a door reopen (doors reopening while closing)"} {
		if slices.Contains(rep.NotSeen, seen) {
			t.Errorf("not_seen lists %q, which the scenario did", seen)
		}
	}
	if slices.Contains(rep.Unchanged, "floor") || !slices.Contains(rep.Unchanged, "alarm") {
		t.Errorf("unchanged signals %v: want alarm, not floor", rep.Unchanged)
	}
	if rep.Polls == 0 || rep.PollErrors*10 > rep.Polls || rep.Source != "profile palier-sim" {
		t.Errorf("polls %d, errors %d, source %q", rep.Polls, rep.PollErrors, rep.Source)
	}
	if !strings.Contains(out.String(), "Not seen (test these before leaving the cabin):") || strings.Contains(out.String(), "\x1b[") {
		t.Errorf("output is not the plain report:\n%s", out.String())
	}

	// The same report waits in the outbox for the agent to send it.
	q := queuedReport(t, cfg.StateDir)
	if q.Trips != rep.Trips || q.DoorCycles != rep.DoorCycles || !slices.Equal(q.NotSeen, rep.NotSeen) {
		t.Errorf("queued report %+v differs from the saved one %+v", q, rep)
	}
}

func TestCommissionStillCabinListsWhatIsLeftToTest(t *testing.T) {
	_, pty := startSim(t)
	path, cfg := commissionConfig(t, pty, 50*time.Millisecond)
	var out, errOut bytes.Buffer
	if code := runCommission(context.Background(), []string{"--config", path, "--duration", "1s"}, &out, &errOut, commissionDeps{}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	reports, _ := filepath.Glob(filepath.Join(cfg.StateDir, "commission-*.json"))
	if len(reports) != 1 {
		t.Fatalf("reports in state_dir: %v", reports)
	}
	rep := readReport(t, reports[0])
	if rep.Trips != 0 || rep.DoorCycles != 0 || !slices.Equal(rep.Floors, []int{4}) || rep.Polls < 2 {
		t.Errorf("a still cabin: trips %d, door cycles %d, floors %v, polls %d", rep.Trips, rep.DoorCycles, rep.Floors, rep.Polls)
	}
	for _, want := range []string{"a trip up", "a trip down", "a door cycle (doors opening and closing at a floor)",
		"the alarm button pressed", "a controller fault", "inspection mode", "signal floor never changed (always 4)"} {
		if !slices.Contains(rep.NotSeen, want) {
			t.Errorf("not_seen lacks %q: %q", want, rep.NotSeen)
		}
	}
	// Plain lines: one per change, the first one showing every signal.
	lines := strings.Split(out.String(), "\n")
	if !strings.Contains(lines[0], "floor=4") || !strings.Contains(lines[0], "door_a=closed") || !strings.Contains(lines[0], "mode=normal") {
		t.Errorf("first live line %q does not show the signals", lines[0])
	}
	if !strings.Contains(out.String(), "signal floor never changed") || !strings.Contains(out.String(), reports[0]) {
		t.Errorf("end of session output:\n%s", out.String())
	}
	if q := queuedReport(t, cfg.StateDir); q.Trips != 0 || len(q.NotSeen) != len(rep.NotSeen) {
		t.Errorf("queued %+v", q)
	}
}

func TestCommissionWrongPortSaysWhatToCheck(t *testing.T) {
	path, cfg := commissionConfig(t, "/dev/ttyNOPE0", 50*time.Millisecond)
	var out, errOut bytes.Buffer
	if code := run([]string{"commission", "--config", path, "--duration", "1s"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut.String())
	}
	for _, want := range []string{"cannot open /dev/ttyNOPE0", "controller.port in " + path, "/dev/serial/by-id/", "dialout"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("message lacks %q:\n%s", want, errOut.String())
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "outbox.db")); err == nil {
		t.Error("an outbox was created for a session that never started")
	}
}

func TestCommissionRefusesWhileTheAgentRuns(t *testing.T) {
	_, pty := startSim(t)
	path, cfg := commissionConfig(t, pty, 50*time.Millisecond)
	os.MkdirAll(cfg.StateDir, 0o750)
	// The running agent holds the outbox.
	ob, err := outbox.Open(context.Background(), filepath.Join(cfg.StateDir, "outbox.db"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	var out, errOut bytes.Buffer
	if code := runCommission(context.Background(), []string{"--config", path, "--duration", "1s"}, &out, &errOut, commissionDeps{}); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "systemctl stop palier-agent") {
		t.Errorf("message does not say to stop the agent:\n%s", errOut.String())
	}
	if st := ob.Stats(); st.Depth() != 0 {
		t.Errorf("outbox depth %d after a refused session", st.Depth())
	}
}
