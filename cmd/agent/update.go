package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/buildinfo"
)

// updateStatus prints what the state folder says of agent updates: the
// attempt under way, the helper's request, the new agent's verdict and the
// helper's result (docs/PACKAGING.md, "Agent updates").
func updateStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent update status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfig, "config file (for its state_dir)")
	dir := fs.String("state-dir", "", "state folder (instead of the config's)")
	if err := parseArgs(fs, args); err != nil || fs.NArg() != 0 {
		return 2
	}
	if *dir == "" {
		cfg, err := agent.LoadConfig(*path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		*dir = cfg.StateDir
	}
	st := agent.ReadUpdateStatus(*dir, time.Now())
	line := func(k, v string) { fmt.Fprintf(stdout, "%-12s %s\n", k+":", v) }
	orNone := func(s string) string {
		if s == "" {
			return "none"
		}
		return s
	}
	line("running", buildinfo.Version())
	line("state", *dir)
	if st.Pending != "" {
		line("under way", fmt.Sprintf("%s, requested %s ago", st.Pending, st.PendingSince))
	} else {
		line("under way", "none")
	}
	line("previous", orNone(st.Previous))
	line("not retried", orNone(strings.Join(st.Failed, ", ")))
	if st.Request != "" {
		line("request", fmt.Sprintf("%s (waiting for the helper %s: is palier-agent-update.path active?)", strings.ReplaceAll(st.Request, "\n", " "), st.RequestAge))
	} else {
		line("request", "none")
	}
	line("verdict", orNone(st.Health))
	line("helper", orNone(strings.ReplaceAll(st.Result, "\n", " ")))
	if st.RecordErr != nil {
		fmt.Fprintf(stderr, "update record unreadable: %v\n", st.RecordErr)
		return 1
	}
	return 0
}
