package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Port is the bus a Master talks over. hal/serialport.Port fits it.
type Port interface {
	io.Writer
	// Read returns n=0, err=nil when the read timeout expires (the
	// go.bug.st/serial convention): the Master treats it as silence.
	Read(p []byte) (int, error)
	SetReadTimeout(d time.Duration) error
}

// inputFlusher is the optional part of a Port that drops stale input.
type inputFlusher interface {
	ResetInputBuffer() error
}

// Config tunes a Master. Zero fields take the defaults of DefaultConfig,
// except Retries, taken as is (0: no retry; DefaultConfig has 2).
type Config struct {
	// Baud of the line; it sets the 3.5-character silent interval.
	Baud int
	// ResponseTimeout is how long to wait for the first byte of a reply.
	ResponseTimeout time.Duration
	// FrameGap is the silence after which a started frame is considered
	// over. RTU says 1.5 characters, but USB adapters and ptys deliver in
	// bursts, so it is generous: it only matters for frames that are
	// already broken.
	FrameGap time.Duration
	// Retries is how many times a failed request is repeated (timeouts,
	// CRC, short frames, wrong slave, busy slave). 0 means no retry.
	Retries int
	// BusyBackoff is the wait before repeating a request the slave
	// answered with "busy" or "acknowledge".
	BusyBackoff time.Duration
	// SilentSlaveAfter is how many requests in a row a slave may leave
	// unanswered (timeouts after all retries) before it is backed off:
	// its requests then fail at once with ErrSlaveBackedOff, so a dead
	// slave does not eat the bus time of the others. 0 means 3; negative
	// disables backing off.
	SilentSlaveAfter int
	// SlaveBackoff is the first backoff of a silent slave; it doubles up
	// to SlaveBackoffMax while the slave stays silent. Defaults 1 s, 30 s.
	SlaveBackoff, SlaveBackoffMax time.Duration
	// Now and Sleep are the clock; tests may replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultConfig is 19200 baud, 1 s response timeout, 2 retries.
func DefaultConfig() Config {
	return Config{
		Baud:            19200,
		ResponseTimeout: time.Second,
		FrameGap:        50 * time.Millisecond,
		Retries:         2,
		BusyBackoff:     100 * time.Millisecond,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Baud <= 0 {
		c.Baud = d.Baud
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = d.ResponseTimeout
	}
	if c.FrameGap <= 0 {
		c.FrameGap = d.FrameGap
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.BusyBackoff <= 0 {
		c.BusyBackoff = d.BusyBackoff
	}
	if c.SilentSlaveAfter == 0 {
		c.SilentSlaveAfter = 3
	}
	if c.SlaveBackoff <= 0 {
		c.SlaveBackoff = time.Second
	}
	if c.SlaveBackoffMax < c.SlaveBackoff {
		c.SlaveBackoffMax = max(30*time.Second, c.SlaveBackoff)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// sleep is the default Sleep. It runs under m.mu, so one timer serves
// every wait without allocating (Go 1.23 timers: Reset needs no draining).
func (m *Master) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if m.timer == nil {
		m.timer = time.NewTimer(d)
	} else {
		m.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		m.timer.Stop()
		return ctx.Err()
	case <-m.timer.C:
		return nil
	}
}

// Stats counts requests and failures by kind since the Master was made.
type Stats struct {
	Requests    uint64 // attempts sent on the wire, retries included
	Responses   uint64 // good responses decoded into values
	Timeouts    uint64
	ShortFrames uint64
	CRCErrors   uint64
	WrongSlave  uint64
	Malformed   uint64
	Exceptions  uint64
	Retries     uint64
	PortErrors  uint64
	BackedOff   uint64 // requests refused because their slave is backed off
}

// Errors is the sum of all failures.
func (s Stats) Errors() uint64 {
	return s.Timeouts + s.ShortFrames + s.CRCErrors + s.WrongSlave + s.Malformed + s.Exceptions + s.PortErrors
}

type counters struct {
	requests, responses, timeouts, short, crc, wrongSlave, malformed, exceptions, retries, port, backedOff atomic.Uint64
}

// slaveState tracks a slave that stops answering.
type slaveState struct {
	silent  int // requests in a row without any reply
	until   time.Time
	backoff time.Duration
}

// ErrSlaveBackedOff: the slave left several requests in a row unanswered
// and is not asked again until its backoff expires.
var ErrSlaveBackedOff = errors.New("modbus: slave not answering, backed off")

// Exchange is the last request sent and what came back, for installer
// messages ("what was sent, what came back").
type Exchange struct {
	Sent     []byte
	Received []byte
	Err      error
}

// Master is a Modbus RTU master owning one bus. It is safe for concurrent
// use: requests are serialised, as the bus demands.
type Master struct {
	port   Port
	cfg    Config
	log    *slog.Logger
	silent time.Duration

	mu       sync.Mutex
	lastByte time.Time // end of the last bus activity, for the silent interval
	buf      [maxADU]byte
	req      [RequestLen]byte // the request being sent
	timer    *time.Timer      // the default Sleep's
	slaves   map[byte]*slaveState
	last     Exchange

	n counters
}

// NewMaster makes a Master on port.
func NewMaster(port Port, cfg Config, logger *slog.Logger) *Master {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Master{
		port:   port,
		cfg:    cfg,
		log:    logger,
		silent: SilentInterval(cfg.Baud),
		slaves: map[byte]*slaveState{},
	}
	if m.cfg.Sleep == nil {
		m.cfg.Sleep = m.sleep
	}
	return m
}

// LastExchange returns the bytes of the last attempt on the wire.
func (m *Master) LastExchange() Exchange {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Exchange{Sent: append([]byte(nil), m.last.Sent...), Received: append([]byte(nil), m.last.Received...), Err: m.last.Err}
}

// BackedOffUntil reports whether slave is backed off, and until when.
func (m *Master) BackedOffUntil(slave byte) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.slaves[slave]
	if !ok || !m.cfg.Now().Before(st.until) {
		return time.Time{}, false
	}
	return st.until, true
}

// Stats returns the counters.
func (m *Master) Stats() Stats {
	return Stats{
		Requests:    m.n.requests.Load(),
		Responses:   m.n.responses.Load(),
		Timeouts:    m.n.timeouts.Load(),
		ShortFrames: m.n.short.Load(),
		CRCErrors:   m.n.crc.Load(),
		WrongSlave:  m.n.wrongSlave.Load(),
		Malformed:   m.n.malformed.Load(),
		Exceptions:  m.n.exceptions.Load(),
		Retries:     m.n.retries.Load(),
		PortErrors:  m.n.port.Load(),
		BackedOff:   m.n.backedOff.Load(),
	}
}

// ReadHoldingRegisters reads count holding registers (FC03).
func (m *Master) ReadHoldingRegisters(ctx context.Context, slave byte, addr, count uint16) ([]uint16, error) {
	r, err := m.Do(ctx, Request{Slave: slave, Function: ReadHoldingRegisters, Address: addr, Count: count})
	return r.Registers, err
}

// ReadInputRegisters reads count input registers (FC04).
func (m *Master) ReadInputRegisters(ctx context.Context, slave byte, addr, count uint16) ([]uint16, error) {
	r, err := m.Do(ctx, Request{Slave: slave, Function: ReadInputRegisters, Address: addr, Count: count})
	return r.Registers, err
}

// ReadCoils reads count coils (FC01).
func (m *Master) ReadCoils(ctx context.Context, slave byte, addr, count uint16) ([]bool, error) {
	r, err := m.Do(ctx, Request{Slave: slave, Function: ReadCoils, Address: addr, Count: count})
	return r.Bits, err
}

// ReadDiscreteInputs reads count discrete inputs (FC02).
func (m *Master) ReadDiscreteInputs(ctx context.Context, slave byte, addr, count uint16) ([]bool, error) {
	r, err := m.Do(ctx, Request{Slave: slave, Function: ReadDiscreteInputs, Address: addr, Count: count})
	return r.Bits, err
}

// Do sends req, retrying as configured, and returns the decoded response
// or the last error (wrapping one of the package's sentinel errors, an
// *ExceptionError, a port error or the context's error).
func (m *Master) Do(ctx context.Context, req Request) (Response, error) {
	if err := req.Validate(); err != nil {
		return Response{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	frame := appendRequest(m.req[:0], req)
	st := m.slaves[req.Slave]
	if st == nil {
		st = &slaveState{backoff: m.cfg.SlaveBackoff}
		m.slaves[req.Slave] = st
	}
	if now := m.cfg.Now(); now.Before(st.until) {
		m.n.backedOff.Add(1)
		return Response{}, fmt.Errorf("%s slave %d: no reply to %d requests in a row, next try in %s: %w",
			req.Function, req.Slave, st.silent, st.until.Sub(now).Round(time.Millisecond), ErrSlaveBackedOff)
	}
	resp, err := m.attempts(ctx, req, frame)
	switch {
	case err == nil:
		st.silent, st.until, st.backoff = 0, time.Time{}, m.cfg.SlaveBackoff
	case errors.Is(err, ErrTimeout):
		st.silent++
		if m.cfg.SilentSlaveAfter > 0 && st.silent >= m.cfg.SilentSlaveAfter {
			st.until = m.cfg.Now().Add(st.backoff)
			m.log.Warn("modbus slave not answering; backing off", "slave", req.Slave, "silent_requests", st.silent, "backoff", st.backoff)
			st.backoff = min(2*st.backoff, m.cfg.SlaveBackoffMax)
		}
	case errors.Is(err, errPort), ctx.Err() != nil:
	default:
		st.silent = 0 // it answered, even if badly: it is alive
	}
	return resp, err
}

// attempts runs req with its retries.
func (m *Master) attempts(ctx context.Context, req Request, frame []byte) (Response, error) {
	var lastErr error
	for attempt := 0; attempt <= m.cfg.Retries; attempt++ {
		if attempt > 0 {
			m.n.retries.Add(1)
		}
		resp, err := m.once(ctx, req, frame)
		if err == nil {
			m.n.responses.Add(1)
			return resp, nil
		}
		lastErr = fmt.Errorf("%s slave %d address %d count %d: %w", req.Function, req.Slave, req.Address, req.Count, err)
		if ctx.Err() != nil {
			return Response{}, lastErr
		}
		var ex *ExceptionError
		switch {
		case errors.As(err, &ex):
			if !ex.Temporary() {
				return Response{}, lastErr
			}
			if attempt == m.cfg.Retries {
				return Response{}, lastErr
			}
			if err := m.cfg.Sleep(ctx, m.cfg.BusyBackoff); err != nil {
				return Response{}, lastErr
			}
		case errors.Is(err, errPort):
			return Response{}, lastErr
		}
		m.log.Debug("modbus request failed", "slave", req.Slave, "function", byte(req.Function), "address", req.Address, "attempt", attempt+1, "err", err)
	}
	return Response{}, lastErr
}

// errPort marks failures of the port itself (not of the frame): retrying
// on the same port is pointless, the owner must reopen it.
var errPort = errors.New("port")

type portError struct{ err error }

func (e *portError) Error() string          { return e.err.Error() }
func (e *portError) Unwrap() []error        { return []error{e.err, errPort} }
func (m *Master) countPort(err error) error { m.n.port.Add(1); return &portError{err} }

func (m *Master) once(ctx context.Context, req Request, frame []byte) (Response, error) {
	// Keep the bus silent for 3.5 characters after the last activity so
	// the slave sees the start of a new frame.
	if wait := m.lastByte.Add(m.silent).Sub(m.cfg.Now()); wait > 0 {
		if err := m.cfg.Sleep(ctx, wait); err != nil {
			return Response{}, err
		}
	}
	if f, ok := m.port.(inputFlusher); ok {
		// Late bytes of an earlier broken reply must not prefix this one.
		if err := f.ResetInputBuffer(); err != nil {
			return Response{}, m.countPort(fmt.Errorf("flush input: %w", err))
		}
	}
	m.n.requests.Add(1)
	if _, err := m.port.Write(frame); err != nil {
		return Response{}, m.countPort(fmt.Errorf("write request: %w", err))
	}
	got, err := m.receive(ctx, req)
	m.lastByte = m.cfg.Now()
	m.last = Exchange{Sent: append(m.last.Sent[:0], frame...), Received: append(m.last.Received[:0], got...), Err: err}
	if err != nil {
		return Response{}, err
	}
	resp, err := DecodeResponse(req, got)
	if err != nil {
		m.count(err)
		m.last.Err = err
		return Response{}, err
	}
	return resp, nil
}

func (m *Master) count(err error) {
	var ex *ExceptionError
	switch {
	case errors.As(err, &ex):
		m.n.exceptions.Add(1)
	case errors.Is(err, ErrTimeout):
		m.n.timeouts.Add(1)
	case errors.Is(err, ErrShortFrame):
		m.n.short.Add(1)
	case errors.Is(err, ErrCRC):
		m.n.crc.Add(1)
	case errors.Is(err, ErrWrongSlave):
		m.n.wrongSlave.Add(1)
	default:
		m.n.malformed.Add(1)
	}
}

// paceMinBytes is how many bytes of a frame must still be due for receive
// to wait for their wire time before reading again: UART FIFOs hand bytes
// over in bursts of up to 8 or 14, so fewer come in one burst anyway.
const paceMinBytes = 8

// receive reads one response frame: its length comes from its header; a
// frame that stops early ends at FrameGap of silence. On error it returns
// the bytes received so far, for the trace only.
func (m *Master) receive(ctx context.Context, req Request) ([]byte, error) {
	deadline := m.cfg.Now().Add(m.cfg.ResponseTimeout)
	buf := m.buf[:0]
	var last time.Time
	for {
		if err := ctx.Err(); err != nil {
			return buf, err
		}
		now := m.cfg.Now()
		wait := deadline.Sub(now)
		if len(buf) > 0 {
			wait = min(wait, last.Add(m.cfg.FrameGap).Sub(now))
		}
		if wait <= 0 {
			var err error
			if len(buf) == 0 {
				err = fmt.Errorf("after %s: %w", m.cfg.ResponseTimeout, ErrTimeout)
			} else {
				err = fmt.Errorf("%d bytes then silence (% x): %w", len(buf), buf, ErrShortFrame)
				if len(buf) >= 5 {
					// Long enough to judge: a wrong CRC or slave says more.
					if _, derr := DecodeResponse(req, buf); derr != nil && !errors.Is(derr, ErrShortFrame) {
						err = derr
					}
				}
			}
			m.count(err)
			return buf, err
		}
		// Wake up now and then to notice a cancelled context.
		if err := m.port.SetReadTimeout(min(wait, 100*time.Millisecond)); err != nil {
			return buf, m.countPort(fmt.Errorf("set read timeout: %w", err))
		}
		n, err := m.port.Read(m.buf[len(buf):])
		if err != nil {
			return buf, m.countPort(fmt.Errorf("read response: %w", err))
		}
		if n == 0 {
			continue
		}
		buf = m.buf[:len(buf)+n]
		last = m.cfg.Now()
		want := responseLenSoFar(buf)
		if want > 0 && len(buf) >= want {
			return buf, nil // trailing bytes, if any, make DecodeResponse fail
		}
		if len(buf) == len(m.buf) {
			err := fmt.Errorf("no frame in %d bytes: %w", len(buf), ErrMalformed)
			m.count(err)
			return buf, err
		}
		if want-len(buf) >= paceMinBytes {
			// The rest cannot arrive before its wire time: wait it out
			// instead of waking for every burst a UART or USB adapter
			// delivers. Silence is judged from the end of the wait.
			if err := m.cfg.Sleep(ctx, min(WireTime(want-len(buf), m.cfg.Baud), deadline.Sub(last))); err != nil {
				return buf, err
			}
			last = m.cfg.Now()
		}
	}
}
