package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
	"github.com/palier-lifts/palier/sensors"
)

// probeModbus reads registers or bits once and prints them, so an installer
// can see what the controller answers before writing a profile.
func probeModbus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent probe modbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.String("port", "/dev/ttyPALIER0", "serial port")
	baud := fs.Int("baud", 19200, "baud rate")
	parity := fs.String("parity", "E", "parity: N, E or O")
	stopBits := fs.Int("stop-bits", 1, "stop bits: 1 or 2")
	slave := fs.Int("slave", 1, "slave id (1-247)")
	holding := fs.Bool("holding", false, "read holding registers (function 03, the default)")
	input := fs.Bool("input", false, "read input registers (function 04)")
	coils := fs.Bool("coils", false, "read coils (function 01)")
	discrete := fs.Bool("discrete", false, "read discrete inputs (function 02)")
	timeout := fs.Duration("timeout", time.Second, "response timeout")
	retries := fs.Int("retries", 0, "retries of a failed request")
	asJSON := fs.Bool("json", false, "print a JSON array of {address, value}")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: agent probe modbus [flags] START:COUNT")
		fs.PrintDefaults()
	}
	if err := parseArgs(fs, args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	start, count, err := parseRange(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "agent probe modbus: %v\n", err)
		return 2
	}
	fn := modbus.ReadHoldingRegisters
	chosen := 0
	for _, c := range []struct {
		set bool
		fn  modbus.Function
	}{{*holding, modbus.ReadHoldingRegisters}, {*input, modbus.ReadInputRegisters}, {*coils, modbus.ReadCoils}, {*discrete, modbus.ReadDiscreteInputs}} {
		if c.set {
			fn = c.fn
			chosen++
		}
	}
	if chosen > 1 {
		fmt.Fprintln(stderr, "agent probe modbus: choose one of --holding, --input, --coils, --discrete")
		return 2
	}
	if *slave < 1 || *slave > 247 {
		fmt.Fprintf(stderr, "agent probe modbus: --slave %d out of range (1-247)\n", *slave)
		return 2
	}
	req := modbus.Request{Slave: byte(*slave), Function: fn, Address: start, Count: count}
	if err := req.Validate(); err != nil {
		fmt.Fprintf(stderr, "agent probe modbus: %v\n", err)
		return 2
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cc := sensors.ControllerConfig{Port: *port, Baud: *baud, Parity: strings.ToUpper(*parity), StopBits: *stopBits, ResponseTimeout: *timeout, Retries: *retries}
	p, err := serialport.Open(cc.SerialConfig(), logger)
	if err != nil {
		fmt.Fprintf(stderr, "cannot open %s: %v\n%s\n", *port, err,
			"Check the device path (ls /dev/serial/by-id/), that the adapter is plugged in, and that you may use it (the dialout group).")
		return 1
	}
	defer p.Close()
	m := modbus.NewMaster(p, cc.ModbusConfig(), logger)
	resp, err := m.Do(ctx, req)
	if err != nil {
		fmt.Fprintf(stderr, "reading %s %d:%d from slave %d on %s (%d baud, parity %s) failed: %v\n%s\n%s\n",
			fn, start, count, *slave, *port, *baud, strings.ToUpper(*parity), err,
			modbus.FormatExchange(m.LastExchange()), modbus.Hint(err))
		return 1
	}
	return printValues(stdout, start, resp, *asJSON)
}

type probeValue struct {
	Address int `json:"address"`
	Value   int `json:"value"`
}

func printValues(w io.Writer, start uint16, resp modbus.Response, asJSON bool) int {
	var vals []probeValue
	for i, r := range resp.Registers {
		vals = append(vals, probeValue{int(start) + i, int(r)})
	}
	for i, b := range resp.Bits {
		v := 0
		if b {
			v = 1
		}
		vals = append(vals, probeValue{int(start) + i, v})
	}
	if asJSON {
		b, _ := json.Marshal(vals)
		fmt.Fprintln(w, string(b))
		return 0
	}
	for _, v := range vals {
		fmt.Fprintf(w, "%5d  %6d  0x%04x\n", v.Address, v.Value, v.Value)
	}
	return 0
}

// parseRange reads START:COUNT.
func parseRange(s string) (uint16, uint16, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("range %q: want START:COUNT, e.g. 0:11", s)
	}
	start, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("range %q: start: %w", s, errors.Unwrap(err))
	}
	count, err := strconv.ParseUint(b, 10, 16)
	if err != nil || count == 0 {
		return 0, 0, fmt.Errorf("range %q: count must be 1 to 125 registers or 2000 bits", s)
	}
	return uint16(start), uint16(count), nil
}
