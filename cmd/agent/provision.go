package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/palier-lifts/palier/provision"
)

// provisionCmd takes a boot partition's palier.yaml once (provision.Run). The
// unit runs it as root before every start (ExecStartPre=-+…): the agent itself
// runs as palier under ProtectSystem=strict and could write neither
// /etc/palier nor the boot partition.
func provisionCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	boot := fs.String("boot", provision.DefaultBootFile, "provisioning file on the boot partition")
	path := fs.String("config", defaultConfig, "agent config to merge into")
	owner := fs.String("owner", "palier", "user the agent runs as: owns the password file when run as root")
	if err := parseArgs(fs, args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := provision.Run(ctx, provision.Options{BootFile: *boot, ConfigFile: *path, Owner: *owner, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "agent provision: %v\nCorrect the file and run `palier-agent provision` again (or restart palier-agent); nothing was changed.\n", err)
		return 1
	}
	switch res.Status {
	case provision.NoFile:
		fmt.Fprintf(stdout, "%s: no provisioning file, nothing to do\n", *boot)
	case provision.AlreadyDone:
		fmt.Fprintf(stdout, "%s: cabin %s/%s already provisioned, nothing to do\n", *boot, res.Site, res.Cabin)
	case provision.Finished:
		fmt.Fprintf(stdout, "%s: finished an interrupted provisioning; secrets erased from the boot partition\n", *boot)
	default:
		fmt.Fprintf(stdout, "%s: provisioned cabin %s/%s; wrote %s; secrets erased from the boot partition\n",
			*boot, res.Site, res.Cabin, strings.Join(res.Written, ", "))
	}
	return 0
}
