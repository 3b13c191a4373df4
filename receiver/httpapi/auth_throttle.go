package httpapi

import (
	"sync"
	"time"
)

// LoginLimits bound failed logins over a sliding window: past PerAccount
// failures for one account, or PerAddress from one client address, logins
// are refused (429) until the oldest failure leaves the window.
type LoginLimits struct {
	PerAccount int
	PerAddress int
	Window     time.Duration
}

// DefaultLoginLimits: five guesses at one account per quarter hour is
// twenty thousand a month, against passwords of twelve characters or more.
// An address gets more, for an office of managers behind one NAT.
var DefaultLoginLimits = LoginLimits{PerAccount: 5, PerAddress: 20, Window: 15 * time.Minute}

// maxThrottleKeys bounds the memory of the counters: past it, keys whose
// failures all left the window are dropped first, then the whole map (a
// flood of names is itself refused per address).
const maxThrottleKeys = 100_000

// throttle counts failures per key. It lives in one receiver's memory:
// with several receivers behind a balancer, each counts on its own
// (docs/SECURITY.md).
type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

func newThrottle() *throttle { return &throttle{fails: map[string][]time.Time{}} }

// recent drops the failures of key older than window and returns the rest.
func (t *throttle) recent(key string, now time.Time, window time.Duration) []time.Time {
	fs := t.fails[key]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= window {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.fails, key)
	} else {
		t.fails[key] = fs
	}
	return fs
}

// wait says how long key must wait: 0 if it has fewer than max failures
// in window.
func (t *throttle) wait(key string, max int, window time.Duration, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	fs := t.recent(key, now, window)
	if len(fs) < max {
		return 0
	}
	return fs[len(fs)-max].Add(window).Sub(now)
}

// fail records a failure of each key at now.
func (t *throttle) fail(now time.Time, window time.Duration, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) >= maxThrottleKeys {
		for k := range t.fails {
			t.recent(k, now, window)
		}
		if len(t.fails) >= maxThrottleKeys {
			clear(t.fails)
		}
	}
	for _, k := range keys {
		t.fails[k] = append(t.recent(k, now, window), now)
	}
}

// reset forgets key's failures (a successful login).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}
