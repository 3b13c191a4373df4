// Command elevatorsim is a simulated elevator controller: a Modbus RTU
// slave on a serial port, or on a pseudo-terminal it creates, playing a
// scenario file or a procedural day of traffic.
//
//	elevatorsim --pty --pty-link /tmp/palier-sim --speed 10 --seed 1
//	elevatorsim --port /dev/ttyUSB0 --baud 19200 --parity E --scenario normal.yaml
//
// It prints the path of the pty slave side on stdout ("pty /dev/pts/N").
//
// `elevatorsim fleet` plays many simulated cabins, each with the agent's
// own outbox and uplink, against a broker: a load generator
// (docs/FLEET.md).
//
//	elevatorsim fleet --cabins 2000 --broker tcp://127.0.0.1:1883 --duration 5m --time-factor 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/palier-lifts/palier/hal/serialport"
	"github.com/palier-lifts/palier/simulator"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "elevatorsim:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "fleet" {
		return runFleet(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("elevatorsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		portPath  = fs.String("port", "", "serial port to serve on (e.g. /dev/ttyUSB0)")
		usePTY    = fs.Bool("pty", false, "create a pseudo-terminal and serve on it (prints its path)")
		ptyLink   = fs.String("pty-link", "", "with --pty, also create a symlink at this path to the pty")
		baud      = fs.Int("baud", 19200, "line speed; replies are paced at its wire time (0: no pacing)")
		parity    = fs.String("parity", "E", "parity of --port: N, E or O")
		stopBits  = fs.Int("stop-bits", 1, "stop bits of --port: 1 or 2")
		slave     = fs.Int("slave", 1, "Modbus slave id")
		floors    = fs.Int("floors", 9, "number of floors, indexed from 0")
		carSpeed  = fs.Float64("car-speed", 1000, "car speed in mm/s (floors are 3000 mm apart)")
		speed     = fs.Float64("speed", 1, "simulated time factor (10: ten times faster than real time)")
		seed      = fs.Uint64("seed", 1, "seed of traffic and line faults")
		scenario  = fs.String("scenario", "", "scenario YAML file (default: a procedural day of traffic)")
		faultRate = fs.Float64("fault-rate", 0, "probability per reply of a line fault (0..1)")
		faults    = fs.String("faults", "all", "line faults to draw from: bad_crc,truncated,silence,wrong_slave,exception or all")
		exitDone  = fs.Bool("exit-when-done", false, "exit when the scenario has played its last step")
		logLevel  = fs.String("log-level", "info", "debug, info, warn or error")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if (*portPath == "") == !*usePTY {
		return errors.New("give exactly one of --port PATH or --pty")
	}
	if *slave < 1 || *slave > 247 {
		return fmt.Errorf("--slave %d not in 1..247", *slave)
	}
	kinds, err := simulator.ParseFaultKinds(*faults)
	if err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	cfg := simulator.Config{
		Slave: byte(*slave), Floors: *floors, CarSpeedMMs: *carSpeed, Speed: *speed,
		Seed: *seed, Baud: *baud, FaultRate: *faultRate, Faults: kinds,
	}
	if *scenario != "" {
		if cfg.Scenario, err = simulator.LoadScenario(*scenario); err != nil {
			return err
		}
	}
	sim, err := simulator.New(cfg, logger)
	if err != nil {
		return err
	}

	// The first signal cancels; stop() then restores the default handling,
	// so a second signal ends the process at once.
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-sigCtx.Done()
		stop()
	}()
	ctx, cancel := context.WithCancel(sigCtx)
	defer cancel()
	if *exitDone {
		go func() {
			select {
			case <-sim.Done():
				// Give the last state a moment to be read before leaving.
				time.Sleep(time.Second)
				cancel()
			case <-ctx.Done():
			}
		}()
	}

	var port io.ReadWriteCloser
	if *usePTY {
		pt, err := simulator.OpenPTY(*ptyLink)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pty %s\n", pt.Path())
		logger.Info("serving on pty", "path", pt.Path(), "link", *ptyLink, "baud", *baud, "slave", *slave)
		port = pt
	} else {
		p, err := serialport.Open(serialport.Config{Path: *portPath, Baud: *baud, Parity: *parity, StopBits: *stopBits, ReadTimeout: time.Second}, logger)
		if err != nil {
			return err
		}
		logger.Info("serving on serial port", "path", *portPath, "baud", *baud, "slave", *slave)
		port = p
	}
	defer port.Close()
	return sim.Serve(ctx, port)
}
