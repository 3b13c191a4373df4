package gpio

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// Pull names the pull resistor of a line.
type Pull string

// Pulls.
const (
	PullNone Pull = "none"
	PullUp   Pull = "up"
	PullDown Pull = "down"
	// PullKeep leaves the line as the board or device tree set it.
	PullKeep Pull = ""
)

func (p Pull) periph() (gpio.Pull, error) {
	switch p {
	case PullNone:
		return gpio.Float, nil
	case PullUp:
		return gpio.PullUp, nil
	case PullDown:
		return gpio.PullDown, nil
	case PullKeep:
		return gpio.PullNoChange, nil
	}
	return 0, fmt.Errorf("pull %q (want up, down or none)", string(p))
}

// InputConfig describes one contact.
type InputConfig struct {
	Line      string        // GPIO line name, e.g. "GPIO17"
	Pull      Pull          // default: leave as is
	ActiveLow bool          // the contact is "on" when the line reads low
	Debounce  time.Duration // 0: every read is taken as is
}

// ErrNoLine means no GPIO line has the configured name.
var ErrNoLine = errors.New("gpio: no such line")

// Opener finds lines; Open is the one for real hardware.
type Opener func(name string) (gpio.PinIn, error)

// Host loads periph's host drivers once and opens lines by name; the zero
// value is ready to use.
type Host struct {
	once sync.Once
	err  error
}

// Open finds a line by name through periph's registry, after loading the
// host drivers (the GPIO character device driver on Linux).
func (h *Host) Open(name string) (gpio.PinIn, error) {
	h.once.Do(func() {
		if _, err := host.Init(); err != nil {
			h.err = fmt.Errorf("init periph host drivers: %w", err)
		}
	})
	if h.err != nil {
		return nil, fmt.Errorf("open line %s: %w", name, h.err)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("open line %s: %w", name, ErrNoLine)
	}
	return p, nil
}

// Input is a debounced contact.
type Input struct {
	cfg  InputConfig
	pin  gpio.PinIn
	init bool
	on   bool      // the accepted (debounced) state
	cand bool      // the state being confirmed
	from time.Time // when cand was first read
}

// NewInput sets the line up as an input with the configured pull.
func NewInput(pin gpio.PinIn, cfg InputConfig) (*Input, error) {
	pull, err := cfg.Pull.periph()
	if err != nil {
		return nil, fmt.Errorf("line %s: %w", cfg.Line, err)
	}
	if cfg.Debounce < 0 {
		return nil, fmt.Errorf("line %s: negative debounce %v", cfg.Line, cfg.Debounce)
	}
	if err := pin.In(pull, gpio.NoEdge); err != nil {
		return nil, fmt.Errorf("set line %s as input: %w", cfg.Line, err)
	}
	return &Input{cfg: cfg, pin: pin}, nil
}

// Raw reads the contact now, polarity applied, without debouncing.
func (in *Input) Raw() bool {
	return bool(in.pin.Read()) != in.cfg.ActiveLow
}

// Read reads the contact at time now and returns its debounced state: a
// change is accepted once it has been read unchanged for the debounce
// time. The first read is accepted as is.
func (in *Input) Read(now time.Time) bool {
	v := in.Raw()
	switch {
	case !in.init:
		in.init, in.on, in.cand, in.from = true, v, v, now
	case v == in.on:
		in.cand, in.from = v, now // a bounce back: forget the candidate
	case v != in.cand:
		in.cand, in.from = v, now
		if in.cfg.Debounce == 0 {
			in.on = v
		}
	case now.Sub(in.from) >= in.cfg.Debounce:
		in.on = v
	}
	return in.on
}

// Line is the configured line name.
func (in *Input) Line() string { return in.cfg.Line }

// ParsePull parses a pull name from configuration.
func ParsePull(s string) (Pull, error) {
	p := Pull(strings.ToLower(strings.TrimSpace(s)))
	if _, err := p.periph(); err != nil {
		return "", err
	}
	return p, nil
}
