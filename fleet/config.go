package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// Modes of a run.
const (
	ModeDay   = "day"
	ModeStorm = "storm"
)

// Config of a run.
type Config struct {
	// Cabins is how many cabins to play.
	Cabins int
	// CabinsPerSite groups cabins into sites (buildings); default 4.
	CabinsPerSite int
	// SitePattern and CabinPattern name them: {site} is the site's
	// number, {cabin} the cabin's number within its site, {n} the cabin's
	// number in the fleet (all from 0). Defaults "fleet-{site}" and
	// "c{cabin}". The results must be valid wire ids ([a-z0-9-]).
	SitePattern  string
	CabinPattern string
	// Dir holds one directory per cabin (its outbox, its password file).
	Dir string
	// Profile is the palier-sim register profile
	// (sensors/profiles/palier-sim.yaml).
	Profile string

	// Brokers are the broker URLs; cabin n uses Brokers[n % len].
	Brokers []string
	// Protocol is the uplink's: auto, 3.1.1 or 5; default 3.1.1 (NATS).
	Protocol string
	// UsernamePattern, if set, is each cabin's user name, with the
	// placeholders of CabinPattern and {cabin_id} (the cabin's name).
	UsernamePattern string
	// PasswordPattern is each cabin's password (placeholders as
	// UsernamePattern), written to a file in the cabin's directory for
	// its uplink; or PasswordFilePattern names each cabin's password file.
	PasswordPattern     string
	PasswordFilePattern string
	// CAFile is the CA of the brokers' TLS certificates (ssl:// URLs).
	CAFile string
	// BackoffMin and BackoffMax bound the uplinks' reconnect delay;
	// defaults those of the agent (1 s, 30 s).
	BackoffMin, BackoffMax time.Duration

	// Mode is ModeDay or ModeStorm.
	Mode string
	// Duration is how long the cabins generate, wall clock, storm
	// included; default 1 minute.
	Duration time.Duration
	// TimeFactor is how much faster simulated time runs; default 1.
	TimeFactor float64
	// Tick is how often each cabin catches up with the clock; default 1 s.
	Tick time.Duration
	// PollInterval is how often each cabin's controller is read, in
	// simulated time; default 500 ms (the agent's is 200 ms; the state
	// machine's debounce and plausibility checks hold at both).
	PollInterval time.Duration
	// HeartbeatInterval is the state machine's heartbeat and the health
	// events' interval, in simulated time; default 5 minutes, the agent's.
	HeartbeatInterval time.Duration
	// AlarmRate is the probability per call that a passenger presses the
	// alarm; default 0.002. Faults come with the simulator's day.
	AlarmRate float64
	// Seed makes the cabins' days reproducible (cabin n plays Seed+n).
	Seed uint64
	// ConnectRate is how many cabins start their uplink per second at the
	// beginning (staggered); default 100. Storm reconnects are all at once.
	ConnectRate float64
	// Warmup and Outage shape ModeStorm: the uplinks run for Warmup, stop
	// for Outage, then start again all at once. Defaults 20 s and 30 s.
	Warmup, Outage time.Duration
	// DrainTimeout bounds the wait for every outbox to drain at the end
	// (and, in ModeStorm, for every backlog to be confirmed); default 5
	// minutes.
	DrainTimeout time.Duration
	// OutboxMaxBytes bounds each cabin's outbox file; default 4 MiB.
	OutboxMaxBytes int64
	// ResendAfter is the outboxes' resend delay; default the agent's 2 min.
	ResendAfter time.Duration
	// ProgressEvery is how often a progress line is logged; 0: 10 s.
	ProgressEvery time.Duration
}

// DefaultConfig is a day of 100 cabins against the local broker.
func DefaultConfig() Config {
	return Config{
		Cabins:            100,
		CabinsPerSite:     4,
		SitePattern:       "fleet-{site}",
		CabinPattern:      "c{cabin}",
		Profile:           "sensors/profiles/palier-sim.yaml",
		Brokers:           []string{"tcp://127.0.0.1:1883"},
		Protocol:          uplink.Protocol311,
		BackoffMin:        time.Second,
		BackoffMax:        30 * time.Second,
		Mode:              ModeDay,
		Duration:          time.Minute,
		TimeFactor:        1,
		Tick:              time.Second,
		PollInterval:      500 * time.Millisecond,
		HeartbeatInterval: 5 * time.Minute,
		AlarmRate:         0.002,
		Seed:              1,
		ConnectRate:       100,
		Warmup:            20 * time.Second,
		Outage:            30 * time.Second,
		DrainTimeout:      5 * time.Minute,
		OutboxMaxBytes:    4 << 20,
		ResendAfter:       2 * time.Minute,
		ProgressEvery:     10 * time.Second,
	}
}

// Validate returns every problem found, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Cabins < 1 {
		bad("cabins", "%d, want at least 1", c.Cabins)
	}
	if c.CabinsPerSite < 1 {
		bad("cabins_per_site", "%d, want at least 1", c.CabinsPerSite)
	}
	if c.Dir == "" {
		bad("dir", "missing: the cabins' outboxes live there")
	}
	if len(c.Brokers) == 0 {
		bad("brokers", "none given")
	}
	if c.Mode != ModeDay && c.Mode != ModeStorm {
		bad("mode", "%q unknown (want %s or %s)", c.Mode, ModeDay, ModeStorm)
	}
	if c.Duration <= 0 {
		bad("duration", "%s, want more than 0", c.Duration)
	}
	if c.Mode == ModeStorm && c.Warmup+c.Outage >= c.Duration {
		bad("duration", "%s leaves no time after warm-up %s and outage %s", c.Duration, c.Warmup, c.Outage)
	}
	if c.TimeFactor < 1 || c.TimeFactor > 3600 {
		bad("time_factor", "%g not in 1..3600", c.TimeFactor)
	}
	if c.Tick < 10*time.Millisecond {
		bad("tick", "%s under 10ms", c.Tick)
	}
	// The state machine believes a change seen in two samples past its
	// debounce, and drops floor jumps faster than 2 floors a second.
	if c.PollInterval < 10*time.Millisecond || c.PollInterval > time.Second {
		bad("poll_interval", "%s not in 10ms..1s", c.PollInterval)
	}
	if c.HeartbeatInterval < time.Second {
		bad("heartbeat_interval", "%s under 1s", c.HeartbeatInterval)
	}
	if c.AlarmRate < 0 || c.AlarmRate > 1 {
		bad("alarm_rate", "%g not in 0..1", c.AlarmRate)
	}
	if c.ConnectRate <= 0 {
		bad("connect_rate", "%g, want more than 0", c.ConnectRate)
	}
	if c.OutboxMaxBytes < 1<<20 {
		bad("outbox_max_bytes", "%d under 1 MiB", c.OutboxMaxBytes)
	}
	if c.PasswordPattern != "" && c.PasswordFilePattern != "" {
		bad("password_pattern", "give a password pattern or a password file pattern, not both")
	}
	if (c.PasswordPattern != "" || c.PasswordFilePattern != "") && c.UsernamePattern == "" {
		bad("username_pattern", "missing while a password is given")
	}
	if c.Cabins >= 1 && c.CabinsPerSite >= 1 {
		// The names of the first and the last cabin show a bad pattern.
		for _, n := range []int{0, c.Cabins - 1} {
			id := c.identity(n)
			if err := wire.ValidateID(id.site); err != nil {
				bad("site_pattern", "%q gives %q: %v", c.SitePattern, id.site, err)
			}
			if err := wire.ValidateID(id.cabin); err != nil {
				bad("cabin_pattern", "%q gives %q: %v", c.CabinPattern, id.cabin, err)
			}
		}
		if c.Cabins > 1 && c.identity(0) == c.identity(1) {
			bad("cabin_pattern", "cabins 0 and 1 get the same name %s/%s", c.identity(0).site, c.identity(0).cabin)
		}
	}
	return errors.Join(errs...)
}

// identity is a cabin's place in the fleet and its names.
type identity struct {
	n, siteNo, cabinNo int
	site, cabin        string
}

func (c *Config) identity(n int) identity {
	id := identity{n: n, siteNo: n / c.CabinsPerSite, cabinNo: n % c.CabinsPerSite}
	id.site = id.expand(c.SitePattern)
	id.cabin = id.expand(c.CabinPattern)
	return id
}

// expand replaces the placeholders of a naming pattern.
func (id identity) expand(pattern string) string {
	return strings.NewReplacer(
		"{site}", strconv.Itoa(id.siteNo),
		"{cabin}", strconv.Itoa(id.cabinNo),
		"{n}", strconv.Itoa(id.n),
		"{site_id}", id.site,
		"{cabin_id}", id.cabin,
	).Replace(pattern)
}

// uplinkConfig is cabin id's uplink configuration; a password given by
// pattern is written to a file in dir, since the uplink reads secrets
// from files only.
func (c *Config) uplinkConfig(id identity, dir string) (uplink.Config, error) {
	uc := uplink.DefaultConfig()
	uc.Broker = c.Brokers[id.n%len(c.Brokers)]
	uc.Protocol = c.Protocol
	uc.BackoffMin, uc.BackoffMax = c.BackoffMin, c.BackoffMax
	uc.TLS.CAFile = c.CAFile
	if c.UsernamePattern != "" {
		uc.Username = id.expand(c.UsernamePattern)
	}
	switch {
	case c.PasswordFilePattern != "":
		uc.PasswordFile = id.expand(c.PasswordFilePattern)
	case c.PasswordPattern != "":
		uc.PasswordFile = filepath.Join(dir, "password")
		if err := os.WriteFile(uc.PasswordFile, []byte(id.expand(c.PasswordPattern)), 0o600); err != nil {
			return uc, fmt.Errorf("write password file: %w", err)
		}
	}
	return uc, nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.CabinsPerSite == 0 {
		c.CabinsPerSite = d.CabinsPerSite
	}
	if c.SitePattern == "" {
		c.SitePattern = d.SitePattern
	}
	if c.CabinPattern == "" {
		c.CabinPattern = d.CabinPattern
	}
	if c.Profile == "" {
		c.Profile = d.Profile
	}
	if c.Protocol == "" {
		c.Protocol = d.Protocol
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = d.BackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = d.BackoffMax
	}
	if c.Mode == "" {
		c.Mode = d.Mode
	}
	if c.TimeFactor == 0 {
		c.TimeFactor = d.TimeFactor
	}
	if c.Tick == 0 {
		c.Tick = d.Tick
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.ConnectRate == 0 {
		c.ConnectRate = d.ConnectRate
	}
	if c.Warmup == 0 {
		c.Warmup = d.Warmup
	}
	if c.Outage == 0 {
		c.Outage = d.Outage
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.OutboxMaxBytes == 0 {
		c.OutboxMaxBytes = d.OutboxMaxBytes
	}
	if c.ResendAfter == 0 {
		c.ResendAfter = d.ResendAfter
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = d.ProgressEvery
	}
	return c
}
