// Package displaytest lets the screen tests skip cleanly without a display
// server. ebiten panics in its own package initialisation when there is no
// display, before TestMain could check; a test that imports this package
// for its side effect exits first, with a message instead of a panic.
//
// Go initialises a package before any package that is later in import-path
// order and still waiting, once its own imports are ready. This package
// imports only syscall, which ebiten's UI package also needs through os,
// and "github.com/palier-lifts" sorts before "os": so this init runs before
// os, hence before ebiten's. The screen tests exercise that guarantee.
package displaytest

import "syscall"

// This init is the one exception to the no-init rule: nothing else can run
// before ebiten's own init.
func init() {
	for _, k := range []string{"DISPLAY", "WAYLAND_DISPLAY"} {
		if v, ok := syscall.Getenv(k); ok && v != "" {
			return
		}
	}
	msg := "ui/screen: no display server (DISPLAY and WAYLAND_DISPLAY unset): screen tests skipped; run them under xvfb-run -a\nok (skipped)\n"
	syscall.Write(2, []byte(msg))
	syscall.Exit(0)
}
