package wire

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// DesiredConfig is the configuration the receiver wants a site's cabins, or
// one cabin, to run: an overlay over each cabin's local file. The receiver
// publishes it retained at QoS 1 on ConfigTopic (a cabin) or
// SiteConfigTopic (a site); the agent merges file, site then cabin (the
// cabin's values win), validates the result as strictly as its file, and
// reports config_applied, config_refused or config_rolled_back.
//
// Version grows by one per change of a scope (site or cabin): an agent
// never takes a version at or below the one it runs. An empty Config is a
// valid overlay: it returns the scope's values to the file's.
type DesiredConfig struct {
	V     int    `json:"v"`
	Site  string `json:"site"`
	Cabin string `json:"cabin,omitempty"` // empty: the whole site
	// Version is the scope's change number, from 1.
	Version uint64        `json:"version"`
	At      time.Time     `json:"at"`
	By      string        `json:"by,omitempty"` // who set it, for the record
	Config  ConfigOverlay `json:"config"`
}

// ConfigOverlay holds the values a desired configuration sets, named and
// nested as in the agent's YAML file; a field left out keeps the value
// underneath. Durations are Go duration strings ("90s", "2m").
type ConfigOverlay struct {
	Controller *ControllerOverlay `json:"controller,omitempty"`
	Events     *EventsOverlay     `json:"events,omitempty"`
	Outbox     *OutboxOverlay     `json:"outbox,omitempty"`
	Uplink     *UplinkOverlay     `json:"uplink,omitempty"`
	LogLevel   *string            `json:"log_level,omitempty"`
}

// ControllerOverlay: how the controller is read.
type ControllerOverlay struct {
	PollInterval *string `json:"poll_interval,omitempty"`
	// Profile is a whole register-map profile, the YAML document itself
	// (sensors profile format; a few KiB): it travels by value, so the
	// cabin needs nothing else. The agent restarts to load it.
	Profile *string `json:"profile,omitempty"`
}

// EventsOverlay: the thresholds of the cabin state machine (the agent's
// events: block, sensors.MachineConfig).
type EventsOverlay struct {
	HeartbeatInterval    *string  `json:"heartbeat_interval,omitempty"`
	EntrapmentAfter      *string  `json:"entrapment_after,omitempty"`
	DoorOpenTooLong      *string  `json:"door_open_too_long,omitempty"`
	TripTooLong          *string  `json:"trip_too_long,omitempty"`
	NoMovementWithCalls  *string  `json:"no_movement_with_calls,omitempty"`
	StandbyAfter         *string  `json:"standby_after,omitempty"`
	Debounce             *string  `json:"debounce,omitempty"`
	MaxSampleGap         *string  `json:"max_sample_gap,omitempty"`
	MaxFloorsPerSecond   *float64 `json:"max_floors_per_second,omitempty"`
	MinFloor             *int     `json:"min_floor,omitempty"`
	MaxFloor             *int     `json:"max_floor,omitempty"`
	FloorLevelsMM        []int64  `json:"floor_levels_mm,omitempty"`
	LevellingToleranceMM *int64   `json:"levelling_tolerance_mm,omitempty"`
}

// OutboxOverlay: the bound of the durable queue on disk.
type OutboxOverlay struct {
	MaxBytes *int64 `json:"max_bytes,omitempty"`
}

// UplinkOverlay: how fast a backlog drains.
type UplinkOverlay struct {
	RateLimit *float64 `json:"rate_limit,omitempty"`
}

// Bounds of a desired configuration. A profile is a few KiB (the shipped
// ones are 2 KiB); pictures and other files never travel this way.
const (
	MaxDesiredConfigBytes = 64 << 10
	MaxProfileBytes       = 48 << 10
	MaxConfigByLen        = 64
	MaxFloorLevels        = 512
)

// Config scopes, as config events name them.
const (
	ConfigScopeSite  = "site"
	ConfigScopeCabin = "cabin"
)

// Scope is ConfigScopeCabin for a cabin's configuration, else ConfigScopeSite.
func (d *DesiredConfig) Scope() string {
	if d.Cabin != "" {
		return ConfigScopeCabin
	}
	return ConfigScopeSite
}

// DecodeDesiredConfig decodes and checks a desired configuration: its
// envelope, that every field is known and well formed (durations parse,
// sizes within bounds). The values' ranges are the agent's rules
// (package agentconfig), which both the receiver and the agent apply.
func DecodeDesiredConfig(b []byte) (DesiredConfig, error) {
	var d DesiredConfig
	if len(b) > MaxDesiredConfigBytes {
		return d, fmt.Errorf("desired configuration of %d bytes (at most %d): %w", len(b), MaxDesiredConfigBytes, ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return d, err
	}
	if err := decodeStrict(b, &d); err != nil {
		return DesiredConfig{}, err
	}
	if err := d.Validate(); err != nil {
		return DesiredConfig{}, err
	}
	return d, nil
}

// Validate checks a desired configuration, naming the first wrong field.
func (d *DesiredConfig) Validate() error {
	if d.V != Version {
		return fieldErr("v", "%d (want %d)", d.V, Version)
	}
	if err := ValidateID(d.Site); err != nil {
		return fieldErr("site", "%v", err)
	}
	if d.Cabin != "" {
		if err := ValidateID(d.Cabin); err != nil {
			return fieldErr("cabin", "%v", err)
		}
	}
	if d.Version == 0 {
		return fieldErr("version", "0 (versions start at 1)")
	}
	if d.At.IsZero() {
		return fieldErr("at", "missing")
	}
	if err := CheckPersonText(d.By, MaxConfigByLen); err != nil {
		return fieldErr("by", "%v", err)
	}
	if err := d.Config.Validate(); err != nil {
		if fe, ok := err.(*FieldError); ok {
			return &FieldError{Field: "config." + fe.Field, Reason: fe.Reason}
		}
		return err
	}
	return nil
}

// Validate checks that the overlay's values are well formed: durations
// parse, the profile is UTF-8 text within MaxProfileBytes.
func (o *ConfigOverlay) Validate() error {
	for _, d := range o.durations() {
		if *d.v == nil {
			continue
		}
		if _, err := ParseConfigDuration(**d.v); err != nil {
			return fieldErr(d.name, "%v", err)
		}
	}
	if c := o.Controller; c != nil && c.Profile != nil {
		if n := len(*c.Profile); n > MaxProfileBytes || n == 0 {
			return fieldErr("controller.profile", "%d bytes (want 1 to %d: a profile is a few KiB)", n, MaxProfileBytes)
		}
		if !utf8.ValidString(*c.Profile) {
			return fieldErr("controller.profile", "not valid UTF-8")
		}
	}
	if o.LogLevel != nil && len(*o.LogLevel) > 16 {
		return fieldErr("log_level", "%d characters (want debug, info, warn or error)", len(*o.LogLevel))
	}
	if e := o.Events; e != nil && len(e.FloorLevelsMM) > MaxFloorLevels {
		return fieldErr("events.floor_levels_mm", "%d entries (at most %d)", len(e.FloorLevelsMM), MaxFloorLevels)
	}
	return nil
}

// configDuration names one duration field of an overlay and where it is.
type configDuration struct {
	name string
	v    **string
}

// durations lists the duration fields of the blocks present, set or not,
// in a fixed order.
func (o *ConfigOverlay) durations() []configDuration {
	var out []configDuration
	if c := o.Controller; c != nil {
		out = append(out, configDuration{"controller.poll_interval", &c.PollInterval})
	}
	if e := o.Events; e != nil {
		out = append(out,
			configDuration{"events.heartbeat_interval", &e.HeartbeatInterval},
			configDuration{"events.entrapment_after", &e.EntrapmentAfter},
			configDuration{"events.door_open_too_long", &e.DoorOpenTooLong},
			configDuration{"events.trip_too_long", &e.TripTooLong},
			configDuration{"events.no_movement_with_calls", &e.NoMovementWithCalls},
			configDuration{"events.standby_after", &e.StandbyAfter},
			configDuration{"events.debounce", &e.Debounce},
			configDuration{"events.max_sample_gap", &e.MaxSampleGap},
		)
	}
	return out
}

// ParseConfigDuration reads a duration of a desired configuration: a Go
// duration string with a unit ("90s", "1m30s", "200ms").
func ParseConfigDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want a number with a unit, e.g. 90s, 2m, 200ms)", s)
	}
	return d, nil
}

// ConfigTopic is the MQTT topic of a cabin's desired configuration.
func ConfigTopic(site, cabin string) string { return "palier/v1/" + site + "/" + cabin + "/config" }

// SiteConfigTopic is the MQTT topic of a site's desired configuration.
func SiteConfigTopic(site string) string { return "palier/v1/" + site + "/config" }

// ConfigSubject is the NATS subject of a cabin's config topic.
func ConfigSubject(site, cabin string) string { return "palier.v1." + site + "." + cabin + ".config" }

// SiteConfigSubject is the NATS subject of a site's config topic.
func SiteConfigSubject(site string) string { return "palier.v1." + site + ".config" }

// Bounds of a config event's reasons.
const (
	MaxConfigProblems   = 32
	MaxConfigProblemLen = 400
)

// ConfigAppliedData: the cabin now runs the configuration of its file
// overlaid by site version SiteVersion and cabin version CabinVersion (0:
// none). Restart says the agent restarted to apply it (a new profile, the
// outbox bound); Changed names the values that changed.
type ConfigAppliedData struct {
	SiteVersion  uint64   `json:"site_version"`
	CabinVersion uint64   `json:"cabin_version"`
	Restart      bool     `json:"restart,omitempty"`
	Changed      []string `json:"changed,omitempty"`
}

// ConfigRefusedData: the cabin refused version Version of its Scope's
// desired configuration and keeps what it ran; Problems name each field
// that is wrong and why.
type ConfigRefusedData struct {
	Scope    string   `json:"scope"`
	Version  uint64   `json:"version"`
	Problems []string `json:"problems"`
}

// ConfigRolledBackData: the configuration of site version FromSite and
// cabin version FromCabin broke the controller link for longer than the
// grace period; the cabin went back to site version SiteVersion and cabin
// version CabinVersion, the last that worked, and will not take the
// versions it left again.
type ConfigRolledBackData struct {
	FromSite     uint64 `json:"from_site"`
	FromCabin    uint64 `json:"from_cabin"`
	SiteVersion  uint64 `json:"site_version"`
	CabinVersion uint64 `json:"cabin_version"`
	Reason       string `json:"reason"`
}

func (d *ConfigAppliedData) check(uint64, bool) error {
	if len(d.Changed) > MaxConfigProblems {
		return fieldErr("changed", "%d entries (at most %d)", len(d.Changed), MaxConfigProblems)
	}
	return nil
}

func (d *ConfigRefusedData) check(uint64, bool) error {
	if d.Scope != ConfigScopeSite && d.Scope != ConfigScopeCabin {
		return fieldErr("scope", "%q (want site or cabin)", d.Scope)
	}
	if d.Version == 0 {
		return fieldErr("version", "0 (versions start at 1)")
	}
	if len(d.Problems) == 0 || len(d.Problems) > MaxConfigProblems {
		return fieldErr("problems", "%d problems (want 1 to %d)", len(d.Problems), MaxConfigProblems)
	}
	for i, p := range d.Problems {
		if len(p) > MaxConfigProblemLen {
			return fieldErr(fmt.Sprintf("problems[%d]", i), "%d bytes (at most %d)", len(p), MaxConfigProblemLen)
		}
	}
	return nil
}

func (d *ConfigRolledBackData) check(uint64, bool) error {
	if d.Reason == "" {
		return fieldErr("reason", "missing")
	}
	return nil
}
