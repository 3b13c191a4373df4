package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/palier-lifts/palier/agent"
)

// configShow prints the configuration the agent runs: its file overlaid by
// what was set from a distance (kept in the state directory), each value
// that a remote configuration may set with where it comes from.
func configShow(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent config show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfig, "config file")
	if err := parseArgs(fs, args); err != nil || fs.NArg() != 0 {
		return 2
	}
	file, err := agent.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_, sources, err := agent.EffectiveConfig(file)
	if err != nil {
		// The agent does the same: it runs the file alone and says why.
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tVALUE\tSOURCE")
	for _, s := range sources {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Field, s.Value, s.From)
	}
	fmt.Fprintf(tw, "(every other field)\t\tfile %s\n", *path)
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}
