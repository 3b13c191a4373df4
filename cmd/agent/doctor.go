package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/uplink"
)

// check is one line of the doctor's checklist.
type check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctorDeps are the parts a test replaces: this machine has no GPIO chip.
type doctorDeps struct {
	openGPIO gpio.Opener
}

// doctor checks, in the order an installer would, everything the agent
// needs: the config, the disk, the clock, the controller and the whole path
// to the receiver. It prints a checklist with a fix for each failure and
// exits non-zero if anything failed.
func doctor(ctx context.Context, args []string, stdout, stderr io.Writer, deps doctorDeps) int {
	fs := flag.NewFlagSet("agent doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfig, "config file")
	asJSON := fs.Bool("json", false, "print the checklist as JSON")
	timeout := fs.Duration("timeout", 15*time.Second, "how long the broker and the receiver may take to answer")
	if err := parseArgs(fs, args); err != nil {
		return 2
	}
	var checks []check
	add := func(c check) { checks = append(checks, c) }
	cfg, err := agent.LoadConfig(*path)
	if err != nil {
		add(check{Name: "config", Detail: err.Error(), Fix: "correct the fields named above (agent config check " + *path + ")"})
		return report(stdout, checks, *asJSON)
	}
	add(check{Name: "config", OK: true, Detail: *path + " is valid; cabin " + cfg.Site + "/" + cfg.Cabin})
	add(checkDisk(cfg))
	add(checkClock())
	checks = append(checks, checkController(ctx, cfg, deps)...)
	checks = append(checks, checkBroker(ctx, cfg, *timeout)...)
	return report(stdout, checks, *asJSON)
}

func report(w io.Writer, checks []check, asJSON bool) int {
	failed := slices.ContainsFunc(checks, func(c check) bool { return !c.OK })
	if asJSON {
		b, _ := json.MarshalIndent(checks, "", "  ")
		fmt.Fprintln(w, string(b))
	} else {
		for _, c := range checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "[%s] %-22s %s\n", mark, c.Name, c.Detail)
			if c.Fix != "" {
				fmt.Fprintf(w, "       %-22s fix: %s\n", "", c.Fix)
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

// checkDisk wants room for a full outbox twice over (compaction copies it).
func checkDisk(cfg agent.Config) check {
	dir := cfg.StateDir
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" || dir == "." {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return check{Name: "disk", Detail: fmt.Sprintf("statfs %s: %v", dir, err), Fix: "create state_dir and check the filesystem is mounted"}
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	need := 2 * cfg.Outbox.MaxBytes
	c := check{Name: "disk", OK: free >= need, Detail: fmt.Sprintf("%d MiB free under %s, the outbox may use up to %d MiB", free>>20, dir, cfg.Outbox.MaxBytes>>20)}
	if !c.OK {
		c.Fix = fmt.Sprintf("free at least %d MiB or lower outbox.max_bytes", need>>20)
	}
	return c
}

// checkClock asks the kernel whether the clock is synchronised: event
// times are only as good as the clock.
func checkClock() check {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	switch {
	case err != nil:
		return check{Name: "clock", Detail: "cannot read the clock's state: " + err.Error(), Fix: "run the doctor on the cabin computer itself"}
	case state == unix.TIME_ERROR:
		return check{Name: "clock", Detail: "not synchronised (" + time.Now().UTC().Format(time.RFC3339) + ")",
			Fix: "enable time synchronisation (timedatectl set-ntp true) and check NTP is reachable"}
	}
	return check{Name: "clock", OK: true, Detail: "synchronised, " + time.Now().UTC().Format(time.RFC3339)}
}

// checkController reads every signal of the profile once, or every contact.
func checkController(ctx context.Context, cfg agent.Config, deps doctorDeps) []check {
	cc := cfg.Controller
	ctrl, err := sensors.LoadController(cc)
	switch {
	case err != nil && cc.Source == sensors.SourceContacts:
		return []check{{Name: "contacts", Detail: err.Error(), Fix: "correct the contact map"}}
	case err != nil:
		return []check{{Name: "profile", Detail: err.Error(), Fix: "correct the profile (docs/PROFILES.md)"}}
	}
	src, err := ctrl.Open(sensors.SourceOptions{OpenGPIO: deps.openGPIO})
	if ctrl.Contacts != nil {
		if err != nil {
			return []check{{Name: "contacts", Detail: err.Error(), Fix: "check the line names against gpioinfo and the gpio group"}}
		}
		defer src.Close()
		// Only the levels matter here: a Sample that does not decode yet (no
		// floor line seen) is the state machine's business.
		levels, _, _ := src.Signals(ctx)
		return []check{{Name: "contacts", OK: true, Detail: fmt.Sprintf("contact map %s, %d lines read:%s", ctrl.Contacts.Name, len(levels), signalList(levels))}}
	}
	if err != nil {
		return []check{{Name: "serial port", Detail: err.Error(),
			Fix: "check controller.port (ls /dev/serial/by-id/), that the adapter is plugged in, and the dialout group"}}
	}
	defer src.Close()
	out := []check{{Name: "serial port", OK: true, Detail: fmt.Sprintf("%s open, %d baud %d%s%d", cc.Port, cc.Baud, cc.DataBits, cc.Parity, cc.StopBits)}}
	vals, _, err := src.Signals(ctx)
	if err != nil {
		return append(out, check{Name: "controller", Detail: err.Error() + "; " + src.LastExchange(), Fix: src.Hint(err)})
	}
	return append(out, check{Name: "controller", OK: true, Detail: fmt.Sprintf("profile %s, %d signals read:%s", ctrl.Profile.Name, len(vals), signalList(vals))})
}

// signalList is " name=value" for every signal, sorted by name.
func signalList(vals map[string]string) string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(vals)) {
		fmt.Fprintf(&b, " %s=%s", n, vals[n])
	}
	return b.String()
}

// checkBroker walks the path to the receiver step by step: name, TCP, MQTT
// (TLS, credentials, protocol), then a test event and its acknowledgement.
func checkBroker(ctx context.Context, cfg agent.Config, timeout time.Duration) []check {
	u, err := url.Parse(cfg.Uplink.Broker)
	if err != nil {
		return []check{{Name: "broker", Detail: err.Error(), Fix: "correct uplink.broker"}}
	}
	host, port := u.Hostname(), u.Port()
	var out []check
	if net.ParseIP(host) == nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := net.DefaultResolver.LookupHost(dctx, host)
		cancel()
		if err != nil {
			return append(out, check{Name: "broker DNS", Detail: err.Error(), Fix: "check the broker host name and the device's DNS settings"})
		}
		out = append(out, check{Name: "broker DNS", OK: true, Detail: host + " is " + strings.Join(addrs, ", ")})
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 5*time.Second)
	if err != nil {
		fix := "check the network path to the broker and any firewall"
		if errors.Is(err, unix.ECONNREFUSED) {
			fix = "nothing listens there: check uplink.broker's port and that the broker's MQTT listener runs"
		}
		return append(out, check{Name: "broker TCP", Detail: err.Error(), Fix: fix})
	}
	conn.Close()
	out = append(out, check{Name: "broker TCP", OK: true, Detail: net.JoinHostPort(host, port) + " accepts connections"})

	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt, err := uplink.CheckRoundTrip(rctx, cfg.Uplink, cfg.Site, cfg.Cabin)
	var ce *uplink.ConnectError
	switch {
	case errors.As(err, &ce):
		return append(out, check{Name: "broker MQTT", Detail: err.Error(), Fix: ce.Hint})
	case errors.Is(err, uplink.ErrNoAck):
		out = append(out, check{Name: "broker MQTT", OK: true, Detail: "connected over MQTT " + rt.Protocol + ", test event published"})
		return append(out, check{Name: "receiver", Detail: err.Error(), Fix: "start the receiver (or check its logs) and run the doctor again"})
	case err != nil:
		return append(out, check{Name: "broker MQTT", Detail: err.Error(), Fix: "check uplink.* in the config"})
	}
	out = append(out, check{Name: "broker MQTT", OK: true, Detail: "connected over MQTT " + rt.Protocol + ", test event published"})
	return append(out, check{Name: "receiver", OK: true, Detail: fmt.Sprintf("stored the test event (epoch %s) and acknowledged it in %s", rt.Epoch, rt.Latency.Round(time.Millisecond))})
}
