package serialport

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrPortDown is returned while the line is lost (a USB adapter unplugged)
// and the next reopen attempt is not due yet.
var ErrPortDown = errors.New("serial: port down, reopening")

// ResilientConfig tunes reopening.
type ResilientConfig struct {
	Port Config
	// MinBackoff and MaxBackoff bound the wait between reopen attempts;
	// it doubles after each failure. Defaults 200 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time
	// OnChange, if set, is called when the line is lost (err != nil) and
	// when it is back (err == nil). It must not block.
	OnChange func(err error)
}

// ResilientStats counts outages.
type ResilientStats struct {
	Outages      uint64 // times the line was lost
	Reopens      uint64 // successful reopens after an outage
	OpenFailures uint64 // failed open attempts
	Down         bool   // the line is currently lost
}

// Resilient is a Port that survives its device going away: on a read or
// write error it closes the line and reopens it with backoff, reporting
// the outage instead of failing for good. Operations during an outage fail
// fast with ErrPortDown (or the open error), so the bus owner can report
// the link lost and keep polling.
type Resilient struct {
	cfg ResilientConfig
	log *slog.Logger

	mu      sync.Mutex
	p       *Port
	timeout time.Duration
	backoff time.Duration
	next    time.Time // earliest next open attempt
	lastErr error
	st      ResilientStats
}

// NewResilient makes a Resilient port; it opens on first use.
func NewResilient(cfg ResilientConfig, logger *slog.Logger) (*Resilient, error) {
	if err := cfg.Port.Validate(); err != nil {
		return nil, err
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Resilient{cfg: cfg, log: logger.With("port", cfg.Port.Path), backoff: cfg.MinBackoff}, nil
}

// port returns the open line, opening it if an attempt is due.
func (r *Resilient) port() (*Port, error) {
	if r.p != nil {
		return r.p, nil
	}
	now := r.cfg.Now()
	if now.Before(r.next) {
		if r.lastErr != nil {
			return nil, fmt.Errorf("%w (last error: %v)", ErrPortDown, r.lastErr)
		}
		return nil, ErrPortDown
	}
	p, err := Open(r.cfg.Port, r.log)
	if err != nil {
		r.st.OpenFailures++
		r.markDown(err)
		r.next = now.Add(r.backoff)
		r.backoff = min(2*r.backoff, r.cfg.MaxBackoff)
		return nil, err
	}
	if r.timeout > 0 {
		if err := p.SetReadTimeout(r.timeout); err != nil {
			p.Close()
			return nil, err
		}
	}
	if r.st.Down {
		r.st.Down = false
		r.st.Reopens++
		r.log.Info("serial port back")
		if r.cfg.OnChange != nil {
			r.cfg.OnChange(nil)
		}
	}
	r.p, r.lastErr, r.backoff = p, nil, r.cfg.MinBackoff
	return p, nil
}

// lost closes the line after an I/O error and schedules the reopen.
func (r *Resilient) lost(err error) {
	if r.p != nil {
		r.p.Close()
		r.p = nil
	}
	r.next = r.cfg.Now().Add(r.backoff)
	r.backoff = min(2*r.backoff, r.cfg.MaxBackoff)
	r.markDown(err)
}

func (r *Resilient) markDown(err error) {
	r.lastErr = err
	if !r.st.Down {
		r.st.Down = true
		r.st.Outages++
		r.log.Warn("serial port lost; reopening with backoff", "err", err)
		if r.cfg.OnChange != nil {
			r.cfg.OnChange(err)
		}
	}
}

// Read reads from the line (n=0, err=nil on timeout).
func (r *Resilient) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := r.port()
	if err != nil {
		return 0, err
	}
	n, err := p.Read(b)
	if err != nil {
		r.lost(err)
	}
	return n, err
}

// Write writes to the line.
func (r *Resilient) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := r.port()
	if err != nil {
		return 0, err
	}
	n, err := p.Write(b)
	if err != nil && !errors.Is(err, ErrEcho) {
		r.lost(err)
	}
	return n, err
}

// SetReadTimeout sets the read timeout, now and after reopens.
func (r *Resilient) SetReadTimeout(d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timeout = d
	if r.p == nil {
		return nil // applied on reopen
	}
	if err := r.p.SetReadTimeout(d); err != nil {
		r.lost(err)
		return err
	}
	return nil
}

// ResetInputBuffer drops pending input; it is where a request starts, so
// it is also where a lost line gets reopened.
func (r *Resilient) ResetInputBuffer() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := r.port()
	if err != nil {
		return err
	}
	if err := p.ResetInputBuffer(); err != nil {
		r.lost(err)
		return err
	}
	return nil
}

// Stats returns the outage counters.
func (r *Resilient) Stats() ResilientStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// Close closes the line; a later operation would reopen it.
func (r *Resilient) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p == nil {
		return nil
	}
	err := r.p.Close()
	r.p = nil
	return err
}
