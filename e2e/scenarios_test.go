package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/wire"
)

var update = flag.Bool("update", false, "rewrite the recorded samples and golden events in testdata/scenarios")

const pollEvery = 100 * time.Millisecond

// simBus answers requests from the simulator in simulated time: real
// request and reply frames, line faults included, with the agent's retries,
// but no port and no clock, so a replay is exact.
type simBus struct {
	sim     *simulator.Simulator
	retries int
}

func (b simBus) Do(_ context.Context, req modbus.Request) (modbus.Response, error) {
	frame, err := modbus.EncodeRequest(req)
	if err != nil {
		return modbus.Response{}, err
	}
	var last error
	for range b.retries + 1 {
		reply := b.sim.Exchange(frame)
		if reply == nil {
			last = modbus.ErrTimeout
			continue
		}
		resp, err := modbus.DecodeResponse(req, reply)
		if err == nil {
			return resp, nil
		}
		last = err
		var ex *modbus.ExceptionError
		if errors.As(err, &ex) && !ex.Temporary() {
			break
		}
	}
	return modbus.Response{}, last
}

// replay plays a simulator scenario through the real profile, reader and
// state machine (with the agent's poll rule), polling every 100 ms of
// simulated time until the scenario is done. It returns the events and the
// sample stream in the format of sensors/testdata/scenarios/README.md.
func replay(t *testing.T, sc *simulator.Scenario, faultRate float64) ([]wire.Event, []byte, uint64) {
	t.Helper()
	profile, err := sensors.LoadProfile(repoFile(t, "sensors/profiles/palier-sim.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(simulator.Config{Scenario: sc, Seed: 11, FaultRate: faultRate}, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	now := start
	reader := sensors.NewProfileReader(profile, simBus{sim: sim, retries: 2})
	reader.Now = func() time.Time { return now }
	cfg := sensors.DefaultMachineConfig()
	cfg.FaultInfo = func(code int) (string, string) {
		f, _ := profile.Fault(code)
		return f.Text, f.Severity
	}
	poller := sensors.Poller{M: sensors.NewMachine(cfg, wire.Counters{})}
	rec := &recorder{start: start}
	var events []wire.Event
	// Play to the end of the scenario, then 30 s more for timers to settle.
	deadline := time.Duration(0)
	for i := 0; ; i++ {
		if deadline == 0 {
			select {
			case <-sim.Done():
				deadline = now.Sub(start) + 30*time.Second
			default:
			}
		} else if now.Sub(start) >= deadline {
			break
		}
		if i > 200_000 {
			t.Fatal("the scenario never finished")
		}
		sim.Step(pollEvery)
		now = now.Add(pollEvery)
		s, err := reader.Read(context.Background())
		var lostNow bool
		events, lostNow = poller.Apply(events, now, s, err)
		rec.add(now, s, err, lostNow)
	}
	return events, rec.bytes(), poller.M.Dropped()
}

// recorder writes a sample stream compactly: runs of equal samples become
// one range line, and each line gives only the fields that changed.
type recorder struct {
	start     time.Time
	b         bytes.Buffer
	prev      map[string]string
	runFrom   time.Duration
	runTo     time.Duration
	runFields string
	runKind   string
}

func sampleFields(s sensors.Sample) map[string]string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return map[string]string{
		"floor": strconv.Itoa(s.Floor), "pos": strconv.FormatInt(s.PositionMM, 10), "dir": s.Direction,
		"moving": b(s.Moving), "zone": b(s.DoorZone), "doors": strings.Join(s.Doors, ","), "mode": s.Mode,
		"fault": strconv.Itoa(s.FaultCode), "alarm": b(s.Alarm), "calls": b(s.CallsPending), "load": strconv.Itoa(s.LoadPercent),
	}
}

var fieldOrder = []string{"floor", "pos", "dir", "moving", "zone", "doors", "mode", "fault", "alarm", "calls", "load"}

func (r *recorder) add(now time.Time, s sensors.Sample, err error, lostNow bool) {
	at := now.Sub(r.start)
	kind, fields := "sample", ""
	switch {
	case lostNow:
		kind = "lost"
	case err != nil:
		kind = "tick"
	default:
		cur := sampleFields(s)
		var changed []string
		for _, k := range fieldOrder {
			if r.prev == nil || r.prev[k] != cur[k] {
				changed = append(changed, k+"="+cur[k])
			}
		}
		r.prev = cur
		fields = strings.Join(changed, " ")
	}
	if kind == r.runKind && fields == "" && r.runTo+pollEvery == at && kind != "lost" {
		r.runTo = at
		return
	}
	r.flush()
	r.runFrom, r.runTo, r.runKind, r.runFields = at, at, kind, fields
}

func (r *recorder) flush() {
	if r.runKind == "" {
		return
	}
	sec := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	when := sec(r.runFrom)
	if r.runTo > r.runFrom {
		when += ".." + sec(r.runTo) + "/" + sec(pollEvery)
	}
	what := r.runFields
	if r.runKind != "sample" {
		what = r.runKind
	}
	fmt.Fprintf(&r.b, "%s %s\n", when, what)
}

func (r *recorder) bytes() []byte {
	r.flush()
	r.runKind = ""
	return r.b.Bytes()
}

func eventLines(events []wire.Event, start time.Time) []byte {
	var b bytes.Buffer
	for _, e := range events {
		fmt.Fprintf(&b, `{"t":%s,"type":%q,"data":%s}`+"\n", strconv.FormatFloat(e.Time.Sub(start).Seconds(), 'f', -1, 64), e.Type, e.Data)
	}
	return b.Bytes()
}

// TestSimulatorScenarios plays every shipped simulator scenario through the
// profile and the state machine and compares the sample stream and the
// events with testdata/scenarios (-update rewrites them). Then it plays the
// scenario again with 20% of the replies spoiled on the line and checks the
// noise changes no event (only, at most, when a change was confirmed).
func TestSimulatorScenarios(t *testing.T) {
	paths, err := filepath.Glob(repoFile(t, "simulator/scenarios/*.yaml"))
	if err != nil || len(paths) < 7 {
		t.Fatalf("scenarios: %v %v", paths, err)
	}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		t.Run(name, func(t *testing.T) {
			sc, err := simulator.LoadScenario(p)
			if err != nil {
				t.Fatal(err)
			}
			events, samples, dropped := replay(t, sc, 0)
			if dropped != 0 {
				t.Errorf("%d samples of a clean line dropped as implausible", dropped)
			}
			header := fmt.Sprintf("# Recorded from simulator/scenarios/%s.yaml through sensors/profiles/palier-sim.yaml,\n# one poll every 100 ms of simulated time (format: sensors/testdata/scenarios/README.md).\n", name)
			samples = append([]byte(header), samples...)
			got := eventLines(events, start)
			dir := filepath.Join("testdata", "scenarios")
			if *update {
				os.MkdirAll(dir, 0o755)
				os.WriteFile(filepath.Join(dir, name+".samples"), samples, 0o644)
				os.WriteFile(filepath.Join(dir, name+".golden"), got, 0o644)
			}
			wantSamples, err := os.ReadFile(filepath.Join(dir, name+".samples"))
			if err != nil {
				t.Fatalf("%v (run with -update to record)", err)
			}
			if !bytes.Equal(samples, wantSamples) {
				t.Errorf("the simulator no longer produces the recorded samples of %s (run with -update and review the diff)", name)
			}
			want, err := os.ReadFile(filepath.Join(dir, name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("events differ from %s.golden:\ngot:\n%s\nwant:\n%s", name, got, want)
			}
			for _, e := range events {
				e.Seq = 1
				if err := e.Validate(); err != nil {
					t.Errorf("event %s does not validate: %v", e.Type, err)
				}
			}
			checkSchema(t, events)

			noisy, _, _ := replay(t, sc, 0.2)
			if a, b := essence(events), essence(noisy); !slices.Equal(a, b) {
				t.Errorf("line noise changed the events:\nclean: %v\nnoisy: %v", a, b)
			}
		})
	}
}

// essence is an event without its timing: the type and the data without
// durations, which line noise may shift by a poll.
func essence(events []wire.Event) []string {
	var out []string
	for _, e := range events {
		var data map[string]any
		json.Unmarshal(e.Data, &data)
		for k := range data {
			if strings.HasSuffix(k, "_ms") || strings.HasSuffix(k, "_s") || k == "counters" {
				delete(data, k)
			}
		}
		b, _ := json.Marshal(data)
		out = append(out, e.Type+string(b))
	}
	return out
}
