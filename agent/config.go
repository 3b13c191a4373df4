package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/palier-lifts/palier/agentconfig"
	"github.com/palier-lifts/palier/configfile"
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
	StateDir   string                   `yaml:"state_dir"`
	Controller sensors.ControllerConfig `yaml:"controller"`
	Outbox     OutboxConfig             `yaml:"outbox"`
	Uplink     uplink.Config            `yaml:"uplink"`
	Screen     ScreenConfig             `yaml:"screen"`
	Metrics    MetricsConfig            `yaml:"metrics"`
	// Events holds the thresholds of the cabin state machine, and how often
	// counters and health are reported (events.heartbeat_interval).
	Events   sensors.MachineConfig `yaml:"events"`
	LogLevel string                `yaml:"log_level"`
	// ConfigGrace is how long the controller link may stay lost after a
	// configuration set from a distance changed how it is read (profile,
	// poll interval) before the agent goes back to the last good one.
	ConfigGrace time.Duration `yaml:"config_grace"`

	// Level, when set, is the level of the caller's log handler: the
	// agent sets it to log_level, and again when a configuration set from
	// a distance changes it.
	Level *slog.LevelVar `yaml:"-"`
}

// OutboxConfig bounds the durable queue.
type OutboxConfig struct {
	// MaxBytes bounds the outbox file on disk (outbox.Options.MaxFileBytes):
	// telemetry then events are evicted to keep their pages within it;
	// safety events may take 1 MiB more, and the file system's last MiB.
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
	// MediaHosts are the hosts notice media may be fetched from ("host" or
	// "host:port"), besides the broker's host, which is always trusted.
	MediaHosts []string `yaml:"media_hosts"`
}

// MediaHosts are the hosts the agent fetches notice media from: the
// broker's (the receiver serves media beside it) and screen.media_hosts.
func (c Config) MediaHosts() []string {
	hosts := slices.Clone(c.Screen.MediaHosts)
	if u, err := url.Parse(c.Uplink.Broker); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}

// MetricsConfig is the local Prometheus listener; empty disables it.
type MetricsConfig struct {
	Listen string `yaml:"listen"`
}

// DefaultConfig is the configuration every file starts from.
func DefaultConfig() Config {
	return Config{
		StateDir:   "/var/lib/palier",
		Controller: sensors.DefaultControllerConfig(),
		Outbox:     OutboxConfig{MaxBytes: 64 << 20, ResendAfter: 2 * time.Minute},
		Uplink:     uplink.DefaultConfig(),
		Screen:     ScreenConfig{Socket: "/run/palier/agent.sock", MediaMaxBytes: 64 << 20},
		Metrics:    MetricsConfig{Listen: "127.0.0.1:9464"},
		Events:     sensors.DefaultMachineConfig(),
		LogLevel:   "info",

		ConfigGrace: 2 * time.Minute,
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
	cfg.Resolve(filepath.Dir(path))
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// maxConfigSize bounds the config file; a real one is a few KiB.
const maxConfigSize = 1 << 20

// ParseConfig decodes YAML over the defaults (configfile.Decode): an
// unknown key is an error that names it and its line; an empty file is the
// defaults.
func ParseConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	if err := configfile.Decode(r, maxConfigSize, &cfg); err != nil && !errors.Is(err, configfile.ErrEmpty) {
		return Config{}, err
	}
	return cfg, nil
}

// Resolve completes a parsed config the way LoadConfig does before
// validating: relative paths become relative to dir, the config file's
// folder, and the defaults that follow other fields are filled.
func (c *Config) Resolve(dir string) {
	c.resolvePaths(dir)
	c.setDerived()
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

// Validate returns every problem (configfile.Problems), each a
// *configfile.FieldError naming its field.
func (c *Config) Validate() error {
	var p configfile.Problems
	bad := p.Add
	if err := wire.ValidateID(c.Site); err != nil {
		bad("site", "%v", err)
	}
	if err := wire.ValidateID(c.Cabin); err != nil {
		bad("cabin", "%v", err)
	}
	if c.StateDir == "" {
		bad("state_dir", "missing")
	}
	p.Nest("controller", c.Controller.Validate())
	if err := agentconfig.CheckOutboxMaxBytes(c.Outbox.MaxBytes); err != nil {
		bad("outbox.max_bytes", "%v", err)
	}
	if c.Outbox.ResendAfter < time.Second {
		bad("outbox.resend_after", "%s is under 1s", c.Outbox.ResendAfter)
	}
	p.Nest("uplink", c.Uplink.Validate())
	if c.Screen.Socket == "" {
		bad("screen.socket", "missing")
	}
	if c.Screen.MediaMaxBytes < 1<<20 {
		bad("screen.media_max_bytes", "%d is under 1 MiB", c.Screen.MediaMaxBytes)
	}
	for i, h := range c.Screen.MediaHosts {
		if u, err := url.Parse("http://" + h); err != nil || h == "" || u.Host != h || u.User != nil {
			bad(fmt.Sprintf("screen.media_hosts[%d]", i), "%q: want a host name or host:port, no scheme or path (e.g. media.palier.example)", h)
		}
	}
	// The rules a configuration set from a distance obeys too.
	agentconfig.CheckEvents(&p, c.Events)
	if err := agentconfig.CheckLogLevel(c.LogLevel); err != nil {
		bad("log_level", "%v", err)
	}
	if c.ConfigGrace < time.Second {
		bad("config_grace", "%s is under 1s", c.ConfigGrace)
	}
	return p.Err()
}
