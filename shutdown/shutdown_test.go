package shutdown

import (
	"log/slog"
	"syscall"
	"testing"
	"time"
)

func TestFirstSignalCancels(t *testing.T) {
	ctx, stop := OnSignal(slog.New(slog.DiscardHandler))
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
}

func TestStopTwiceIsSafe(t *testing.T) {
	ctx, stop := OnSignal(slog.New(slog.DiscardHandler))
	stop()
	stop()
	if ctx.Err() == nil {
		t.Fatal("stop did not cancel the context")
	}
}
