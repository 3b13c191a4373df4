package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func testFlagSet() (*flag.FlagSet, *bool, *string, *time.Duration) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	port := fs.String("port", "/dev/ttyPALIER0", "")
	timeout := fs.Duration("timeout", time.Second, "")
	return fs, asJSON, port, timeout
}

func TestParseArgsFlagsAnywhere(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		json    bool
		port    string
		timeout time.Duration
		pos     []string
	}{
		{"flags first", []string{"--json", "--port", "/dev/a", "0:20"}, true, "/dev/a", time.Second, []string{"0:20"}},
		{"flags after the positional", []string{"0:20", "--json", "--port", "/dev/a"}, true, "/dev/a", time.Second, []string{"0:20"}},
		{"flags around positionals", []string{"a", "-port=/dev/b", "b", "--timeout", "2s", "c", "-json"}, true, "/dev/b", 2 * time.Second, []string{"a", "b", "c"}},
		{"a bool flag does not take the next argument", []string{"--json", "0:20"}, true, "/dev/ttyPALIER0", time.Second, []string{"0:20"}},
		{"a bool flag with a value", []string{"0:20", "--json=false"}, false, "/dev/ttyPALIER0", time.Second, []string{"0:20"}},
		{"a value that looks like a flag", []string{"--port", "-", "x"}, false, "-", time.Second, []string{"x"}},
		{"-- ends the flags", []string{"--json", "--", "--port", "-x"}, true, "/dev/ttyPALIER0", time.Second, []string{"--port", "-x"}},
		{"-- after a positional", []string{"a", "--", "--json"}, false, "/dev/ttyPALIER0", time.Second, []string{"a", "--json"}},
		{"a lone dash is positional", []string{"-", "--json"}, true, "/dev/ttyPALIER0", time.Second, []string{"-"}},
		{"nothing", nil, false, "/dev/ttyPALIER0", time.Second, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, asJSON, port, timeout := testFlagSet()
			if err := parseArgs(fs, tc.args); err != nil {
				t.Fatalf("parseArgs(%q): %v", tc.args, err)
			}
			if *asJSON != tc.json || *port != tc.port || *timeout != tc.timeout {
				t.Errorf("parseArgs(%q): json %t, port %q, timeout %s; want %t, %q, %s", tc.args, *asJSON, *port, *timeout, tc.json, tc.port, tc.timeout)
			}
			if got := fs.Args(); !slices.Equal(got, tc.pos) {
				t.Errorf("parseArgs(%q): positionals %q, want %q", tc.args, got, tc.pos)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"0:20", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"0:20", "--port"}, "flag needs an argument: -port"},
		{[]string{"--timeout", "soon", "0:20"}, `invalid value "soon" for flag -timeout`},
	} {
		fs, _, _, _ := testFlagSet()
		err := parseArgs(fs, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseArgs(%q): %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	fs, _, _, _ := testFlagSet()
	if err := parseArgs(fs, []string{"0:20", "-h"}); err != flag.ErrHelp {
		t.Errorf("parseArgs -h: %v, want flag.ErrHelp", err)
	}
}
