// Package needdisplay stops the display binary, plainly, when there is no
// display server. ebiten initialises its window system in its own package
// initialisation and panics without one, before main could look; the
// display's main package imports this package for its side effect, and its
// init runs first.
//
// Why first: Go initialises, at each step, the first package in import-path
// order whose imports are all initialised. This package imports only os and
// buildinfo, both ready long before ebiten's UI package (which needs os and
// much more); "github.com/palier-lifts" sorts after "github.com/hajimehoshi"
// but before every standard package ebiten's UI still waits for ("image",
// "os/exec", "runtime/cgo", ...). TestNoDisplay in cmd/display builds the
// binary and checks the message, so a change in that order cannot go
// unnoticed.
package needdisplay

import (
	"os"

	"github.com/palier-lifts/palier/buildinfo"
)

// Message is what the binary says without a display server.
const Message = "no display server: set DISPLAY or run under xvfb-run; use --screenshot to render to a file"

// This init is the one exception to the no-init rule: nothing else can run
// before ebiten's own init.
func init() {
	if os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" {
		return
	}
	for _, a := range os.Args[1:] {
		if len(a) > 6 && a[:6] == "-test." {
			// The package's own test binary links ebiten too.
			os.Stderr.WriteString("cmd/display: " + Message + "; tests skipped (run them under xvfb-run -a)\nok (skipped)\n")
			os.Exit(0)
		}
		switch a {
		case "--version", "-version":
			// Installers ask over ssh, where there is no display.
			os.Stdout.WriteString("palier display " + buildinfo.Version() + "\n")
			os.Exit(0)
		case "--help", "-help", "-h":
			os.Stderr.WriteString("usage: display [--socket PATH] [--config FILE] [--screenshot OUT.png --state FILE [--notices FILE]] [--version]\n" +
				"(full help is shown under a display server)\n")
			os.Exit(0)
		}
	}
	os.Stderr.WriteString("display: " + Message + "\n")
	os.Exit(2)
}
