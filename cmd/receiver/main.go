// Command receiver is Palier's cloud receiver: it stores every event of the
// fleet once, acknowledges them to the devices, serves the fleet over HTTP
// and sends building notices to the cabin screens.
//
//	receiver [--config FILE]        run (default config: embedded NATS, SQLite)
//	receiver --version              print the version
//	receiver config check FILE      validate a config file and exit
//	receiver users render|check|hash ...   per-device NATS users (see docs/PACKAGING.md)
//	receiver credentials init|trust|issue|service|revoke|rotate ...   cabins' NATS credentials (docs/OPERATIONS.md)
//	receiver accounts add|passwd|remove|list ...   people's accounts (see docs/OPERATIONS.md)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // report time zones on hosts without /usr/share/zoneinfo

	"github.com/palier-lifts/palier/buildinfo"
	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/shutdown"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML); default: built-in defaults")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage:\n  receiver [--config FILE]\n  receiver --version\n  receiver config check FILE\n  receiver users render|check|hash ...\n  receiver credentials init|trust|issue|service|revoke|rotate ...\n  receiver accounts add|passwd|remove|list ...\n  receiver report pdf ...\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "palier receiver", buildinfo.Version())
		return 0
	}
	if rest := fs.Args(); len(rest) > 0 {
		if len(rest) == 3 && rest[0] == "config" && rest[1] == "check" {
			return configCheck(rest[2], stdout, stderr)
		}
		if rest[0] == "users" {
			return users(rest[1:], os.Stdin, stdout, stderr)
		}
		if rest[0] == "credentials" {
			return credentials(rest[1:], stdout, stderr)
		}
		if rest[0] == "accounts" {
			return accounts(context.Background(), rest[1:], os.Stdin, stdout, stderr)
		}
		if rest[0] == "report" {
			return reportCmd(context.Background(), rest[1:], time.Now(), stdout, stderr)
		}
		fmt.Fprintf(stderr, "receiver: unknown command %q\n", rest)
		fs.Usage()
		return 2
	}
	cfg := receiver.DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = receiver.ParseFile(*configPath); err != nil {
			fmt.Fprintln(stderr, "receiver:", err)
			return 1
		}
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "receiver: invalid config:\n%v\n", err)
		return 1
	}
	logger := newLogger(cfg.Log, stderr)

	ctx, stop := shutdown.OnSignal(logger)
	defer stop()
	if err := receiver.Run(ctx, cfg, logger); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("receiver failed", "err", err)
		return 1
	}
	return 0
}

func configCheck(path string, stdout, stderr io.Writer) int {
	cfg, err := receiver.ParseFile(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: invalid config:\n%v\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}

func newLogger(c receiver.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
