package simulator_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/simulator/simtest"
)

// startSim serves sim on a fresh pty and returns a master on its slave side.
func startSim(t testing.TB, sim *simulator.Simulator, baud int, mcfg modbus.Config) *modbus.Master {
	t.Helper()
	path, _ := simtest.Serve(t, sim, "")
	return simtest.Master(t, path, baud, mcfg)
}

func TestMasterReadsRegisterMap(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Scenario: simtest.Scenario(t, simtest.AllSetYAML), Baud: 115200}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m := startSim(t, sim, 115200, modbus.Config{ResponseTimeout: 2 * time.Second})
	ctx := context.Background()
	regs, err := m.ReadHoldingRegisters(ctx, 1, 0, simulator.NumRegs)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{4, 0, 12000, simulator.StatusDoorZone | simulator.StatusAlarm | simulator.StatusCalls, 0, 0, simulator.ModeInspection, 12, 42, 0, 0}
	if len(regs) != len(want) {
		t.Fatalf("got %d registers, want %d", len(regs), len(want))
	}
	for i := range want {
		if regs[i] != want[i] {
			t.Errorf("register %d = %d, want %d (all: %v)", i, regs[i], want[i], regs)
		}
	}
	in, err := m.ReadInputRegisters(ctx, 1, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	if in[0] != simulator.ModeInspection || in[1] != 12 || in[2] != 42 {
		t.Errorf("input registers 6..8 = %v, want [1 12 42]", in)
	}
	bits, err := m.ReadDiscreteInputs(ctx, 1, 0, 6)
	if err != nil {
		t.Fatal(err)
	}
	if wantBits := []bool{false, false, false, true, true, true}; !equalBools(bits, wantBits) {
		t.Errorf("discrete inputs = %v, want %v", bits, wantBits)
	}
	// Past the map: an exception, typed, with its code.
	_, err = m.ReadHoldingRegisters(ctx, 1, 10, 5)
	var ex *modbus.ExceptionError
	if !errors.As(err, &ex) || ex.Code != modbus.ExIllegalAddress || ex.Function != modbus.ReadHoldingRegisters {
		t.Fatalf("read past the map: %v, want illegal address exception", err)
	}
	st := m.Stats()
	if st.Responses != 3 || st.Exceptions != 1 || st.Errors() != 1 {
		t.Errorf("stats %+v, want 3 responses and 1 exception", st)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEachLineFaultIsTypedAndCounted(t *testing.T) {
	cases := []struct {
		kind  simulator.FaultKind
		is    error // sentinel, or nil for an exception
		count func(modbus.Stats) uint64
	}{
		{simulator.FaultBadCRC, modbus.ErrCRC, func(s modbus.Stats) uint64 { return s.CRCErrors }},
		{simulator.FaultTruncated, modbus.ErrShortFrame, func(s modbus.Stats) uint64 { return s.ShortFrames }},
		{simulator.FaultSilence, modbus.ErrTimeout, func(s modbus.Stats) uint64 { return s.Timeouts }},
		{simulator.FaultWrongSlave, modbus.ErrWrongSlave, func(s modbus.Stats) uint64 { return s.WrongSlave }},
		{simulator.FaultException, nil, func(s modbus.Stats) uint64 { return s.Exceptions }},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			sim, err := simulator.New(simulator.Config{
				Scenario: simtest.Scenario(t, simtest.AllSetYAML), Baud: 115200, Seed: 7,
				FaultRate: 1, Faults: []simulator.FaultKind{tc.kind},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := startSim(t, sim, 115200, modbus.Config{ResponseTimeout: 300 * time.Millisecond, Retries: 1, BusyBackoff: time.Millisecond})
			const reads = 3
			for i := 0; i < reads; i++ {
				regs, err := m.ReadHoldingRegisters(context.Background(), 1, 0, simulator.NumRegs)
				if err == nil || regs != nil {
					t.Fatalf("read %d with fault %s: values %v, err %v; want no values and an error", i, tc.kind, regs, err)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Fatalf("read %d: %v, want %v", i, err, tc.is)
				}
				var ex *modbus.ExceptionError
				if tc.is == nil && (!errors.As(err, &ex) || ex.Code != modbus.ExSlaveBusy) {
					t.Fatalf("read %d: %v, want a slave-busy exception", i, err)
				}
			}
			st := m.Stats()
			if got := tc.count(st); got != 2*reads || st.Errors() != 2*reads || st.Retries != reads || st.Responses != 0 {
				t.Errorf("stats %+v: want %d of this kind (2 attempts × %d reads), %d retries, nothing else", st, 2*reads, reads, reads)
			}
			if inj := sim.Stats().Injected[tc.kind]; inj != 2*reads {
				t.Errorf("simulator injected %d %s, want %d", inj, tc.kind, 2*reads)
			}
		})
	}
}

// With a mix of faults on a fifth of the replies, retries get every read
// through, every value read is the true one, and the master's counters
// match what the simulator injected, kind by kind.
func TestMixedLineFaultsSurvived(t *testing.T) {
	sim, err := simulator.New(simulator.Config{
		Scenario: simtest.Scenario(t, simtest.AllSetYAML), Baud: 115200, Seed: 42, FaultRate: 0.2,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := startSim(t, sim, 115200, modbus.Config{ResponseTimeout: time.Second, Retries: 6, BusyBackoff: time.Millisecond})
	want := sim.Registers()
	const reads = 60
	for i := 0; i < reads; i++ {
		regs, err := m.ReadHoldingRegisters(context.Background(), 1, 0, simulator.NumRegs)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		for j := range want {
			if regs[j] != want[j] {
				t.Fatalf("read %d: register %d = %d, want %d", i, j, regs[j], want[j])
			}
		}
	}
	st, inj := m.Stats(), sim.Stats().Injected
	t.Logf("master %+v; injected %v", st, inj)
	if st.Responses != reads {
		t.Errorf("%d responses, want %d", st.Responses, reads)
	}
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"crc", st.CRCErrors, inj[simulator.FaultBadCRC]},
		{"short", st.ShortFrames, inj[simulator.FaultTruncated]},
		{"timeouts", st.Timeouts, inj[simulator.FaultSilence]},
		{"wrong slave", st.WrongSlave, inj[simulator.FaultWrongSlave]},
		{"exceptions", st.Exceptions, inj[simulator.FaultException]},
	}
	var total uint64
	for _, c := range checks {
		total += c.want
		if c.got != c.want {
			t.Errorf("%s: master counted %d, simulator injected %d", c.name, c.got, c.want)
		}
	}
	if total == 0 || st.Retries != total || st.Malformed != 0 {
		t.Errorf("retries %d, injected %d, malformed %d: want retries = injected > 0 and no malformed", st.Retries, total, st.Malformed)
	}
}

// The simulator restarts (its pty goes away and comes back under the same
// link): the master over a Resilient port reports the outage and reads
// again once the line is back.
func TestMasterSurvivesSimulatorRestart(t *testing.T) {
	link := t.TempDir() + "/sim"
	start := func() (stop func()) {
		sim, err := simulator.New(simulator.Config{Scenario: simtest.Scenario(t, simtest.AllSetYAML), Baud: 115200}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, stop = simtest.Serve(t, sim, link)
		return stop
	}
	port, err := serialport.NewResilient(serialport.ResilientConfig{
		Port: serialport.Config{Path: link, Baud: 115200}, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	m := modbus.NewMaster(port, modbus.Config{Baud: 115200, ResponseTimeout: time.Second}, nil)
	ctx := context.Background()
	readUntilOK := func() []uint16 {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			regs, err := m.ReadHoldingRegisters(ctx, 1, 0, simulator.NumRegs)
			if err == nil {
				return regs
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no good read within 20 s")
		return nil
	}
	stop := start()
	if regs := readUntilOK(); regs[simulator.RegFault] != 12 {
		t.Fatalf("registers %v", regs)
	}
	stop()
	if _, err := m.ReadHoldingRegisters(ctx, 1, 0, simulator.NumRegs); err == nil {
		t.Fatal("read succeeded with the simulator gone")
	}
	stop = start()
	defer stop()
	if regs := readUntilOK(); regs[simulator.RegLoad] != 42 {
		t.Fatalf("registers after restart %v", regs)
	}
	if st := port.Stats(); st.Outages != 1 || st.Reopens != 1 || st.Down {
		t.Errorf("port stats %+v, want one outage and one reopen", st)
	}
	if st := m.Stats(); st.PortErrors == 0 {
		t.Errorf("master stats %+v, want port errors counted", st)
	}
}

// A slave that never answers (id 2: nobody on the bus) is backed off after
// two silent requests; slave 1 keeps being read meanwhile.
func TestSilentSlaveBackedOff(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Scenario: simtest.Scenario(t, simtest.AllSetYAML), Baud: 115200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := startSim(t, sim, 115200, modbus.Config{ResponseTimeout: 50 * time.Millisecond, Retries: 1,
		SilentSlaveAfter: 2, SlaveBackoff: 300 * time.Millisecond})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := m.ReadHoldingRegisters(ctx, 2, 0, 1); !errors.Is(err, modbus.ErrTimeout) {
			t.Fatalf("silent slave, read %d: %v, want timeout", i, err)
		}
	}
	sent := m.Stats().Requests
	_, err = m.ReadHoldingRegisters(ctx, 2, 0, 1)
	if !errors.Is(err, modbus.ErrSlaveBackedOff) || m.Stats().Requests != sent {
		t.Fatalf("third read: %v (requests %d -> %d), want backed off without touching the bus", err, sent, m.Stats().Requests)
	}
	if _, ok := m.BackedOffUntil(2); !ok {
		t.Error("BackedOffUntil(2) says not backed off")
	}
	if modbus.Hint(err) == "" {
		t.Error("no hint for a backed-off slave")
	}
	// The live slave is not starved.
	for i := 0; i < 3; i++ {
		if _, err := m.ReadHoldingRegisters(ctx, 1, 0, simulator.NumRegs); err != nil {
			t.Fatalf("slave 1: %v", err)
		}
	}
	// Once the backoff expires, slave 2 is tried again, and backed off
	// again at once when it stays silent.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok := m.BackedOffUntil(2); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("backoff never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent = m.Stats().Requests
	if _, err := m.ReadHoldingRegisters(ctx, 2, 0, 1); !errors.Is(err, modbus.ErrTimeout) || m.Stats().Requests != sent+2 {
		t.Fatalf("after backoff: %v, %d requests; want a real try (2 attempts) timing out", err, m.Stats().Requests-sent)
	}
	if _, err := m.ReadHoldingRegisters(ctx, 2, 0, 1); !errors.Is(err, modbus.ErrSlaveBackedOff) {
		t.Fatalf("still silent: %v, want backed off again", err)
	}
	if st := m.Stats(); st.BackedOff != 2 || st.Responses != 3 {
		t.Errorf("stats %+v, want 2 refused requests and 3 responses", st)
	}
}

// The trace of the last exchange and the hint are what an installer sees.
func TestExchangeTraceAndHint(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Scenario: simtest.Scenario(t, simtest.AllSetYAML), Baud: 115200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := startSim(t, sim, 115200, modbus.Config{Retries: -1})
	_, err = m.ReadHoldingRegisters(context.Background(), 1, 20, 1)
	ex := m.LastExchange()
	if got := modbus.FormatExchange(ex); got != "sent 01 03 00 14 00 01 c4 0e, received 01 83 02 c0 f1" {
		t.Errorf("trace %q", got)
	}
	if h := modbus.Hint(err); !strings.Contains(h, "40001") {
		t.Errorf("hint for illegal address: %q", h)
	}
}
