package modbus_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
)

// exchange is one request the device expects and what it answers.
type exchange struct {
	want  string // hex of the expected request
	reply string // hex of the reply; empty: stay silent
}

// playback plays a device on the master side of a pty: it checks each
// request against the script and answers it, and fails the test if a
// scripted exchange was never used (after periph's conntest.Playback).
func playback(t *testing.T, script []exchange, cfg modbus.Config) *modbus.Master {
	t.Helper()
	dev, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	port, err := serialport.Open(serialport.Config{Path: slave.Name(), Baud: 19200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	used := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, ex := range script {
			want, _ := hex.DecodeString(ex.want)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(dev, got); err != nil {
				return
			}
			if !bytes.Equal(got, want) {
				t.Errorf("exchange %d: request % x, want % x", used+1, got, want)
				return
			}
			mu.Lock()
			used++
			mu.Unlock()
			if ex.reply != "" {
				b, _ := hex.DecodeString(ex.reply)
				dev.Write(b)
			}
		}
	}()
	t.Cleanup(func() {
		port.Close()
		dev.Close()
		slave.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if used != len(script) {
			t.Errorf("%d of %d scripted exchanges used", used, len(script))
		}
	})
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = 10 * time.Second // a failure guard only
	}
	cfg.Baud = 19200
	return modbus.NewMaster(port, cfg, nil)
}

const (
	req1   = "010300000001840a" // slave 1, FC03, address 0, count 1
	resp1  = "0103020007f986"   // value 7
	req1b  = "010200000003380b" // slave 1, FC02, address 0, count 3
	resp1b = "01020105618b"     // bits 1,0,1
)

func TestPlaybackRead(t *testing.T) {
	m := playback(t, []exchange{{req1, resp1}, {req1b, resp1b}}, modbus.Config{})
	regs, err := m.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err != nil || len(regs) != 1 || regs[0] != 7 {
		t.Fatalf("registers %v, %v; want [7]", regs, err)
	}
	bits, err := m.ReadDiscreteInputs(context.Background(), 1, 0, 3)
	if err != nil || len(bits) != 3 || !bits[0] || bits[1] || !bits[2] {
		t.Fatalf("bits %v, %v; want [true false true]", bits, err)
	}
}

// Bytes after a complete frame make it malformed; they are flushed before
// the retry, which then reads a clean reply.
func TestTrailingBytesFlushedBeforeRetry(t *testing.T) {
	m := playback(t, []exchange{{req1, resp1 + "deadbeef"}, {req1, resp1}}, modbus.Config{Retries: 1})
	regs, err := m.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err != nil || regs[0] != 7 {
		t.Fatalf("registers %v, %v", regs, err)
	}
	if st := m.Stats(); st.Malformed != 1 || st.Retries != 1 || st.Responses != 1 {
		t.Errorf("stats %+v, want 1 malformed, 1 retry, 1 response", st)
	}
}

// Garbage in front of a reply (line noise at turn-around): never a value.
func TestGarbageBeforeReply(t *testing.T) {
	m := playback(t, []exchange{{req1, "00" + resp1}, {req1, resp1}}, modbus.Config{Retries: 1, FrameGap: 20 * time.Millisecond})
	regs, err := m.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err != nil || regs[0] != 7 {
		t.Fatalf("registers %v, %v", regs, err)
	}
	if st := m.Stats(); st.Errors() != 1 || st.Retries != 1 {
		t.Errorf("stats %+v, want one error and one retry", st)
	}
}

func TestPermanentExceptionNotRetried(t *testing.T) {
	m := playback(t, []exchange{{req1, "018302c0f1"}}, modbus.Config{Retries: 3})
	_, err := m.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	var ex *modbus.ExceptionError
	if !errors.As(err, &ex) || ex.Code != modbus.ExIllegalAddress || ex.Temporary() {
		t.Fatalf("err = %v, want illegal address exception", err)
	}
	if st := m.Stats(); st.Requests != 1 || st.Exceptions != 1 || st.Retries != 0 {
		t.Errorf("stats %+v, want a single attempt", st)
	}
}

// A busy slave is asked again after the configured backoff; the clock is
// injected so the test does not wait it out.
func TestBusyRetriedAfterBackoff(t *testing.T) {
	var slept []time.Duration
	var mu sync.Mutex
	cfg := modbus.Config{Retries: 2, BusyBackoff: time.Hour, Sleep: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}}
	busy := hex.EncodeToString(modbus.EncodeException(1, modbus.ReadHoldingRegisters, modbus.ExSlaveBusy))
	m := playback(t, []exchange{{req1, busy}, {req1, resp1}}, cfg)
	regs, err := m.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err != nil || regs[0] != 7 {
		t.Fatalf("registers %v, %v", regs, err)
	}
	mu.Lock()
	defer mu.Unlock()
	hours := 0
	for _, d := range slept {
		if d == time.Hour {
			hours++
		} else if d > modbus.SilentInterval(19200) {
			t.Errorf("slept %v, more than the silent interval", d)
		}
	}
	if hours != 1 {
		t.Errorf("slept %v, want exactly one busy backoff", slept)
	}
}

// Between two requests the master keeps the bus silent for 3.5 characters.
func TestSilentIntervalKept(t *testing.T) {
	var slept []time.Duration
	var mu sync.Mutex
	cfg := modbus.Config{Sleep: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		time.Sleep(d)
		return nil
	}}
	m := playback(t, []exchange{{req1, resp1}, {req1, resp1}}, cfg)
	for i := 0; i < 2; i++ {
		if _, err := m.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(slept) != 1 || slept[0] <= 0 || slept[0] > modbus.SilentInterval(19200) {
		t.Fatalf("sleeps %v, want one wait within the silent interval %v", slept, modbus.SilentInterval(19200))
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	m := playback(t, []exchange{{req1, ""}}, modbus.Config{ResponseTimeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := m.ReadHoldingRegisters(ctx, 1, 0, 1)
		res <- err
	}()
	// Cancel once the request is on the wire.
	for m.Stats().Requests == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Do did not return after cancel")
	}
}

func TestPortErrorNotRetried(t *testing.T) {
	dev, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	defer slave.Close()
	port, err := serialport.Open(serialport.Config{Path: slave.Name()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	port.Close()
	m := modbus.NewMaster(port, modbus.Config{Retries: 5}, nil)
	_, err = m.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a port error", err)
	}
	if st := m.Stats(); st.PortErrors != 1 || st.Retries != 0 {
		t.Errorf("stats %+v, want one port error, no retry", st)
	}
}
