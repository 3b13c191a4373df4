// Package sdnotify speaks systemd's notification protocol for a Type=notify
// service with WatchdogSec (packaging/systemd/palier-agent.service): Ready
// and Stopping report the service's state, Watchdog feeds the watchdog while
// the caller's Progressing check says the work loop moves. Outside systemd
// NOTIFY_SOCKET is unset and every call is a no-op, so the same binary runs
// by hand, in tests and under the installer's tools.
package sdnotify
