package agentconfig

import (
	"fmt"
	"strings"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// Settings are the values a desired configuration may set, as the agent's
// file names them.
type Settings struct {
	Events       sensors.MachineConfig
	PollInterval time.Duration
	// Profile is the text of a register-map profile set from a distance;
	// empty: the file's profile (a path) stands.
	Profile        string
	OutboxMaxBytes int64
	RateLimit      float64
	LogLevel       string
}

// Field names, as in the agent's YAML file; Changed and config events use
// them.
const (
	FieldPollInterval = "controller.poll_interval"
	FieldProfile      = "controller.profile"
	FieldOutboxMax    = "outbox.max_bytes"
	FieldRateLimit    = "uplink.rate_limit"
	FieldLogLevel     = "log_level"
)

// MinOutboxBytes is the smallest outbox bound.
const MinOutboxBytes = 1 << 20

// CheckLogLevel is the rule of log_level.
func CheckLogLevel(s string) error {
	switch s {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("%q (want debug, info, warn or error)", s)
}

// CheckOutboxMaxBytes is the rule of outbox.max_bytes.
func CheckOutboxMaxBytes(n int64) error {
	if n < MinOutboxBytes {
		return fmt.Errorf("%d is under 1 MiB", n)
	}
	return nil
}

// CheckEvents is the rule of the events block: the state machine's own
// (sensors.MachineConfig.Validate), and a heartbeat of at least a second.
// Its problems are named under "events".
func CheckEvents(p *configfile.Problems, e sensors.MachineConfig) {
	if err := e.Validate(); err != nil {
		p.Add("events", "%v", err)
	} else if e.HeartbeatInterval < time.Second {
		p.Add("events.heartbeat_interval", "%s is under 1s", e.HeartbeatInterval)
	}
}

// CheckProfile parses a profile's text as the agent loads a profile file:
// strictly, every problem named.
func CheckProfile(text string) error {
	if _, err := sensors.ParseProfile("profile", strings.NewReader(text)); err != nil {
		return err
	}
	return nil
}

// Validate returns every problem of s (configfile.Problems), each naming
// its field.
func (s *Settings) Validate() error {
	var p configfile.Problems
	CheckEvents(&p, s.Events)
	if err := sensors.CheckPollInterval(s.PollInterval); err != nil {
		p.Add(FieldPollInterval, "%v", err)
	}
	if s.Profile != "" {
		if err := CheckProfile(s.Profile); err != nil {
			p.Add(FieldProfile, "%v", err)
		}
	}
	if err := CheckOutboxMaxBytes(s.OutboxMaxBytes); err != nil {
		p.Add(FieldOutboxMax, "%v", err)
	}
	if err := uplink.CheckRateLimit(s.RateLimit); err != nil {
		p.Add(FieldRateLimit, "%v", err)
	}
	if err := CheckLogLevel(s.LogLevel); err != nil {
		p.Add(FieldLogLevel, "%v", err)
	}
	return p.Err()
}

// Apply sets in s what o sets. A duration that does not parse is a
// problem naming its field; every other value is taken as is, for
// Validate to judge.
func (s *Settings) Apply(o wire.ConfigOverlay) error {
	var p configfile.Problems
	dur := func(field string, v *string, dst *time.Duration) {
		if v == nil {
			return
		}
		d, err := wire.ParseConfigDuration(*v)
		if err != nil {
			p.Add(field, "%v", err)
			return
		}
		*dst = d
	}
	if c := o.Controller; c != nil {
		dur(FieldPollInterval, c.PollInterval, &s.PollInterval)
		if c.Profile != nil {
			s.Profile = *c.Profile
		}
	}
	if e := o.Events; e != nil {
		m := &s.Events
		dur("events.heartbeat_interval", e.HeartbeatInterval, &m.HeartbeatInterval)
		dur("events.entrapment_after", e.EntrapmentAfter, &m.EntrapmentAfter)
		dur("events.door_open_too_long", e.DoorOpenTooLong, &m.DoorOpenTooLong)
		dur("events.trip_too_long", e.TripTooLong, &m.TripTooLong)
		dur("events.no_movement_with_calls", e.NoMovementWithCalls, &m.NoMovementWithCalls)
		dur("events.standby_after", e.StandbyAfter, &m.StandbyAfter)
		dur("events.debounce", e.Debounce, &m.Debounce)
		dur("events.max_sample_gap", e.MaxSampleGap, &m.MaxSampleGap)
		if e.MaxFloorsPerSecond != nil {
			m.MaxFloorsPerSecond = *e.MaxFloorsPerSecond
		}
		if e.MinFloor != nil {
			m.MinFloor = *e.MinFloor
		}
		if e.MaxFloor != nil {
			m.MaxFloor = *e.MaxFloor
		}
		if e.FloorLevelsMM != nil {
			m.FloorLevelsMM = append([]int64(nil), e.FloorLevelsMM...)
		}
		if e.LevellingToleranceMM != nil {
			m.LevellingToleranceMM = *e.LevellingToleranceMM
		}
	}
	if o.Outbox != nil && o.Outbox.MaxBytes != nil {
		s.OutboxMaxBytes = *o.Outbox.MaxBytes
	}
	if o.Uplink != nil && o.Uplink.RateLimit != nil {
		s.RateLimit = *o.Uplink.RateLimit
	}
	if o.LogLevel != nil {
		s.LogLevel = *o.LogLevel
	}
	return p.Err()
}

// Fields names the values o sets, as the agent's file names them, in a
// fixed order.
func Fields(o wire.ConfigOverlay) []string {
	var out []string
	set := func(name string, ok bool) {
		if ok {
			out = append(out, name)
		}
	}
	if c := o.Controller; c != nil {
		set(FieldPollInterval, c.PollInterval != nil)
		set(FieldProfile, c.Profile != nil)
	}
	if e := o.Events; e != nil {
		set("events.heartbeat_interval", e.HeartbeatInterval != nil)
		set("events.entrapment_after", e.EntrapmentAfter != nil)
		set("events.door_open_too_long", e.DoorOpenTooLong != nil)
		set("events.trip_too_long", e.TripTooLong != nil)
		set("events.no_movement_with_calls", e.NoMovementWithCalls != nil)
		set("events.standby_after", e.StandbyAfter != nil)
		set("events.debounce", e.Debounce != nil)
		set("events.max_sample_gap", e.MaxSampleGap != nil)
		set("events.max_floors_per_second", e.MaxFloorsPerSecond != nil)
		set("events.min_floor", e.MinFloor != nil)
		set("events.max_floor", e.MaxFloor != nil)
		set("events.floor_levels_mm", e.FloorLevelsMM != nil)
		set("events.levelling_tolerance_mm", e.LevellingToleranceMM != nil)
	}
	set(FieldOutboxMax, o.Outbox != nil && o.Outbox.MaxBytes != nil)
	set(FieldRateLimit, o.Uplink != nil && o.Uplink.RateLimit != nil)
	set(FieldLogLevel, o.LogLevel != nil)
	return out
}

// Defaults are the settings of an agent whose file sets none of them.
func Defaults() Settings {
	return Settings{
		Events:         sensors.DefaultMachineConfig(),
		PollInterval:   sensors.DefaultControllerConfig().PollInterval,
		OutboxMaxBytes: 64 << 20,
		RateLimit:      uplink.DefaultConfig().RateLimit,
		LogLevel:       "info",
	}
}

// CheckOverlay is what the receiver checks before it stores a desired
// configuration: the overlay is well formed (wire) and, over the agent's
// defaults, breaks none of the agent's rules. A cabin checks again over
// its own file, which may still refuse (a debounce longer than the file's
// max_sample_gap, say) and says why in a config_refused event.
func CheckOverlay(o wire.ConfigOverlay) error {
	if err := o.Validate(); err != nil {
		return err
	}
	s := Defaults()
	if err := s.Apply(o); err != nil {
		return err
	}
	return s.Validate()
}

// Problems turns an error of Validate, Apply or CheckOverlay into one line
// per problem, at most max of them, each at most maxLen bytes: the reasons
// of a config_refused event.
func Problems(err error, max, maxLen int) []string {
	var out []string
	for _, e := range configfile.Each(err) {
		for _, line := range strings.Split(e.Error(), "\n") {
			if line == "" {
				continue
			}
			if len(line) > maxLen {
				line = truncate(line, maxLen)
			}
			if len(out) == max {
				out[max-1] = fmt.Sprintf("and more problems (%d shown)", max-1)
				return out
			}
			out = append(out, line)
		}
	}
	return out
}

// truncate cuts s to at most n bytes on a character boundary, marked "…".
func truncate(s string, n int) string {
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
