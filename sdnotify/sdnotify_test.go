package sdnotify

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// notifySocket listens on a real unixgram socket, as systemd does, and
// points NOTIFY_SOCKET at it for the test.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	// t.TempDir paths can pass the 108-byte limit of socket paths.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

// next reads one notification, failing the test after a generous guard.
func next(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

// drain returns the notifications already queued on the socket.
func drain(conn *net.UnixConn) []string {
	var got []string
	buf := make([]byte, 4096)
	for {
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

func TestNotifyReadyAndStopping(t *testing.T) {
	conn := notifySocket(t)
	sent, err := Ready()
	if err != nil || !sent {
		t.Fatalf("Ready = %v, %v; want true, nil", sent, err)
	}
	if got := next(t, conn); got != "READY=1" {
		t.Fatalf("systemd got %q, want READY=1", got)
	}
	sent, err = Stopping()
	if err != nil || !sent {
		t.Fatalf("Stopping = %v, %v; want true, nil", sent, err)
	}
	if got := next(t, conn); got != "STOPPING=1" {
		t.Fatalf("systemd got %q, want STOPPING=1", got)
	}
}

func TestNotifyOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	sent, err := Ready()
	if err != nil || sent {
		t.Fatalf("Ready without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
}

func TestNotifyUnreachableSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	if _, err := Ready(); err == nil {
		t.Fatal("Ready to a missing socket: want an error")
	}
}

// TestWatchdogPingsOnlyWhileAlive runs the watchdog against a real notify
// socket: pings while the loop progresses, none while it is stuck, pings
// again once it recovers, and a clean return on cancel.
func TestWatchdogPingsOnlyWhileAlive(t *testing.T) {
	conn := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "40000") // pings every 20 ms: a fast test, not a timing assertion
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	var healthy atomic.Bool
	var stuckCalls atomic.Int64
	healthy.Store(true)
	alive := func() bool {
		if healthy.Load() {
			return true
		}
		stuckCalls.Add(1)
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watchdog(ctx, slog.New(slog.DiscardHandler), alive) }()

	for i := 0; i < 3; i++ {
		if got := next(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("ping %d: systemd got %q, want WATCHDOG=1", i, got)
		}
	}

	// Stuck: once alive has said no, whatever was sent before is queued;
	// after several more refusals nothing new may have arrived.
	healthy.Store(false)
	waitFor(t, func() bool { return stuckCalls.Load() >= 1 })
	drain(conn)
	waitFor(t, func() bool { return stuckCalls.Load() >= 6 })
	if got := drain(conn); len(got) != 0 {
		t.Fatalf("watchdog pinged while the loop was stuck: %q", got)
	}

	healthy.Store(true)
	if got := next(t, conn); got != "WATCHDOG=1" {
		t.Fatalf("after recovery systemd got %q, want WATCHDOG=1", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watchdog returned %v on cancel, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Watchdog did not return after cancel")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchdogDisabled(t *testing.T) {
	conn := notifySocket(t)
	for name, env := range map[string][2]string{
		"no WATCHDOG_USEC":  {"", ""},
		"another process's": {"40000", strconv.Itoa(os.Getpid() + 1)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", env[0])
			t.Setenv("WATCHDOG_PID", env[1])
			called := false
			// Returns at once: a context that never ends proves it.
			err := Watchdog(context.Background(), slog.New(slog.DiscardHandler), func() bool { called = true; return true })
			if err != nil || called {
				t.Fatalf("Watchdog without a watchdog = %v (alive called: %v); want nil, not called", err, called)
			}
		})
	}
	if got := drain(conn); len(got) != 0 {
		t.Fatalf("disabled watchdog sent %q", got)
	}
}

func TestWatchdogMalformedSettings(t *testing.T) {
	notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "soon")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	err := Watchdog(context.Background(), slog.New(slog.DiscardHandler), func() bool { return true })
	if err == nil {
		t.Fatal("malformed WATCHDOG_USEC: want an error")
	}
	var numErr *strconv.NumError
	if !errors.As(err, &numErr) {
		t.Fatalf("error %v does not wrap the parse error", err)
	}
}

func TestProgressing(t *testing.T) {
	var n atomic.Uint64
	alive := Progressing(n.Load)
	if alive() {
		t.Fatal("no progress since creation, yet alive")
	}
	n.Add(3)
	if !alive() {
		t.Fatal("counter moved, yet not alive")
	}
	if alive() {
		t.Fatal("counter did not move since the last check, yet alive")
	}
	n.Add(1)
	if !alive() {
		t.Fatal("counter moved again, yet not alive")
	}
}
