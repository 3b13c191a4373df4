package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd the service has started (READY=1). It reports
// whether a notification was sent: false, nil outside systemd.
func Ready() (bool, error) {
	sent, err := daemon.SdNotify(false, daemon.SdNotifyReady)
	if err != nil {
		return false, fmt.Errorf("notify systemd ready: %w", err)
	}
	return sent, nil
}

// Stopping tells systemd a clean stop has begun (STOPPING=1), so a
// slow outbox close is not mistaken for a hang.
func Stopping() (bool, error) {
	sent, err := daemon.SdNotify(false, daemon.SdNotifyStopping)
	if err != nil {
		return false, fmt.Errorf("notify systemd stopping: %w", err)
	}
	return sent, nil
}

// Watchdog keeps systemd's watchdog fed until ctx is done. Every half
// WatchdogSec it asks alive whether the poll loop has made progress and
// sends WATCHDOG=1 only if so: a loop stuck for a whole WatchdogSec gets the
// service restarted by systemd (Restart=always). Without a watchdog for this
// process (WATCHDOG_USEC unset, or WATCHDOG_PID another process) it returns
// nil at once. It returns an error only if the watchdog settings are
// malformed; failed sends are logged and retried at the next tick.
func Watchdog(ctx context.Context, logger *slog.Logger, alive func() bool) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("read systemd watchdog settings: %w", err)
	}
	if interval <= 0 {
		return nil
	}
	// Half the interval, as sd_watchdog_enabled(3) advises: one late tick
	// on a loaded board must not cost a restart.
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	logger.Info("systemd watchdog enabled", "interval", interval)
	stalled := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !alive() {
			if !stalled {
				logger.Warn("poll loop made no progress; withholding the systemd watchdog ping", "interval", interval)
			}
			stalled = true
			continue
		}
		if stalled {
			logger.Info("poll loop progressing again")
			stalled = false
		}
		if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
			logger.Warn("systemd watchdog ping failed", "err", err)
		}
	}
}

// Progressing returns an alive func for Watchdog built on a counter that
// the loop increments every round (the agent passes its poll count): it
// reports true when the counter moved since the
// previous call. Failed polls count as progress: an unplugged controller
// is a lost link, reported in telemetry, not a hang to restart for.
func Progressing(count func() uint64) func() bool {
	var mu sync.Mutex
	last := count()
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := count()
		moved := n != last
		last = n
		return moved
	}
}
