package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/sensors"
)

// probeGPIO shows the level of every contact of a contact map, live, so an
// installer can check the wiring by closing each contact in turn.
func probeGPIO(ctx context.Context, args []string, stdout, stderr io.Writer, open gpio.Opener) int {
	fs := flag.NewFlagSet("agent probe gpio", flag.ContinueOnError)
	fs.SetOutput(stderr)
	contacts := fs.String("contacts", "/usr/share/palier/profiles/contacts/relay-board.yaml", "contact map")
	interval := fs.Duration("interval", 100*time.Millisecond, "how often the lines are read")
	once := fs.Bool("once", false, "print the levels once and exit")
	asJSON := fs.Bool("json", false, "print JSON objects {contact: closed} instead of a table")
	if err := parseArgs(fs, args); err != nil {
		return 2
	}
	ctrl, err := sensors.LoadController(sensors.ControllerConfig{Source: sensors.SourceContacts, Contacts: *contacts})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	r, err := ctrl.Open(sensors.SourceOptions{OpenGPIO: open})
	if err != nil {
		fmt.Fprintf(stderr, "%v\nCheck the line names against `gpioinfo` and that you may use /dev/gpiochip* (the gpio group).\n", err)
		return 1
	}
	defer r.Close()
	var last string
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		levels := r.Levels()
		out := formatLevels(levels, *asJSON)
		if out != last {
			if !*asJSON && !*once {
				fmt.Fprintf(stdout, "--- %s\n", time.Now().Format("15:04:05.000"))
			}
			fmt.Fprint(stdout, out)
			last = out
		}
		if *once {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

// formatLevels prints contacts in a stable order: closed or open.
func formatLevels(levels map[string]bool, asJSON bool) string {
	if asJSON {
		b, _ := json.Marshal(levels) // map keys come out sorted
		return string(b) + "\n"
	}
	names := make([]string, 0, len(levels))
	for n := range levels {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		state := "open"
		if levels[n] {
			state = "CLOSED"
		}
		fmt.Fprintf(&b, "%-28s %s\n", n, state)
	}
	return b.String()
}
