// Package shutdown turns the first SIGINT or SIGTERM into cancellation and
// the second into an immediate exit, so a stuck shutdown never holds a
// terminal or systemd hostage. Every Palier binary's main uses it.
package shutdown

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// OnSignal returns a context cancelled by the first signal. Call stop to
// release the signal handler; calling it again does nothing.
func OnSignal(logger *slog.Logger) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			logger.Info("stopping", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case <-ch:
			logger.Error("second signal: exiting now")
			os.Exit(1)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel()
		})
	}
}
