package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// commissionDeps are the parts a test replaces.
type commissionDeps struct {
	openGPIO gpio.Opener
	now      func() time.Time
}

// commission shows every mapped signal live while the installer runs the
// lift, counts what the cabin state machine saw, and ends (Ctrl-C or
// --duration) with a report of what was seen and what is left to test. The
// report is saved on the device and queued in the outbox as a
// commission_report event. It runs while the agent is stopped: the outbox
// file is locked by whoever has it open.
func commission(ctx context.Context, args []string, stdout, stderr io.Writer, deps commissionDeps) int {
	fs := flag.NewFlagSet("agent commission", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfig, "config file")
	duration := fs.Duration("duration", 0, "end after this long (0: at Ctrl-C)")
	reportPath := fs.String("report", "", "where to save the report (default state_dir/commission-TIME.json)")
	interval := fs.Duration("interval", 0, "time between readings (default controller.poll_interval)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if deps.now == nil {
		deps.now = time.Now
	}
	cfg, err := agent.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *interval <= 0 {
		*interval = cfg.Controller.PollInterval
	}
	src, err := openCommissionSource(cfg, deps, *path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer src.close()

	// Take the outbox now: better to learn that the agent still runs before
	// the installer spends half an hour in the lift.
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		fmt.Fprintf(stderr, "create state dir: %v\n", err)
		return 1
	}
	obPath := filepath.Join(cfg.StateDir, "outbox.db")
	ob, err := outbox.Open(ctx, obPath, outbox.Options{MaxBytes: cfg.Outbox.MaxBytes, ResendAfter: cfg.Outbox.ResendAfter,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if errors.Is(err, outbox.ErrLocked) {
		fmt.Fprintf(stderr, "%s is in use: the agent is running.\nStop it first (systemctl stop palier-agent), run the commissioning, then start it again (systemctl start palier-agent).\n", obPath)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "open outbox: %v\n", err)
		return 1
	}
	defer ob.Close()

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	s := newSession(cfg, src, deps.now, stdout)
	s.run(ctx, *interval)
	data := s.report()

	// The session ended, most often by Ctrl-C: what follows must still run.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if *reportPath == "" {
		*reportPath = filepath.Join(cfg.StateDir, "commission-"+data.Started.UTC().Format("20060102T150405Z")+".json")
	}
	fmt.Fprint(stdout, formatReport(cfg, data))
	code := 0
	if err := saveReport(*reportPath, cfg, data); err != nil {
		fmt.Fprintln(stderr, err)
		code = 1
	} else {
		fmt.Fprintf(stdout, "Report saved to %s\n", *reportPath)
	}
	seq, err := queueReport(wctx, ob, data, deps.now())
	if err != nil {
		fmt.Fprintf(stderr, "queue the report for the cloud: %v\n", err)
		code = 1
	} else {
		fmt.Fprintf(stdout, "Report queued for the cloud (outbox %s, sequence %d): the agent sends it once started.\n", ob.Epoch(), seq)
	}
	if err := ob.Close(); err != nil {
		fmt.Fprintf(stderr, "close outbox: %v\n", err)
		code = 1
	}
	giveToStateOwner(cfg.StateDir, obPath, *reportPath)
	return code
}

// queueReport appends the report to the outbox as the agent would, after
// an outbox_reset event if opening it had to set a damaged file aside.
func queueReport(ctx context.Context, ob *outbox.Outbox, data wire.CommissionReportData, now time.Time) (uint64, error) {
	if r := ob.Reset(); r != nil {
		ev, err := wire.NewEvent(now, wire.TypeOutboxReset, wire.OutboxResetData{Reason: r.Reason, MovedTo: r.MovedTo, PrevEpoch: r.PrevEpoch})
		if err != nil {
			return 0, err
		}
		b, _ := json.Marshal(ev)
		if _, err := ob.Append(ctx, outbox.ClassSafety, b); err != nil {
			return 0, fmt.Errorf("append outbox_reset event: %w", err)
		}
	}
	ev, err := wire.NewEvent(now, wire.TypeCommissionReport, data)
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return 0, fmt.Errorf("encode commission_report event: %w", err)
	}
	seq, err := ob.Append(ctx, outbox.ClassEvents, b)
	if err != nil {
		return 0, fmt.Errorf("append commission_report event: %w", err)
	}
	return seq, nil
}

// commissionFile is the report as saved on the device.
type commissionFile struct {
	Site   string                    `json:"site"`
	Cabin  string                    `json:"cabin"`
	Report wire.CommissionReportData `json:"report"`
}

func saveReport(path string, cfg agent.Config, data wire.CommissionReportData) error {
	b, err := json.MarshalIndent(commissionFile{Site: cfg.Site, Cabin: cfg.Cabin, Report: data}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	return nil
}

// giveToStateOwner hands files an installer created as root (sudo) to the
// owner of the state folder, the agent's user: a root-owned outbox.db would
// stop the agent from starting.
func giveToStateOwner(dir string, paths ...string) {
	if os.Geteuid() != 0 {
		return
	}
	st, err := os.Stat(dir)
	if err != nil {
		return
	}
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	for _, p := range paths {
		if strings.HasPrefix(p, dir+string(filepath.Separator)) {
			os.Chown(p, int(s.Uid), int(s.Gid))
		}
	}
}

// commissionSource reads one poll: every mapped signal, formatted, and the
// Sample decoded from the same reading.
type commissionSource struct {
	name  string // what is read, for the report
	poll  func(ctx context.Context) (map[string]string, sensors.Sample, error)
	close func()
	hint  func(err error) string
}

func openCommissionSource(cfg agent.Config, deps commissionDeps, configPath string) (*commissionSource, error) {
	cc := cfg.Controller
	if cc.Source == agent.SourceContacts {
		m, err := sensors.LoadContactMap(cc.Contacts)
		if err != nil {
			return nil, err
		}
		r, err := sensors.NewContactReader(m, deps.openGPIO)
		if err != nil {
			return nil, &fixError{err, "Check the line names against `gpioinfo` and that you may use /dev/gpiochip* (the gpio group)."}
		}
		r.Now = deps.now
		return &commissionSource{
			name: "contacts " + m.Name,
			poll: func(ctx context.Context) (map[string]string, sensors.Sample, error) {
				s, err := r.Read(ctx)
				vals := map[string]string{}
				for n, closed := range r.Levels() {
					vals[n] = "open"
					if closed {
						vals[n] = "CLOSED"
					}
				}
				return vals, s, err
			},
			close: func() {},
			hint:  func(error) string { return "" },
		}, nil
	}
	profile, err := sensors.LoadProfile(cc.Profile)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.DiscardHandler)
	port, err := serialport.Open(serialport.Config{Path: cc.Port, Baud: cc.Baud, DataBits: cc.DataBits, Parity: cc.Parity, StopBits: cc.StopBits,
		RS485: cc.RS485, EchoSuppression: cc.EchoSuppression}, logger)
	if err != nil {
		return nil, &fixError{fmt.Errorf("cannot open %s: %w", cc.Port, err),
			"Check controller.port in " + configPath + " (ls /dev/serial/by-id/), that the adapter is plugged in, and that you may use it (the dialout group)."}
	}
	mcfg := modbus.DefaultConfig()
	mcfg.Baud, mcfg.ResponseTimeout, mcfg.Retries = cc.Baud, cc.ResponseTimeout, cc.Retries
	master := modbus.NewMaster(port, mcfg, logger)
	// One reading of the line serves both the display (Values) and the
	// state machine (Read): the second reader replays the first's replies.
	rec := &recordingBus{bus: master}
	rb := &replayBus{rec: rec}
	live, replay := sensors.NewProfileReader(profile, rec), sensors.NewProfileReader(profile, rb)
	replay.Now = deps.now
	return &commissionSource{
		name: "profile " + profile.Name,
		poll: func(ctx context.Context) (map[string]string, sensors.Sample, error) {
			rec.resps = rec.resps[:0]
			vals, err := live.Values(ctx)
			if err != nil {
				return nil, sensors.Sample{}, err
			}
			rb.i = 0
			s, err := replay.Read(ctx)
			out := make(map[string]string, len(vals))
			for n, v := range vals {
				out[n] = formatValue(v)
			}
			return out, s, err
		},
		close: func() { port.Close() },
		hint:  func(err error) string { return modbus.Hint(err) },
	}, nil
}

// fixError is a failure and what the installer should check.
type fixError struct {
	err error
	fix string
}

func (e *fixError) Error() string { return e.err.Error() + "\n" + e.fix }
func (e *fixError) Unwrap() error { return e.err }

func formatValue(v sensors.Value) string {
	if v.State != "" {
		return v.State
	}
	return strconv.FormatFloat(v.Number, 'g', -1, 64)
}

// recordingBus keeps the replies of one reading for replayBus.
type recordingBus struct {
	bus   sensors.Bus
	resps []modbus.Response
}

func (b *recordingBus) Do(ctx context.Context, req modbus.Request) (modbus.Response, error) {
	r, err := b.bus.Do(ctx, req)
	if err == nil {
		b.resps = append(b.resps, r)
	}
	return r, err
}

// replayBus answers the same requests, in the same order, from a recording.
type replayBus struct {
	rec *recordingBus
	i   int
}

func (b *replayBus) Do(_ context.Context, req modbus.Request) (modbus.Response, error) {
	if b.i >= len(b.rec.resps) {
		return modbus.Response{}, fmt.Errorf("replay %s: no recorded reply", req.Function)
	}
	b.i++
	return b.rec.resps[b.i-1], nil
}

// session is one commissioning run: the live view and the tally.
type session struct {
	cfg     agent.Config
	src     *commissionSource
	now     func() time.Time
	out     io.Writer
	tty     bool
	machine *sensors.Machine
	poller  sensors.Poller

	started            time.Time
	polls, pollErrors  uint64
	trips, doorCycles  uint64
	reopens            uint64
	floors             map[int]bool
	dirs, modes        map[string]bool
	faults             map[int]bool
	alarm, entrapment  bool
	first, cur         map[string]string
	changed            map[string]bool
	hasAlarm, hasFault bool
	hasDoors           bool
	lastErr            string
	lastView           string
}

func newSession(cfg agent.Config, src *commissionSource, now func() time.Time, out io.Writer) *session {
	mcfg := cfg.Events
	if p, err := sensors.LoadProfile(cfg.Controller.Profile); err == nil && cfg.Controller.Source != agent.SourceContacts {
		mcfg.FaultInfo = func(code int) (string, string) {
			f, ok := p.Fault(code)
			if !ok {
				return "", ""
			}
			return f.Text, f.Severity
		}
	}
	m := sensors.NewMachine(mcfg, wire.Counters{})
	return &session{
		cfg: cfg, src: src, now: now, out: out, tty: isTerminal(out),
		machine: m, poller: sensors.Poller{M: m},
		floors: map[int]bool{}, dirs: map[string]bool{}, modes: map[string]bool{}, faults: map[int]bool{},
		changed: map[string]bool{},
	}
}

func (s *session) run(ctx context.Context, interval time.Duration) {
	s.started = s.now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var events []wire.Event
	for {
		vals, sample, err := s.src.poll(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		s.polls++
		if err != nil {
			s.pollErrors++
			s.lastErr = err.Error()
			if h := s.src.hint(err); h != "" {
				s.lastErr += " (" + h + ")"
			}
		} else {
			s.lastErr = ""
			s.sampled(vals, sample)
		}
		events, _ = s.poller.Apply(events[:0], s.now(), sample, err)
		s.tally(events)
		if st := s.machine.State(); st.Link == sensors.LinkStateOK && err == nil {
			if st.Mode != "" {
				s.modes[st.Mode] = true
			}
			// The machine's floor is 0 until confirmed: count it once the
			// reading agrees.
			if !st.Moving && !sample.Moving && st.Floor == sample.Floor {
				s.floors[st.Floor] = true
			}
		}
		s.show()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *session) sampled(vals map[string]string, sample sensors.Sample) {
	if s.first == nil {
		s.first = vals
		s.hasAlarm = sample.Has&sensors.HasAlarm != 0
		s.hasFault = sample.Has&sensors.HasFault != 0
		s.hasDoors = len(sample.Doors) > 0
	}
	for n, v := range vals {
		if f, ok := s.first[n]; ok && f != v {
			s.changed[n] = true
		}
	}
	s.cur = vals
}

// tally counts what the state machine reported.
func (s *session) tally(events []wire.Event) {
	for _, ev := range events {
		switch ev.Type {
		case wire.TypeTrip:
			var d wire.TripData
			if json.Unmarshal(ev.Data, &d) == nil {
				s.trips++
				s.dirs[d.Direction] = true
				s.floors[d.From], s.floors[d.To] = true, true
			}
		case wire.TypeDoorCycle:
			var d wire.DoorCycleData
			if json.Unmarshal(ev.Data, &d) == nil {
				s.doorCycles++
				s.reopens += uint64(d.Reopens)
			}
		case wire.TypeFault:
			var d wire.FaultData
			if json.Unmarshal(ev.Data, &d) == nil && d.Active {
				s.faults[d.Code] = true
			}
		case wire.TypeAlarm:
			var d wire.AlarmData
			if json.Unmarshal(ev.Data, &d) == nil && d.Active {
				s.alarm = true
			}
		case wire.TypeEntrapment:
			var d wire.EntrapmentData
			if json.Unmarshal(ev.Data, &d) == nil && d.Active {
				s.entrapment = true
			}
		}
	}
}

// report is the tally as the wire carries it.
func (s *session) report() wire.CommissionReportData {
	d := wire.CommissionReportData{
		Started:    s.started.UTC(),
		DurationS:  s.now().Sub(s.started).Round(time.Millisecond).Seconds(),
		Source:     s.src.name,
		Polls:      s.polls,
		PollErrors: s.pollErrors,
		Trips:      s.trips,
		DoorCycles: s.doorCycles,
		Reopens:    s.reopens,
		Floors:     slices.Sorted(maps.Keys(s.floors)),
		Directions: slices.Sorted(maps.Keys(s.dirs)),
		Modes:      slices.Sorted(maps.Keys(s.modes)),
		Faults:     slices.Sorted(maps.Keys(s.faults)),
		Alarm:      s.alarm,
		Entrapment: s.entrapment,
		Unchanged:  []string{},
	}
	for _, n := range slices.Sorted(maps.Keys(s.first)) {
		if !s.changed[n] {
			d.Unchanged = append(d.Unchanged, n)
		}
	}
	for _, f := range []*[]int{&d.Floors, &d.Faults} {
		if *f == nil {
			*f = []int{}
		}
	}
	for _, f := range []*[]string{&d.Directions, &d.Modes} {
		if *f == nil {
			*f = []string{}
		}
	}
	d.NotSeen = s.notSeen(d)
	return d
}

// notSeen says, in the installer's words, what the session did not show:
// only what the source can show at all.
func (s *session) notSeen(d wire.CommissionReportData) []string {
	out := []string{}
	if s.first == nil {
		return append(out, "any good reading of the controller (every poll failed)")
	}
	if !s.dirs[wire.DirectionUp] {
		out = append(out, "a trip up")
	}
	if !s.dirs[wire.DirectionDown] {
		out = append(out, "a trip down")
	}
	if s.hasDoors && d.DoorCycles == 0 {
		out = append(out, "a door cycle (doors opening and closing at a floor)")
	}
	if s.hasDoors && d.Reopens == 0 {
		out = append(out, "a door reopen (doors reopening while closing)")
	}
	if s.hasAlarm && !d.Alarm {
		out = append(out, "the alarm button pressed")
	}
	if s.hasFault && len(d.Faults) == 0 {
		out = append(out, "a controller fault")
	}
	if s.modeMapped() && !s.modes[wire.ModeInspection] {
		out = append(out, "inspection mode")
	}
	for _, n := range d.Unchanged {
		out = append(out, fmt.Sprintf("signal %s never changed (always %s)", n, s.first[n]))
	}
	return out
}

func (s *session) modeMapped() bool {
	for n := range s.first {
		if n == "mode" || strings.Contains(n, "inspection") {
			return true
		}
	}
	return false
}

// show draws the live view: the whole screen on a terminal, or one line
// each time something changed otherwise (logs, tests, a serial console).
func (s *session) show() {
	elapsed := s.now().Sub(s.started).Truncate(time.Second)
	if !s.tty {
		line := s.signalsLine() + " | " + s.seenLine()
		if line == s.lastView {
			return
		}
		s.lastView = line
		fmt.Fprintf(s.out, "%7.1fs %s\n", s.now().Sub(s.started).Seconds(), line)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Palier commissioning: %s/%s, %s, %s (Ctrl-C to finish)\n\n", s.cfg.Site, s.cfg.Cabin, s.src.name, elapsed)
	for _, n := range slices.Sorted(maps.Keys(s.cur)) {
		mark := " "
		if s.changed[n] {
			mark = "*"
		}
		fmt.Fprintf(&b, " %s %-28s %s\n", mark, n, s.cur[n])
	}
	st := s.machine.State()
	fmt.Fprintf(&b, "\nstate   floor %d, %s, doors %s, mode %s, link %s\n", st.Floor, movingWord(st.Moving, st.Direction), strings.Join(st.Doors, "/"), st.Mode, st.Link)
	fmt.Fprintf(&b, "seen    %s\n", s.seenLine())
	if todo := s.notSeen(s.report()); len(todo) > 0 {
		fmt.Fprintf(&b, "to do   %s\n", strings.Join(todo, "; "))
	}
	if s.lastErr != "" {
		fmt.Fprintf(&b, "error   %s\n", s.lastErr)
	}
	fmt.Fprint(&b, "(* changed at least once)\n")
	view := b.String()
	if view == s.lastView {
		return
	}
	s.lastView = view
	fmt.Fprint(s.out, "\x1b[H\x1b[2J"+view)
}

func movingWord(moving bool, dir string) string {
	if !moving {
		return "stopped"
	}
	return "moving " + dir
}

func (s *session) signalsLine() string {
	if s.lastErr != "" {
		return "poll error: " + s.lastErr
	}
	parts := make([]string, 0, len(s.cur))
	for _, n := range slices.Sorted(maps.Keys(s.cur)) {
		parts = append(parts, n+"="+s.cur[n])
	}
	return strings.Join(parts, " ")
}

func (s *session) seenLine() string {
	return fmt.Sprintf("trips %d %v, door cycles %d, reopens %d, floors %v, faults %v, alarm %t, modes %v, poll errors %d",
		s.trips, slices.Sorted(maps.Keys(s.dirs)), s.doorCycles, s.reopens, slices.Sorted(maps.Keys(s.floors)),
		slices.Sorted(maps.Keys(s.faults)), s.alarm, slices.Sorted(maps.Keys(s.modes)), s.pollErrors)
}

// formatReport is the end-of-session summary for the installer.
func formatReport(cfg agent.Config, d wire.CommissionReportData) string {
	var b strings.Builder
	none := func(n int, s string) string {
		if n == 0 {
			return "none"
		}
		return s
	}
	fmt.Fprintf(&b, "\nCommissioning report for %s/%s (%s): %s, %d polls, %d failed\n", cfg.Site, cfg.Cabin, d.Source,
		(time.Duration(d.DurationS * float64(time.Second))).Round(time.Second), d.Polls, d.PollErrors)
	fmt.Fprintf(&b, "  trips          %d %s\n", d.Trips, none(len(d.Directions), strings.Join(d.Directions, ", ")))
	fmt.Fprintf(&b, "  door cycles    %d (%d reopens)\n", d.DoorCycles, d.Reopens)
	fmt.Fprintf(&b, "  floors         %s\n", none(len(d.Floors), strings.Trim(fmt.Sprint(d.Floors), "[]")))
	fmt.Fprintf(&b, "  modes          %s\n", none(len(d.Modes), strings.Join(d.Modes, ", ")))
	fmt.Fprintf(&b, "  faults         %s\n", none(len(d.Faults), strings.Trim(fmt.Sprint(d.Faults), "[]")))
	fmt.Fprintf(&b, "  alarm          %t\n", d.Alarm)
	fmt.Fprintf(&b, "  entrapment     %t\n", d.Entrapment)
	if len(d.NotSeen) == 0 {
		fmt.Fprint(&b, "Everything the source can show was seen.\n")
	} else {
		fmt.Fprint(&b, "Not seen (test these before leaving the cabin):\n")
		for _, n := range d.NotSeen {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	return b.String()
}

// isTerminal reports whether w is a terminal: only then is the screen
// cleared between refreshes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
