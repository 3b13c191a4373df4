package sensors

import (
	"fmt"
	"os"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
)

// Controller sources.
const (
	SourceModbus   = "modbus"   // registers over RS-485
	SourceContacts = "contacts" // dry contacts on GPIO lines
)

// ControllerConfig says how the controller is read: the agent's
// `controller:` block.
type ControllerConfig struct {
	// Source is modbus (default) or contacts.
	Source string `yaml:"source"`
	// Profile is the YAML register map of the controller make (modbus).
	Profile string `yaml:"profile"`
	// Contacts is the YAML contact map of the GPIO wiring (contacts).
	Contacts string `yaml:"contacts"`
	// Port and the line settings are the RS-485 adapter's (modbus).
	Port     string `yaml:"port"`
	Baud     int    `yaml:"baud"`
	DataBits int    `yaml:"data_bits"`
	Parity   string `yaml:"parity"` // N, E or O
	StopBits int    `yaml:"stop_bits"`
	// PollInterval is the time between two readings of the profile.
	PollInterval time.Duration `yaml:"poll_interval"`
	// ResponseTimeout bounds the wait for one Modbus reply.
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// Retries of a request that failed on the line (CRC, timeout).
	Retries int `yaml:"retries"`
	// RS485 asks the kernel driver to drive the transmitter (TIOCSRS485);
	// adapters that switch direction by themselves do not need it.
	RS485 bool `yaml:"rs485"`
	// EchoSuppression discards what an adapter reads back of what it sent.
	EchoSuppression bool `yaml:"echo_suppression"`
}

// DefaultControllerConfig is the simulator's profile on the udev name of
// the RS-485 adapter, with Modbus RTU's usual line settings.
func DefaultControllerConfig() ControllerConfig {
	return ControllerConfig{
		Source:          SourceModbus,
		Profile:         "/usr/share/palier/profiles/palier-sim.yaml",
		Port:            "/dev/ttyPALIER0",
		Baud:            19200,
		DataBits:        8,
		Parity:          "E",
		StopBits:        1,
		PollInterval:    200 * time.Millisecond,
		ResponseTimeout: 250 * time.Millisecond,
		Retries:         2,
	}
}

// SerialConfig is the serial line the configuration describes. It is the
// one place the line settings are copied, so every tool opens the line the
// agent opens.
func (cc ControllerConfig) SerialConfig() serialport.Config {
	return serialport.Config{Path: cc.Port, Baud: cc.Baud, DataBits: cc.DataBits, Parity: cc.Parity, StopBits: cc.StopBits,
		RS485: cc.RS485, EchoSuppression: cc.EchoSuppression}
}

// ModbusConfig is the Modbus master the configuration describes.
func (cc ControllerConfig) ModbusConfig() modbus.Config {
	mcfg := modbus.DefaultConfig()
	mcfg.Baud = cc.Baud
	mcfg.ResponseTimeout = cc.ResponseTimeout
	mcfg.Retries = cc.Retries
	return mcfg
}

// Validate returns every problem (configfile.Problems), each naming its
// field as the YAML block does (port, baud...): the caller says where the
// block sits (configfile.Problems.Nest).
func (cc ControllerConfig) Validate() error {
	var p configfile.Problems
	bad := p.Add
	switch cc.Source {
	case SourceModbus:
		cc.validateModbus(&p)
	case SourceContacts:
		if cc.Contacts == "" {
			bad("contacts", "missing (the contact map of the GPIO wiring)")
		} else if _, err := os.Stat(cc.Contacts); err != nil {
			bad("contacts", "%v", err)
		}
	default:
		bad("source", "%q (want modbus or contacts)", cc.Source)
	}
	if err := CheckPollInterval(cc.PollInterval); err != nil {
		bad("poll_interval", "%v", err)
	}
	return p.Err()
}

// CheckPollInterval is the rule of controller.poll_interval, for the file
// and for a configuration set from a distance alike.
func CheckPollInterval(d time.Duration) error {
	if d < 10*time.Millisecond || d > time.Minute {
		return fmt.Errorf("%s out of range (10ms to 1m)", d)
	}
	return nil
}

// validateModbus checks what the modbus source needs.
func (cc ControllerConfig) validateModbus(p *configfile.Problems) {
	bad := p.Add
	if cc.Profile == "" {
		bad("profile", "missing")
	} else if _, err := os.Stat(cc.Profile); err != nil {
		bad("profile", "%v", err)
	}
	if cc.Port == "" {
		bad("port", "missing")
	}
	switch cc.Baud {
	case 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200:
	default:
		bad("baud", "%d is not a standard rate (1200 to 115200)", cc.Baud)
	}
	if cc.DataBits != 7 && cc.DataBits != 8 {
		bad("data_bits", "%d (want 7 or 8)", cc.DataBits)
	}
	switch cc.Parity {
	case "N", "E", "O":
	default:
		bad("parity", "%q (want N, E or O)", cc.Parity)
	}
	if cc.StopBits != 1 && cc.StopBits != 2 {
		bad("stop_bits", "%d (want 1 or 2)", cc.StopBits)
	}
	if cc.ResponseTimeout < 10*time.Millisecond || cc.ResponseTimeout > 10*time.Second {
		bad("response_timeout", "%s out of range (10ms to 10s)", cc.ResponseTimeout)
	}
	if cc.Retries < 0 || cc.Retries > 10 {
		bad("retries", "%d out of range (0 to 10)", cc.Retries)
	}
}
