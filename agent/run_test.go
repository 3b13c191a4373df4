package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// TestRunStopsAndNamesTheFailedPart: the parts run under one owner; when
// an essential one cannot go on (here the controller's lines cannot be
// opened), Run stops every part and returns an error naming it, so that
// systemd restarts the agent and the journal says why, instead of an agent
// that carries on with a part dead (issue 14).
func TestRunStopsAndNamesTheFailedPart(t *testing.T) {
	cfg := contactsConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.SetGPIOOpener(func(name string) (gpio.PinIn, error) { return nil, errors.New("no such line " + name) })
	err = a.Run(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "poll: ") || !strings.Contains(err.Error(), "no such line") {
		t.Fatalf("Run = %v, want an error naming the poll part and its cause", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run waited for the test's deadline instead of stopping every part")
	}
}

// TestRunReturnsNilWhenStopped: a stop asked for is not an error.
func TestRunReturnsNilWhenStopped(t *testing.T) {
	cfg := contactsConfig(t)
	cfg.Controller.PollInterval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.SetGPIOOpener(func(name string) (gpio.PinIn, error) { return &gpiotest.Pin{N: name, L: gpio.High}, nil })
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	for a.Stats().Polls < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after a stop = %v, want nil", err)
	}
}
