// Command agent is Palier's edge agent: it reads the elevator controller,
// keeps the events in a durable outbox, publishes them over MQTT and feeds
// the cabin screen. See README.md and docs/ARCHITECTURE.md.
//
// Usage:
//
//	agent run --config FILE        run the agent (the default)
//	agent config check FILE        check a config file and print every problem
//	agent config show [--config FILE]   the effective config and where each value comes from
//	agent probe modbus ... START:COUNT   read registers once, for installers
//	agent doctor [--config FILE] [--json]   the installer's checklist
//	agent provision [--boot FILE] [--config FILE]   take a boot partition's palier.yaml once
//	agent commission [--config FILE] [--duration D] [--report FILE]   live view and report, for installers
//	agent version                  print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/buildinfo"
	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/provision"
	"github.com/palier-lifts/palier/sdnotify"
	"github.com/palier-lifts/palier/shutdown"
)

const defaultConfig = "/etc/palier/agent.yaml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  agent run [--config FILE]      run the agent (default config `+defaultConfig+`)
  agent config check FILE        check a config file and print every problem
  agent config show [--config FILE]
                                 print the effective config: the file overlaid by
                                 what was set from a distance, with each value's source
  agent probe modbus [flags] START:COUNT
                                 read registers once and print them (--help for flags)
  agent probe gpio [--contacts FILE]
                                 show the level of every wired contact, live
  agent doctor [--config FILE] [--json]
                                 check config, disk, clock, controller, broker and receiver
  agent provision [--boot FILE] [--config FILE]
                                 take identity, broker and secrets from the boot
                                 partition's palier.yaml once (default `+provision.DefaultBootFile+`)
  agent commission [--config FILE] [--duration D] [--report FILE]
                                 show every signal live while you run the lift, then
                                 report what was seen and what is left to test
  agent update status [--config FILE | --state-dir DIR]
                                 what the agent and its update helper are doing
  agent version                  print the version
`)
}

// run dispatches the subcommand and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"run"}
	}
	switch args[0] {
	case "run":
		return runAgent(args[1:], stderr)
	case "config":
		switch {
		case len(args) == 3 && args[1] == "check":
			return configCheck(args[2], stdout, stderr)
		case len(args) >= 2 && args[1] == "show":
			return configShow(args[2:], stdout, stderr)
		}
		usage(stderr)
		return 2
	case "doctor":
		ctx, stop := shutdown.OnSignal(slog.New(slog.DiscardHandler))
		defer stop()
		return doctor(ctx, args[1:], stdout, stderr, doctorDeps{openGPIO: new(gpio.Host).Open})
	case "probe":
		if len(args) < 2 || (args[1] != "modbus" && args[1] != "gpio") {
			usage(stderr)
			return 2
		}
		ctx, stop := shutdown.OnSignal(slog.New(slog.DiscardHandler))
		defer stop()
		if args[1] == "gpio" {
			return probeGPIO(ctx, args[2:], stdout, stderr, new(gpio.Host).Open)
		}
		return probeModbus(ctx, args[2:], stdout, stderr)
	case "provision":
		return provisionCmd(context.Background(), args[1:], stdout, stderr)
	case "commission":
		ctx, stop := shutdown.OnSignal(slog.New(slog.DiscardHandler))
		defer stop()
		return runCommission(ctx, args[1:], stdout, stderr, commissionDeps{openGPIO: new(gpio.Host).Open})
	case "update":
		if len(args) < 2 || args[1] != "status" {
			usage(stderr)
			return 2
		}
		return updateStatus(args[2:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "palier agent", buildinfo.Version())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "agent: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func configCheck(path string, stdout, stderr io.Writer) int {
	if _, err := agent.LoadConfig(path); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}

// singleProc runs the agent on one P unless GOMAXPROCS says otherwise. Its
// work is a poll every 100 ms and an event now and then: with a second P,
// every timer and every reply also woke a second thread to look for work,
// about a third of the agent's CPU when measured (docs/ARCHITECTURE.md).
func singleProc(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

func runAgent(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfig, "config file")
	if err := parseArgs(fs, args); err != nil {
		return 2
	}
	cfg, err := agent.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	singleProc(os.Getenv)
	// A LevelVar: a configuration set from a distance may change it live.
	level := new(slog.LevelVar)
	cfg.Level = level
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("site", cfg.Site, "cabin", cfg.Cabin)

	ctx, stop := shutdown.OnSignal(logger)
	defer stop()
	a, err := agent.New(ctx, cfg, logger)
	if err != nil {
		logger.Error("agent cannot start", "err", err)
		return 1
	}
	logger.Info("agent started", "version", buildinfo.Version(), "epoch", a.Epoch())
	// Under systemd (Type=notify, WatchdogSec): ready now, and alive only
	// while the poll loop makes progress, so a stuck agent gets restarted.
	if _, err := sdnotify.Ready(); err != nil {
		logger.Warn("systemd notify", "err", err)
	}
	go func() {
		if err := sdnotify.Watchdog(ctx, logger, sdnotify.Progressing(func() uint64 { return a.Stats().Polls })); err != nil {
			logger.Warn("systemd watchdog", "err", err)
		}
	}()
	err = a.Run(ctx)
	sdnotify.Stopping()
	if errors.Is(err, agent.ErrRestart) {
		// systemd starts the agent again (Restart=always), on the
		// configuration saved in the state directory.
		logger.Info("agent stopped to apply a configuration set from a distance; restarting", "exit_code", agent.RestartExitCode)
		return agent.RestartExitCode
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("agent stopped", "err", err)
		return 1
	}
	logger.Info("agent stopped")
	return 0
}
