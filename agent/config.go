package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// Config is the agent's YAML configuration (packaging/agent.yaml).
type Config struct {
	// Site and Cabin identify the cabin: [a-z0-9-]+, they become topic parts.
	Site  string `yaml:"site"`
	Cabin string `yaml:"cabin"`
	// StateDir holds the outbox, counters and cached notices.
	StateDir   string           `yaml:"state_dir"`
	Controller ControllerConfig `yaml:"controller"`
	Outbox     OutboxConfig     `yaml:"outbox"`
	Uplink     uplink.Config    `yaml:"uplink"`
	Screen     ScreenConfig     `yaml:"screen"`
	Metrics    MetricsConfig    `yaml:"metrics"`
	// Events holds the thresholds of the cabin state machine, and how often
	// counters and health are reported (events.heartbeat_interval).
	Events   sensors.MachineConfig `yaml:"events"`
	LogLevel string                `yaml:"log_level"`
}

// Controller sources.
const (
	SourceModbus   = "modbus"   // registers over RS-485
	SourceContacts = "contacts" // dry contacts on GPIO lines
)

// ControllerConfig says how the controller is read.
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

// OutboxConfig bounds the durable queue.
type OutboxConfig struct {
	MaxBytes    int64         `yaml:"max_bytes"`
	ResendAfter time.Duration `yaml:"resend_after"`
}

// ScreenConfig is what the display reads: the local socket, and the folder
// of notice media the agent downloads (files named by SHA-256).
type ScreenConfig struct {
	Socket string `yaml:"socket"`
	// MediaDir defaults to state_dir/media.
	MediaDir      string `yaml:"media_dir"`
	MediaMaxBytes int64  `yaml:"media_max_bytes"`
}

// MetricsConfig is the local Prometheus listener; empty disables it.
type MetricsConfig struct {
	Listen string `yaml:"listen"`
}

// DefaultConfig is the configuration every file starts from.
func DefaultConfig() Config {
	return Config{
		StateDir: "/var/lib/palier",
		Controller: ControllerConfig{
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
		},
		Outbox:   OutboxConfig{MaxBytes: 64 << 20, ResendAfter: 2 * time.Minute},
		Uplink:   uplink.DefaultConfig(),
		Screen:   ScreenConfig{Socket: "/run/palier/agent.sock", MediaMaxBytes: 64 << 20},
		Metrics:  MetricsConfig{Listen: "127.0.0.1:9464"},
		Events:   sensors.DefaultMachineConfig(),
		LogLevel: "info",
	}
}

// LoadConfig reads, decodes and validates a config file. The error lists
// every problem found.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(bytes.NewReader(b))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.resolvePaths(filepath.Dir(path))
	cfg.setDerived()
	if errs := cfg.Validate(); len(errs) > 0 {
		return Config{}, fmt.Errorf("config %s: %w", path, errors.Join(errs...))
	}
	return cfg, nil
}

// ParseConfig decodes YAML over the defaults. An unknown key is an error
// that names it and its line.
func ParseConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, yamlError(err)
	}
	return cfg, nil
}

// yamlError turns yaml.v3's list of problems into one error per problem.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("decode YAML: %w", err)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, e := range te.Errors {
		errs = append(errs, errors.New(strings.Replace(e, "not found in type", "is not a known key of", 1)))
	}
	return errors.Join(errs...)
}

// setDerived fills the defaults that follow other fields.
func (c *Config) setDerived() {
	if c.Screen.MediaDir == "" {
		c.Screen.MediaDir = filepath.Join(c.StateDir, "media")
	}
}

// resolvePaths makes relative paths relative to the config file's folder.
func (c *Config) resolvePaths(dir string) {
	for _, p := range []*string{&c.StateDir, &c.Controller.Profile, &c.Controller.Contacts, &c.Uplink.PasswordFile, &c.Uplink.TLS.CAFile, &c.Uplink.TLS.CertFile, &c.Uplink.TLS.KeyFile, &c.Screen.MediaDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Validate returns every problem, each naming its field.
func (c *Config) Validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if err := wire.ValidateID(c.Site); err != nil {
		bad("site", "%v", err)
	}
	if err := wire.ValidateID(c.Cabin); err != nil {
		bad("cabin", "%v", err)
	}
	if c.StateDir == "" {
		bad("state_dir", "missing")
	}
	cc := c.Controller
	switch cc.Source {
	case SourceModbus:
		errs = append(errs, cc.validateModbus()...)
	case SourceContacts:
		if cc.Contacts == "" {
			bad("controller.contacts", "missing (the contact map of the GPIO wiring)")
		} else if _, err := os.Stat(cc.Contacts); err != nil {
			bad("controller.contacts", "%v", err)
		}
	default:
		bad("controller.source", "%q (want modbus or contacts)", cc.Source)
	}
	if cc.PollInterval < 10*time.Millisecond || cc.PollInterval > time.Minute {
		bad("controller.poll_interval", "%s out of range (10ms to 1m)", cc.PollInterval)
	}
	if c.Outbox.MaxBytes < 1<<20 {
		bad("outbox.max_bytes", "%d is under 1 MiB", c.Outbox.MaxBytes)
	}
	if c.Outbox.ResendAfter < time.Second {
		bad("outbox.resend_after", "%s is under 1s", c.Outbox.ResendAfter)
	}
	errs = append(errs, c.Uplink.Validate("uplink.")...)
	if c.Screen.Socket == "" {
		bad("screen.socket", "missing")
	}
	if c.Screen.MediaMaxBytes < 1<<20 {
		bad("screen.media_max_bytes", "%d is under 1 MiB", c.Screen.MediaMaxBytes)
	}
	if err := c.Events.Validate(); err != nil {
		bad("events", "%v", err)
	} else if c.Events.HeartbeatInterval < time.Second {
		bad("events.heartbeat_interval", "%s is under 1s", c.Events.HeartbeatInterval)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q (want debug, info, warn or error)", c.LogLevel)
	}
	return errs
}

// validateModbus checks what the modbus source needs.
func (cc ControllerConfig) validateModbus() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("controller.%s: %s", field, fmt.Sprintf(format, args...)))
	}
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
	return errs
}
