package sensors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/wire"
)

func TestShippedProfilesLoad(t *testing.T) {
	paths, err := filepath.Glob("profiles/*.yaml")
	if err != nil || len(paths) < 2 {
		t.Fatalf("shipped profiles: %v %v, want at least two", paths, err)
	}
	for _, path := range paths {
		p, err := LoadProfile(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if len(p.Requests()) == 0 || p.Signals[SigFloor] == nil {
			t.Errorf("%s: %d requests, floor %v", path, len(p.Requests()), p.Signals[SigFloor])
		}
	}
}

// The simulator's map is one FC03 request of 11 registers from slave 1.
func TestSimProfileIsOneRequest(t *testing.T) {
	p, err := LoadProfile("profiles/palier-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []modbus.Request{{Slave: 1, Function: modbus.ReadHoldingRegisters, Address: 0, Count: 11}}
	if got := p.Requests(); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("requests %+v, want %+v", got, want)
	}
	if f, ok := p.Fault(31); !ok || f.Severity != wire.SeveritySelfClearing {
		t.Errorf("fault 31: %+v %v", f, ok)
	}
	if f, ok := p.Fault(999); ok || f.Severity != wire.SeverityError {
		t.Errorf("unknown fault: %+v %v, want error severity, not found", f, ok)
	}
}

func TestGenericProfileRequests(t *testing.T) {
	p, err := LoadProfile("profiles/generic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []modbus.Request{
		{Slave: 1, Function: modbus.ReadDiscreteInputs, Address: 10, Count: 1},
		{Slave: 1, Function: modbus.ReadHoldingRegisters, Address: 100, Count: 8},
		{Slave: 1, Function: modbus.ReadInputRegisters, Address: 200, Count: 2},
	}
	checkRequests(t, p.Requests(), want)
}

func TestGrouping(t *testing.T) {
	var b strings.Builder
	b.WriteString("signals:\n  floor: {address: 0}\n  position_mm: {address: 124, type: u32}\n  fault_code: {address: 126}\n")
	b.WriteString("  load_percent: {address: 300, slave: 2}\n  mode: {address: 301, slave: 2, enum: {0: normal}}\n  alarm: {address: 500, slave: 2}\n")
	p, err := ParseProfile("grouping.yaml", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	want := []modbus.Request{
		{Slave: 1, Function: modbus.ReadHoldingRegisters, Address: 0, Count: 1},   // 0 and 124 are far apart
		{Slave: 1, Function: modbus.ReadHoldingRegisters, Address: 124, Count: 3}, // u32 at 124-125 touches 126
		{Slave: 2, Function: modbus.ReadHoldingRegisters, Address: 300, Count: 2},
		{Slave: 2, Function: modbus.ReadHoldingRegisters, Address: 500, Count: 1},
	}
	checkRequests(t, p.Requests(), want)
}

func TestGroupingSplitsAt125(t *testing.T) {
	// Signals at 0 and 125: contiguous through a u32 at 124, but 0..125 is
	// 126 registers, one too many for one request.
	p, err := ParseProfile("split.yaml", strings.NewReader(
		"signals:\n  floor: {address: 0, type: u32}\n  trips: {address: 2, type: u32}\n  load_percent: {address: 125}\n"+
			"  position_mm: {address: 4, type: u32}\n  fault_code: {address: 6}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Requests() {
		if r.Count > modbus.MaxRegisters {
			t.Errorf("request %+v over 125 registers", r)
		}
	}
	if n := len(p.Requests()); n != 2 {
		t.Errorf("%d requests (%+v), want 2", n, p.Requests())
	}
}

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	_, err := ParseProfile("typo.yaml", strings.NewReader("name: x\nsignals:\n  floor:\n    address: 0\n    adress: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "adress") || !strings.Contains(err.Error(), "line 5") || !strings.Contains(err.Error(), "typo.yaml") {
		t.Fatalf("err = %v, want the file, the key adress and line 5", err)
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	b, err := os.ReadFile("testdata/profiles/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseProfile("testdata/profiles/bad.yaml", strings.NewReader(string(b)))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	want := []Problem{
		{Signal: "door_a", Field: "enum.2", Msg: `unknown value "opened"`},
		{Signal: "fault_code", Field: "table", Msg: "cannot live in the coil table"},
		{Signal: "floor", Field: "type", Msg: `unknown type "u8"`},
		{Signal: "load_percent", Field: "bit", Msg: "not a yes/no signal"},
		{Signal: "mode", Field: "enum", Msg: "missing"},
		{Signal: "moving", Field: "address", Msg: "missing"},
		{Signal: "position_mm", Field: "word_order", Msg: `unknown word order "middle"`},
		{Signal: "speed", Msg: "unknown signal"},
		{Signal: "faults.7", Field: "severity", Msg: `unknown severity "fatal"`},
	}
	for _, w := range want {
		found := false
		for _, p := range ve.Problems {
			if p.Signal == w.Signal && p.Field == w.Field && strings.Contains(p.Msg, w.Msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem %+v in\n%v", w, err)
		}
	}
	if len(ve.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	if !strings.Contains(err.Error(), "testdata/profiles/bad.yaml") {
		t.Errorf("message does not name the file: %v", err)
	}
}

func TestValidationOfCombinations(t *testing.T) {
	cases := map[string]string{
		"no floor":          "signals:\n  moving: {address: 1, bit: 0}\n",
		"both directions":   "signals:\n  floor: {address: 0}\n  direction: {address: 1, enum: {0: none}}\n  direction_up: {address: 2, bit: 0}\n",
		"door b alone":      "signals:\n  floor: {address: 0}\n  door_b: {address: 1, enum: {0: closed}}\n",
		"bad slave":         "slave: 300\nsignals:\n  floor: {address: 0}\n",
		"scale zero":        "signals:\n  floor: {address: 0, scale: 0}\n",
		"bit out of range":  "signals:\n  floor: {address: 0}\n  alarm: {address: 1, bit: 16}\n",
		"u32 past the end":  "signals:\n  floor: {address: 65535, type: u32}\n",
		"word order on u16": "signals:\n  floor: {address: 0, word_order: low_first}\n",
		"empty":             "name: x\n",
	}
	for name, y := range cases {
		if _, err := ParseProfile(name, strings.NewReader(y)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMaxGapMerges(t *testing.T) {
	y := "signals:\n  floor: {address: 0}\n  fault_code: {address: 3}\n"
	for gap, want := range map[int]int{0: 2, 1: 2, 2: 1, 5: 1} {
		p, err := ParseProfile("gap.yaml", strings.NewReader(fmt.Sprintf("max_gap: %d\n%s", gap, y)))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(p.Requests()); n != want {
			t.Errorf("max_gap %d: %d requests %+v, want %d", gap, n, p.Requests(), want)
		}
	}
}

func checkRequests(t *testing.T, got, want []modbus.Request) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("requests %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
