package sensors

// Scenario files (testdata/scenarios/NAME.samples) are sample streams written
// for people. One line per step; '#' starts a comment.
//
//	config KEY=VALUE...        machine config overrides (first lines only)
//	T FIELD=VALUE...           a sample at T seconds; fields not given keep
//	                           their previous value, so a line shows what changed
//	T once FIELD=VALUE...      a sample whose given fields apply to it alone
//	                           (line noise, glitches)
//	T1..T2/STEP FIELD=VALUE... the same sample every STEP seconds from T1 to T2
//	T tick                     timers only, no sample (polling is silent)
//	T lost                     a poll failed (LinkLost)
//
// Fields: floor, pos (mm), dir (none|up|down), moving (0|1), zone (0|1, door
// zone), doors (comma-separated door states, door A first), mode, fault (code,
// 0 = none), alarm (0|1), calls (0|1, calls pending), load (percent).
// pos, zone, fault, alarm, calls and load set the matching Has flag.
//
// The runner does what the agent's loop does: Step each sample, then Tick at
// the sample's time. NAME.golden holds the events as JSON lines with "t" in
// seconds since the start, and a last "end" line with the dropped count, the
// final state and the counters.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// scenarioStart is the fixed origin of scenario times.
func scenarioStart() time.Time { return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) }

// testFaults is the fault table the scenarios use, as a profile would give it.
func testFaults(code int) (string, string) {
	switch code {
	case 7:
		return "door reopen limit reached", wire.SeveritySelfClearing
	case 12:
		return "door lock circuit open", wire.SeverityError
	case 33:
		return "overspeed governor tripped", wire.SeverityError
	case 41:
		return "fire recall input active", wire.SeveritySpecialMode
	}
	return "", ""
}

type scenarioOp struct {
	line   int
	at     time.Time
	kind   string // "sample", "tick", "lost"
	sample Sample
	noTick bool // Step without the Tick that follows it in the agent's loop
}

type scenario struct {
	cfg MachineConfig
	ops []scenarioOp
}

func secs(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e7 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return time.Duration(math.Round(f*1000)) * time.Millisecond, nil
}

func parseScenario(b []byte) (scenario, error) {
	sc := scenario{cfg: DefaultMachineConfig()}
	sc.cfg.FaultInfo = testFaults
	var cur Sample
	cur.Direction, cur.Mode = wire.DirectionNone, wire.ModeNormal
	sn := bufio.NewScanner(bytes.NewReader(b))
	for ln := 1; sn.Scan(); ln++ {
		line := sn.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "config" {
			if err := applyConfig(&sc.cfg, f[1:]); err != nil {
				return sc, fmt.Errorf("line %d: %w", ln, err)
			}
			continue
		}
		from, to, step := f[0], f[0], "1"
		if a, b, ok := strings.Cut(f[0], ".."); ok {
			from = a
			to, step, ok = strings.Cut(b, "/")
			if !ok {
				return sc, fmt.Errorf("line %d: range %q wants T1..T2/STEP", ln, f[0])
			}
		}
		t1, err1 := secs(from)
		t2, err2 := secs(to)
		dt, err3 := secs(step)
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				return sc, fmt.Errorf("line %d: %w", ln, err)
			}
		}
		if dt <= 0 || t2 < t1 {
			return sc, fmt.Errorf("line %d: empty range %q", ln, f[0])
		}
		rest := f[1:]
		kind := "sample"
		if len(rest) == 1 && (rest[0] == "tick" || rest[0] == "lost") {
			kind, rest = rest[0], nil
		}
		s := cur
		once := len(rest) > 0 && rest[0] == "once"
		if once {
			rest = rest[1:]
		}
		for _, kv := range rest {
			if err := setField(&s, kv); err != nil {
				return sc, fmt.Errorf("line %d: %w", ln, err)
			}
		}
		if !once {
			cur = s
		}
		for t := t1; t <= t2; t += dt {
			op := scenarioOp{line: ln, at: scenarioStart().Add(t), kind: kind, sample: s}
			op.sample.Time = op.at
			op.sample.Doors = append([]string(nil), s.Doors...)
			sc.ops = append(sc.ops, op)
		}
	}
	return sc, sn.Err()
}

func applyConfig(c *MachineConfig, kvs []string) error {
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("config %q wants KEY=VALUE", kv)
		}
		durations := map[string]*time.Duration{
			"heartbeat": &c.HeartbeatInterval, "entrapment": &c.EntrapmentAfter,
			"door_open_too_long": &c.DoorOpenTooLong, "trip_too_long": &c.TripTooLong,
			"no_movement": &c.NoMovementWithCalls, "standby": &c.StandbyAfter,
			"debounce": &c.Debounce, "max_gap": &c.MaxSampleGap,
		}
		if d, ok := durations[k]; ok {
			x, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("config %s: %w", k, err)
			}
			*d = x
			continue
		}
		var err error
		switch k {
		case "floors":
			a, b, _ := strings.Cut(v, "..")
			c.MinFloor, err = strconv.Atoi(a)
			if err == nil {
				c.MaxFloor, err = strconv.Atoi(b)
			}
		case "max_floors_per_s":
			c.MaxFloorsPerSecond, err = strconv.ParseFloat(v, 64)
		case "levels":
			c.FloorLevelsMM = nil
			for _, p := range strings.Split(v, ",") {
				n, e := strconv.ParseInt(p, 10, 64)
				if e != nil {
					err = e
				}
				c.FloorLevelsMM = append(c.FloorLevelsMM, n)
			}
		case "levelling_tolerance":
			c.LevellingToleranceMM, err = strconv.ParseInt(v, 10, 64)
		default:
			return fmt.Errorf("unknown config key %q", k)
		}
		if err != nil {
			return fmt.Errorf("config %s: %w", k, err)
		}
	}
	return c.Validate()
}

func setField(s *Sample, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("field %q wants NAME=VALUE", kv)
	}
	num := func() (int, error) { return strconv.Atoi(v) }
	flag := func() (bool, error) {
		switch v {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return false, fmt.Errorf("field %s=%q wants 0 or 1", k, v)
	}
	var err error
	switch k {
	case "floor":
		s.Floor, err = num()
	case "pos":
		s.PositionMM, err = strconv.ParseInt(v, 10, 64)
		s.Has |= HasPosition
	case "dir":
		s.Direction = v
	case "moving":
		s.Moving, err = flag()
	case "zone":
		s.DoorZone, err = flag()
		s.Has |= HasDoorZone
	case "doors":
		s.Doors = strings.Split(v, ",")
	case "mode":
		s.Mode = v
	case "fault":
		s.FaultCode, err = num()
		s.Has |= HasFault
	case "alarm":
		s.Alarm, err = flag()
		s.Has |= HasAlarm
	case "calls":
		s.CallsPending, err = flag()
		s.Has |= HasCalls
	case "load":
		s.LoadPercent, err = num()
		s.Has |= HasLoad
	default:
		return fmt.Errorf("unknown field %q", k)
	}
	if err != nil {
		return fmt.Errorf("field %s: %w", k, err)
	}
	return nil
}

// run plays a scenario through a fresh Machine the way the agent would.
func (sc scenario) run(initial wire.Counters) (*Machine, []wire.Event) {
	m := NewMachine(sc.cfg, initial)
	var out []wire.Event
	for _, op := range sc.ops {
		switch op.kind {
		case "sample":
			out = m.AppendStep(out, op.sample)
			out = m.AppendTick(out, op.at)
		case "tick":
			out = m.AppendTick(out, op.at)
		case "lost":
			m.LinkLost(op.at)
			out = m.AppendTick(out, op.at)
		}
	}
	return m, out
}

// goldenLines renders events and the end state as the golden file's lines.
func goldenLines(m *Machine, events []wire.Event) []byte {
	var b bytes.Buffer
	for _, e := range events {
		fmt.Fprintf(&b, `{"t":%s,"type":%q,"data":%s}`+"\n",
			strconv.FormatFloat(e.Time.Sub(scenarioStart()).Seconds(), 'f', -1, 64), e.Type, e.Data)
	}
	st := m.State()
	end := struct {
		Dropped   uint64        `json:"dropped"`
		Floor     int           `json:"floor"`
		Mode      string        `json:"mode"`
		Doors     []string      `json:"doors"`
		Link      string        `json:"link"`
		InService bool          `json:"in_service"`
		Entrapped bool          `json:"entrapment"`
		Faults    []int         `json:"faults"`
		Counters  wire.Counters `json:"counters"`
	}{m.Dropped(), st.Floor, st.Mode, st.Doors, st.Link, st.InService, st.Entrapment, st.Faults, st.Counters}
	j, _ := json.Marshal(map[string]any{"end": end})
	b.Write(j)
	b.WriteByte('\n')
	return b.Bytes()
}

func readScenario(path string) (scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return scenario{}, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := parseScenario(b)
	if err != nil {
		return sc, fmt.Errorf("parse %s: %w", path, err)
	}
	return sc, nil
}
