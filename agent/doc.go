// Package agent runs one cabin: it polls the controller through a profile,
// feeds the samples to the cabin state machine, appends the events to the
// durable outbox, drains the outbox over the uplink, and serves the live
// state to the cabin screen. cmd/agent parses flags and calls it.
package agent
