package sensors

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
)

// Source is what the agent polls: one Sample per reading.
type Source interface {
	Read(ctx context.Context) (Sample, error)
	Close() error
}

// Controller is a controller configuration with its register map (Profile)
// or its contact map (Contacts) loaded, once, for every command.
type Controller struct {
	Config   ControllerConfig
	Profile  *Profile    // the modbus source's register map
	Contacts *ContactMap // the contacts source's wiring
}

// LoadController loads the profile or the contact map cc names. The error
// is the loader's, which names the file.
func LoadController(cc ControllerConfig) (*Controller, error) {
	c := &Controller{Config: cc}
	var err error
	if cc.Source == SourceContacts {
		c.Contacts, err = LoadContactMap(cc.Contacts)
	} else {
		c.Profile, err = LoadProfile(cc.Profile)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Name says what is read, for people: "profile NAME" or "contacts NAME".
func (c *Controller) Name() string {
	if c.Contacts != nil {
		return "contacts " + c.Contacts.Name
	}
	return "profile " + c.Profile.Name
}

// FaultInfo gives a fault code's text and severity from the profile; a
// contact map has none. It is the state machine's MachineConfig.FaultInfo.
func (c *Controller) FaultInfo(code int) (text, severity string) {
	if c.Profile == nil {
		return "", ""
	}
	f, ok := c.Profile.Fault(code)
	if !ok {
		return "", ""
	}
	return f.Text, f.Severity
}

// SourceOptions are how a Controller is opened; the zero value suits the
// installer's tools on the cabin.
type SourceOptions struct {
	// Logger receives the serial port's and the Modbus master's logs; nil
	// discards them.
	Logger *slog.Logger
	// OpenGPIO opens contact lines: periph's host drivers when nil, gpiotest
	// pins in tests.
	OpenGPIO gpio.Opener
	// Now stamps the samples and clocks the contacts' debounce; nil is
	// time.Now.
	Now func() time.Time
	// Resilient opens the serial port on first use and reopens it with
	// backoff when its device goes away (a USB adapter unplugged), so an
	// outage is a lost link, never fatal: the agent's choice. Without it the
	// port is opened now and a failure returned, which is what an installer
	// checking the wiring needs to see.
	Resilient bool
}

// ControllerSource reads the controller through its profile or its contact
// map. It is the one way every command reads the controller.
type ControllerSource struct {
	profile  *ProfileReader
	master   *modbus.Master
	port     interface{ Close() error }
	contacts *ContactReader
}

var _ Source = (*ControllerSource)(nil)

// Open opens the serial port or the contact lines. Its errors are the
// port's or the lines', which name them.
func (c *Controller) Open(opts SourceOptions) (*ControllerSource, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if c.Contacts != nil {
		open := opts.OpenGPIO
		if open == nil {
			open = new(gpio.Host).Open
		}
		r, err := NewContactReader(c.Contacts, open)
		if err != nil {
			return nil, err
		}
		if opts.Now != nil {
			r.Now = opts.Now
		}
		return &ControllerSource{contacts: r}, nil
	}
	cc := c.Config
	portLog := logger.With("component", "serial")
	var port interface {
		modbus.Port
		Close() error
	}
	if opts.Resilient {
		rp, err := serialport.NewResilient(serialport.ResilientConfig{
			Port: cc.SerialConfig(),
			OnChange: func(err error) {
				if err != nil {
					logger.Warn("controller port lost, reopening with backoff", "port", cc.Port, "err", err)
				} else {
					logger.Info("controller port open", "port", cc.Port)
				}
			},
		}, portLog)
		if err != nil {
			return nil, err
		}
		port = rp
	} else {
		p, err := serialport.Open(cc.SerialConfig(), portLog)
		if err != nil {
			return nil, err
		}
		port = p
	}
	master := modbus.NewMaster(port, cc.ModbusConfig(), logger.With("component", "modbus"))
	r := NewProfileReader(c.Profile, master)
	if opts.Now != nil {
		r.Now = opts.Now
	}
	return &ControllerSource{profile: r, master: master, port: port}, nil
}

// Read reads one Sample.
func (s *ControllerSource) Read(ctx context.Context) (Sample, error) {
	if s.contacts != nil {
		return s.contacts.Read(ctx)
	}
	return s.profile.Read(ctx)
}

// Signals reads once and returns every mapped signal as an installer reads
// it (a register's state or number, a contact's "open" or "CLOSED" by
// contact and line), with the Sample decoded from that same reading. The
// map is nil only when the reading itself failed; with contacts, whose
// lines always read, a Sample that did not decode comes with the map.
func (s *ControllerSource) Signals(ctx context.Context) (map[string]string, Sample, error) {
	if s.contacts != nil {
		sample, err := s.contacts.Read(ctx)
		vals := map[string]string{}
		for n, closed := range s.Levels() {
			vals[n] = "open"
			if closed {
				vals[n] = "CLOSED"
			}
		}
		return vals, sample, err
	}
	vals, err := s.profile.Values(ctx)
	if err != nil {
		return nil, Sample{}, err
	}
	out := make(map[string]string, len(vals))
	for n, v := range vals {
		out[n] = formatValue(v)
	}
	sample, err := s.profile.sample(vals)
	return out, sample, err
}

func formatValue(v Value) string {
	if v.State != "" {
		return v.State
	}
	return strconv.FormatFloat(v.Number, 'g', -1, 64)
}

// Levels is the raw level of every contact line, true when closed, by
// contact and line ("alarm (GPIO25)"); nil for a modbus source.
func (s *ControllerSource) Levels() map[string]bool {
	if s.contacts == nil {
		return nil
	}
	return s.contacts.Levels()
}

// Hint says what to check after a failed reading, "" when there is
// nothing more to say.
func (s *ControllerSource) Hint(err error) string {
	if s.contacts != nil {
		return ""
	}
	return modbus.Hint(err)
}

// LastExchange is the last Modbus request and reply, formatted for an
// error message; "" for contacts.
func (s *ControllerSource) LastExchange() string {
	if s.master == nil {
		return ""
	}
	return modbus.FormatExchange(s.master.LastExchange())
}

// Close closes the serial port; contact lines need no closing.
func (s *ControllerSource) Close() error {
	if s.port == nil {
		return nil
	}
	return s.port.Close()
}
