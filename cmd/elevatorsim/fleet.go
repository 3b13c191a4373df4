package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/palier-lifts/palier/fleet"
)

// runFleet is `elevatorsim fleet`: many simulated cabins, each with the
// agent's outbox and uplink, against a broker (see docs/FLEET.md).
func runFleet(args []string, stdout, stderr io.Writer) error {
	d := fleet.DefaultConfig()
	fs := flag.NewFlagSet("elevatorsim fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cabins        = fs.Int("cabins", d.Cabins, "number of cabins")
		perSite       = fs.Int("cabins-per-site", d.CabinsPerSite, "cabins per site (building)")
		sitePattern   = fs.String("site-pattern", d.SitePattern, "site names: {site} is the site's number")
		cabinPattern  = fs.String("cabin-pattern", d.CabinPattern, "cabin names: {cabin} within the site, {n} in the fleet")
		dir           = fs.String("dir", "", "directory of the cabins' outboxes (default: a temporary one, removed at the end)")
		profile       = fs.String("profile", d.Profile, "the palier-sim register profile")
		brokers       = fs.String("broker", strings.Join(d.Brokers, ","), "broker URLs, comma-separated; cabin n uses the (n mod count)th")
		protocol      = fs.String("protocol", d.Protocol, "MQTT version: auto, 3.1.1 or 5")
		userPattern   = fs.String("username-pattern", "", "each cabin's user name, e.g. {site_id}-{cabin_id}")
		passPattern   = fs.String("password-pattern", "", "each cabin's password, with the same placeholders")
		passFilePat   = fs.String("password-file-pattern", "", "each cabin's password file, with the same placeholders")
		caFile        = fs.String("ca-file", "", "CA of the brokers' certificates (ssl:// URLs)")
		backoffMin    = fs.Duration("backoff-min", d.BackoffMin, "uplinks' shortest reconnect delay")
		backoffMax    = fs.Duration("backoff-max", d.BackoffMax, "uplinks' longest reconnect delay")
		mode          = fs.String("mode", d.Mode, "day or storm")
		duration      = fs.Duration("duration", d.Duration, "how long cabins generate (wall clock), storm included")
		timeFactor    = fs.Float64("time-factor", d.TimeFactor, "simulated time runs this many times faster")
		tick          = fs.Duration("tick", d.Tick, "how often each cabin catches up with the clock")
		pollInterval  = fs.Duration("poll-interval", d.PollInterval, "controller reading interval, simulated time")
		heartbeat     = fs.Duration("heartbeat-interval", d.HeartbeatInterval, "heartbeat and health interval, simulated time")
		alarmRate     = fs.Float64("alarm-rate", d.AlarmRate, "probability per call of an alarm press")
		seed          = fs.Uint64("seed", d.Seed, "seed of the cabins' days (cabin n plays seed+n)")
		connectRate   = fs.Float64("connect-rate", d.ConnectRate, "cabins starting their uplink per second at the start")
		warmup        = fs.Duration("warmup", d.Warmup, "storm: uplinks run this long before the outage")
		outage        = fs.Duration("outage", d.Outage, "storm: how long every uplink stays stopped")
		drainTimeout  = fs.Duration("drain-timeout", d.DrainTimeout, "longest wait for the outboxes to drain")
		outboxMax     = fs.Int64("outbox-max-bytes", d.OutboxMaxBytes, "bound of each cabin's outbox file")
		resendAfter   = fs.Duration("resend-after", d.ResendAfter, "outboxes' resend delay of unconfirmed events")
		progressEvery = fs.Duration("progress", d.ProgressEvery, "interval of the progress lines")
		jsonOut       = fs.String("json", "", "also write the report as JSON to this file (- for stdout)")
		logLevel      = fs.String("log-level", "info", "debug, info, warn or error")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("fleet: unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// Each cabin holds its outbox file and a socket, more with the broker
	// in the same machine: raise the soft limit on descriptors to the
	// hard one (Go does so too, but says nothing when it is short).
	if lim, err := raiseNoFile(); err != nil {
		logger.Warn("could not raise the descriptor limit", "err", err)
	} else if need := uint64(*cabins)*2 + 64; lim < need {
		logger.Warn("descriptor limit below what the cabins need", "limit", lim, "need", need)
	}

	cleanup := func() {}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "palier-fleet-")
		if err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		*dir = tmp
		cleanup = func() { os.RemoveAll(tmp) }
	}
	defer cleanup()

	cfg := fleet.Config{
		Cabins: *cabins, CabinsPerSite: *perSite, SitePattern: *sitePattern, CabinPattern: *cabinPattern,
		Dir: *dir, Profile: *profile, Protocol: *protocol,
		UsernamePattern: *userPattern, PasswordPattern: *passPattern, PasswordFilePattern: *passFilePat, CAFile: *caFile,
		BackoffMin: *backoffMin, BackoffMax: *backoffMax,
		Mode: *mode, Duration: *duration, TimeFactor: *timeFactor, Tick: *tick, PollInterval: *pollInterval,
		HeartbeatInterval: *heartbeat, AlarmRate: *alarmRate, Seed: *seed, ConnectRate: *connectRate,
		Warmup: *warmup, Outage: *outage, DrainTimeout: *drainTimeout, OutboxMaxBytes: *outboxMax,
		ResendAfter: *resendAfter, ProgressEvery: *progressEvery,
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}

	// The first signal ends the run (the report is still printed); a
	// second one ends the process.
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-sigCtx.Done()
		stop()
	}()

	f, err := fleet.Open(sigCtx, cfg, logger)
	if err != nil {
		return err
	}
	rep, runErr := f.Run(sigCtx)
	if rep != nil {
		if err := rep.WriteSummary(stdout); err != nil {
			return err
		}
		if *jsonOut != "" {
			if err := writeJSON(*jsonOut, stdout, rep); err != nil {
				return errors.Join(runErr, err)
			}
		}
	}
	return runErr
}

func writeJSON(path string, stdout io.Writer, rep *fleet.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// raiseNoFile sets the soft limit on open descriptors to the hard one
// and returns it.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("set RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}
