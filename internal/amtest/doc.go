// Package amtest runs a real Prometheus Alertmanager for tests (Debian's
// prometheus-alertmanager), routing every alert to a webhook the test
// holds, quick to group and to send resolutions, and records what the
// webhook receives.
package amtest
