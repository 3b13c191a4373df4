package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/commission"
	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/sensors"
)

// commissionDeps are the parts a test replaces.
type commissionDeps struct {
	openGPIO gpio.Opener
	now      func() time.Time
}

// runCommission shows every mapped signal live while the installer runs the
// lift, counts what the cabin state machine saw, and ends (Ctrl-C or
// --duration) with a report of what was seen and what is left to test. The
// report is saved on the device and queued in the outbox as a
// commission_report event. It runs while the agent is stopped: the outbox
// file is locked by whoever has it open.
func runCommission(ctx context.Context, args []string, stdout, stderr io.Writer, deps commissionDeps) int {
	fs := flag.NewFlagSet("agent commission", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfig, "config file")
	duration := fs.Duration("duration", 0, "end after this long (0: at Ctrl-C)")
	reportPath := fs.String("report", "", "where to save the report (default state_dir/commission-TIME.json)")
	interval := fs.Duration("interval", 0, "time between readings (default controller.poll_interval)")
	if err := parseArgs(fs, args); err != nil {
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
	ctrl, err := sensors.LoadController(cfg.Controller)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	src, err := ctrl.Open(sensors.SourceOptions{OpenGPIO: deps.openGPIO, Now: deps.now})
	if err != nil {
		fmt.Fprintln(stderr, openFailure(ctrl, *path, err))
		return 1
	}
	defer src.Close()

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
	events := cfg.Events
	events.FaultInfo = ctrl.FaultInfo
	s := commission.New(commission.Config{Source: src, Name: ctrl.Name(), Events: events, Now: deps.now})
	v := &liveView{s: s, site: cfg.Site, cabin: cfg.Cabin, now: deps.now, out: stdout, tty: isTerminal(stdout)}
	s.Run(ctx, *interval, v.show)
	data := s.Report()

	// The session ended, most often by Ctrl-C: what follows must still run.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if *reportPath == "" {
		*reportPath = filepath.Join(cfg.StateDir, "commission-"+data.Started.UTC().Format("20060102T150405Z")+".json")
	}
	fmt.Fprint(stdout, formatReport(cfg.Site, cfg.Cabin, data))
	code := 0
	if err := commission.Save(*reportPath, cfg.Site, cfg.Cabin, data); err != nil {
		fmt.Fprintln(stderr, err)
		code = 1
	} else {
		fmt.Fprintf(stdout, "Report saved to %s\n", *reportPath)
	}
	seq, err := commission.Queue(wctx, ob, data, deps.now())
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

// openFailure is why the controller could not be opened and what the
// installer should check.
func openFailure(ctrl *sensors.Controller, configPath string, err error) string {
	if ctrl.Contacts != nil {
		return err.Error() + "\nCheck the line names against `gpioinfo` and that you may use /dev/gpiochip* (the gpio group)."
	}
	return fmt.Sprintf("cannot open %s: %v\nCheck controller.port in %s (ls /dev/serial/by-id/), that the adapter is plugged in, and that you may use it (the dialout group).",
		ctrl.Config.Port, err, configPath)
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
