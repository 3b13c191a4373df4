package serialport

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config describes one serial line.
type Config struct {
	Path     string
	Baud     int    // default 19200
	DataBits int    // default 8
	Parity   string // "N", "E" or "O"; default "E", the Modbus RTU default
	StopBits int    // 1 or 2; default 1
	// ReadTimeout bounds each Read; 0 means 100 ms.
	ReadTimeout time.Duration
	// RS485 asks the kernel driver to drive the transmitter itself
	// (TIOCSRS485, RTS on send). Unsupported drivers are logged only.
	RS485 bool
	// EchoSuppression discards, after each Write, the same number of bytes
	// read back, for adapters that echo what they transmit.
	EchoSuppression bool
	// EchoTimeout bounds the wait for the echo; 0 means 20 characters of
	// wire time plus 50 ms.
	EchoTimeout time.Duration
}

// ErrEcho means the echo read back did not match what was written: the
// line is shared with another talker or the adapter does not echo.
var ErrEcho = errors.New("serial: echo mismatch")

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("serial port: path is empty")
	}
	if c.Baud < 0 || c.Baud > 4_000_000 {
		return fmt.Errorf("serial port %s: baud %d out of range", c.Path, c.Baud)
	}
	if c.DataBits != 0 && (c.DataBits < 5 || c.DataBits > 8) {
		return fmt.Errorf("serial port %s: data bits %d (want 5..8)", c.Path, c.DataBits)
	}
	switch strings.ToUpper(c.Parity) {
	case "", "N", "E", "O":
	default:
		return fmt.Errorf("serial port %s: parity %q (want N, E or O)", c.Path, c.Parity)
	}
	if c.StopBits != 0 && c.StopBits != 1 && c.StopBits != 2 {
		return fmt.Errorf("serial port %s: stop bits %d (want 1 or 2)", c.Path, c.StopBits)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Baud == 0 {
		c.Baud = 19200
	}
	if c.DataBits == 0 {
		c.DataBits = 8
	}
	if c.Parity == "" {
		c.Parity = "E"
	}
	if c.StopBits == 0 {
		c.StopBits = 1
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 100 * time.Millisecond
	}
	if c.EchoTimeout <= 0 {
		c.EchoTimeout = time.Duration(20*11*int64(time.Second)/int64(c.Baud)) + 50*time.Millisecond
	}
	return c
}

// line is the operating system's side of an open serial line: a Read that
// times out returns n=0, err=nil.
type line interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadTimeout(d time.Duration) error
	ResetInputBuffer() error
	Close() error
}

// Port is an open serial line.
type Port struct {
	cfg     Config
	p       line
	log     *slog.Logger
	timeout time.Duration
}

// Open opens the line described by cfg.
func Open(cfg Config, logger *slog.Logger) (*Port, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("port", cfg.Path)
	if cfg.RS485 {
		// Set before go.bug.st/serial takes the line exclusively.
		if err := enableRS485(cfg.Path); err != nil {
			logger.Warn("kernel RS-485 mode unavailable; relying on the adapter's automatic direction control", "err", err)
		}
	}
	p, err := openLine(cfg)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", cfg.Path, err)
	}
	if err := p.SetReadTimeout(cfg.ReadTimeout); err != nil {
		p.Close()
		return nil, fmt.Errorf("set read timeout on %s: %w", cfg.Path, err)
	}
	logger.Debug("serial port open", "baud", cfg.Baud, "data_bits", cfg.DataBits, "parity", cfg.Parity, "stop_bits", cfg.StopBits)
	return &Port{cfg: cfg, p: p, log: logger, timeout: cfg.ReadTimeout}, nil
}

// Config returns the configuration the port was opened with, defaults
// filled in.
func (p *Port) Config() Config { return p.cfg }

// Read reads what has arrived, waiting at most the read timeout; n=0 with
// a nil error means the timeout expired.
func (p *Port) Read(b []byte) (int, error) {
	n, err := p.p.Read(b)
	if err != nil {
		return n, fmt.Errorf("read %s: %w", p.cfg.Path, err)
	}
	return n, nil
}

// Write sends b; with echo suppression it then swallows the echo.
func (p *Port) Write(b []byte) (int, error) {
	n, err := p.p.Write(b)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", p.cfg.Path, err)
	}
	if p.cfg.EchoSuppression {
		if err := p.swallowEcho(b[:n]); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *Port) swallowEcho(sent []byte) error {
	defer p.p.SetReadTimeout(p.timeout)
	echo := make([]byte, 0, len(sent))
	deadline := time.Now().Add(p.cfg.EchoTimeout)
	for len(echo) < len(sent) {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("echo on %s: %d of %d bytes: %w", p.cfg.Path, len(echo), len(sent), ErrEcho)
		}
		if err := p.p.SetReadTimeout(left); err != nil {
			return fmt.Errorf("set read timeout on %s: %w", p.cfg.Path, err)
		}
		n, err := p.p.Read(echo[len(echo):len(sent)])
		if err != nil {
			return fmt.Errorf("read echo on %s: %w", p.cfg.Path, err)
		}
		echo = echo[:len(echo)+n]
	}
	for i := range sent {
		if echo[i] != sent[i] {
			return fmt.Errorf("echo on %s: sent % x, read back % x: %w", p.cfg.Path, sent, echo, ErrEcho)
		}
	}
	return nil
}

// SetReadTimeout changes the bound of the following Reads.
func (p *Port) SetReadTimeout(d time.Duration) error {
	if d <= 0 {
		d = time.Millisecond
	}
	p.timeout = d
	return p.p.SetReadTimeout(d)
}

// ResetInputBuffer drops bytes received and not yet read.
func (p *Port) ResetInputBuffer() error {
	if err := p.p.ResetInputBuffer(); err != nil {
		return fmt.Errorf("flush input of %s: %w", p.cfg.Path, err)
	}
	return nil
}

// Close closes the line.
func (p *Port) Close() error {
	if err := p.p.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p.cfg.Path, err)
	}
	return nil
}
