package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"github.com/palier-lifts/palier/agentconfig"
	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// remoteFile is what the agent keeps of the configurations set from a
// distance, in state_dir/remote-config.json: the overlays in effect (or
// pending, across the restart that applies them), the last ones that kept
// the controller link, and the versions it rolled back from.
type remoteFile struct {
	Site  *wire.DesiredConfig `json:"site,omitempty"`
	Cabin *wire.DesiredConfig `json:"cabin,omitempty"`
	// GoodSite and GoodCabin are the last overlays the controller link
	// worked with; a rollback returns to them.
	GoodSite  *wire.DesiredConfig `json:"good_site,omitempty"`
	GoodCabin *wire.DesiredConfig `json:"good_cabin,omitempty"`
	// Probation: Site and Cabin changed what the link depends on while it
	// worked, and have not yet been seen to keep it.
	Probation bool `json:"probation,omitempty"`
	// RolledBack is, per scope, the highest version rolled back from: a
	// retained message of that version is never taken again.
	RolledBack map[string]uint64 `json:"rolled_back,omitempty"`
	// Refused is, per scope, the newest version refused: its retained
	// message, again after a restart, is not refused (and reported) twice.
	Refused map[string]uint64 `json:"refused,omitempty"`
}

func remotePath(stateDir string) string { return filepath.Join(stateDir, "remote-config.json") }

// loadRemote reads the remote configuration file; none is an empty one.
func loadRemote(stateDir string) (remoteFile, error) {
	var f remoteFile
	b, err := os.ReadFile(remotePath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read remote configuration: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return remoteFile{}, fmt.Errorf("remote configuration %s: %w", remotePath(stateDir), err)
	}
	for _, d := range []*wire.DesiredConfig{f.Site, f.Cabin, f.GoodSite, f.GoodCabin} {
		if d == nil {
			continue
		}
		if err := d.Validate(); err != nil {
			return remoteFile{}, fmt.Errorf("remote configuration %s: %w", remotePath(stateDir), err)
		}
	}
	return f, nil
}

// saveRemote keeps f, then removes the received profiles f no longer
// names: the folder never grows past the four a file names.
func saveRemote(stateDir string, f remoteFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode remote configuration: %w", err)
	}
	if err := atomicfile.Write(remotePath(stateDir), b, 0o600); err != nil {
		return fmt.Errorf("save remote configuration: %w", err)
	}
	keep := map[string]bool{}
	for _, d := range []*wire.DesiredConfig{f.Site, f.Cabin, f.GoodSite, f.GoodCabin} {
		if d != nil && d.Config.Controller != nil && d.Config.Controller.Profile != nil {
			keep[profilePath(stateDir, *d.Config.Controller.Profile)] = true
		}
	}
	old, _ := filepath.Glob(filepath.Join(profileDir(stateDir), "*.yaml"))
	for _, p := range old {
		if !keep[p] {
			os.Remove(p) // a leftover costs only its few KiB
		}
	}
	return nil
}

func versionOf(d *wire.DesiredConfig) uint64 {
	if d == nil {
		return 0
	}
	return d.Version
}

// Source says where a value of the effective configuration comes from.
type Source struct {
	Field string // as in the YAML file: events.trip_too_long
	Value string
	From  string // "file", "site v4" or "cabin v2"
}

// settingsOf is the part of c a configuration set from a distance may change.
func settingsOf(c *Config) agentconfig.Settings {
	ev := c.Events
	ev.FaultInfo = nil
	return agentconfig.Settings{
		Events:         ev,
		PollInterval:   c.Controller.PollInterval,
		OutboxMaxBytes: c.Outbox.MaxBytes,
		RateLimit:      c.Uplink.RateLimit,
		LogLevel:       c.LogLevel,
	}
}

// profileDir holds the profiles received, named by their SHA-256: a
// rollback to an earlier profile finds it still there.
func profileDir(stateDir string) string { return filepath.Join(stateDir, "profiles") }

// profilePath is where a received profile's text is kept.
func profilePath(stateDir, text string) string {
	sum := sha256.Sum256([]byte(text))
	return filepath.Join(profileDir(stateDir), hex.EncodeToString(sum[:8])+".yaml")
}

// merge overlays site then cabin over the file's configuration and
// validates the result with the file's rules, returning every problem. A
// received profile is written under state_dir/profiles when write is set;
// else its path is only computed (agent config show, where it was written
// when the configuration was applied).
func merge(file Config, site, cabin *wire.DesiredConfig, write bool) (Config, []Source, error) {
	cfg := file
	s := settingsOf(&file)
	from := map[string]string{}
	var p configfile.Problems
	var errs []error
	for _, d := range []*wire.DesiredConfig{site, cabin} {
		if d == nil {
			continue
		}
		if err := s.Apply(d.Config); err != nil {
			errs = append(errs, configfile.Each(err)...)
		}
		for _, f := range agentconfig.Fields(d.Config) {
			from[f] = d.Scope() + " v" + strconv.FormatUint(d.Version, 10)
		}
	}
	if err := s.Validate(); err != nil {
		errs = append(errs, configfile.Each(err)...)
	}
	cfg.Events = s.Events
	cfg.Controller.PollInterval = s.PollInterval
	cfg.Outbox.MaxBytes = s.OutboxMaxBytes
	cfg.Uplink.RateLimit = s.RateLimit
	cfg.LogLevel = s.LogLevel
	if s.Profile != "" {
		if cfg.Controller.Source != sensors.SourceModbus {
			p.Add(agentconfig.FieldProfile, "this cabin reads %s (controller.source): a register-map profile does not apply", cfg.Controller.Source)
		} else {
			cfg.Controller.Profile = profilePath(cfg.StateDir, s.Profile)
			if write {
				if err := os.MkdirAll(profileDir(cfg.StateDir), 0o750); err != nil {
					return file, nil, fmt.Errorf("keep the received profile: %w", err)
				}
				if err := atomicfile.Write(cfg.Controller.Profile, []byte(s.Profile), 0o640); err != nil {
					return file, nil, fmt.Errorf("keep the received profile: %w", err)
				}
			}
		}
	}
	errs = append(errs, configfile.Each(p.Err())...)
	if len(errs) == 0 {
		// The file's own rules over the whole result: what depends on the
		// rest of the file (a debounce against its max_sample_gap).
		errs = append(errs, configfile.Each(cfg.Validate())...)
	}
	if len(errs) > 0 {
		return file, nil, errors.Join(errs...)
	}
	return cfg, sources(&cfg, from), nil
}

// sources lists the values a configuration set from a distance may
// change, each with where it comes from.
func sources(c *Config, from map[string]string) []Source {
	src := func(field string) string {
		if f, ok := from[field]; ok {
			return f
		}
		return "file"
	}
	e := c.Events
	out := []Source{
		{agentconfig.FieldPollInterval, c.Controller.PollInterval.String(), src(agentconfig.FieldPollInterval)},
		{agentconfig.FieldProfile, c.Controller.Profile, src(agentconfig.FieldProfile)},
		{"events.heartbeat_interval", e.HeartbeatInterval.String(), src("events.heartbeat_interval")},
		{"events.entrapment_after", e.EntrapmentAfter.String(), src("events.entrapment_after")},
		{"events.door_open_too_long", e.DoorOpenTooLong.String(), src("events.door_open_too_long")},
		{"events.trip_too_long", e.TripTooLong.String(), src("events.trip_too_long")},
		{"events.no_movement_with_calls", e.NoMovementWithCalls.String(), src("events.no_movement_with_calls")},
		{"events.standby_after", e.StandbyAfter.String(), src("events.standby_after")},
		{"events.debounce", e.Debounce.String(), src("events.debounce")},
		{"events.max_sample_gap", e.MaxSampleGap.String(), src("events.max_sample_gap")},
		{"events.max_floors_per_second", strconv.FormatFloat(e.MaxFloorsPerSecond, 'g', -1, 64), src("events.max_floors_per_second")},
		{"events.min_floor", strconv.Itoa(e.MinFloor), src("events.min_floor")},
		{"events.max_floor", strconv.Itoa(e.MaxFloor), src("events.max_floor")},
		{"events.floor_levels_mm", fmt.Sprint(e.FloorLevelsMM), src("events.floor_levels_mm")},
		{"events.levelling_tolerance_mm", strconv.FormatInt(e.LevellingToleranceMM, 10), src("events.levelling_tolerance_mm")},
		{agentconfig.FieldOutboxMax, strconv.FormatInt(c.Outbox.MaxBytes, 10), src(agentconfig.FieldOutboxMax)},
		{agentconfig.FieldRateLimit, strconv.FormatFloat(c.Uplink.RateLimit, 'g', -1, 64), src(agentconfig.FieldRateLimit)},
		{agentconfig.FieldLogLevel, c.LogLevel, src(agentconfig.FieldLogLevel)},
	}
	return out
}

// changes compares two effective configurations: the values that changed,
// and whether applying them needs a restart (a new profile is loaded at
// start; the outbox bound is bbolt's file size limit, set when it opens).
func changes(old, cur *Config) (changed []string, restart bool) {
	oe, ce := old.Events, cur.Events
	oe.FaultInfo, ce.FaultInfo = nil, nil
	if !reflect.DeepEqual(oe, ce) {
		changed = append(changed, "events")
	}
	if old.Controller.PollInterval != cur.Controller.PollInterval {
		changed = append(changed, agentconfig.FieldPollInterval)
	}
	if old.Uplink.RateLimit != cur.Uplink.RateLimit {
		changed = append(changed, agentconfig.FieldRateLimit)
	}
	if old.LogLevel != cur.LogLevel {
		changed = append(changed, agentconfig.FieldLogLevel)
	}
	if old.Controller.Profile != cur.Controller.Profile {
		changed = append(changed, agentconfig.FieldProfile)
		restart = true
	}
	if old.Outbox.MaxBytes != cur.Outbox.MaxBytes {
		changed = append(changed, agentconfig.FieldOutboxMax)
		restart = true
	}
	return changed, restart
}

// touchesLink says whether a change could break the controller link, so
// that it is watched for the grace period.
func touchesLink(changed []string) bool {
	for _, c := range changed {
		if c == agentconfig.FieldProfile || c == agentconfig.FieldPollInterval {
			return true
		}
	}
	return false
}

// EffectiveConfig is the configuration an agent with file configuration
// file runs: the file overlaid by the configurations set from a distance
// that it keeps in its state directory, with the source of each value a
// remote configuration may set. The error says why the remote part was
// left out, if it was (the file alone is then returned).
func EffectiveConfig(file Config) (Config, []Source, error) {
	file.setDerived()
	rf, err := loadRemote(file.StateDir)
	if err != nil {
		return file, sources(&file, nil), err
	}
	cfg, src, err := merge(file, rf.Site, rf.Cabin, false)
	if err != nil {
		return file, sources(&file, nil), fmt.Errorf("remote configuration (site v%d, cabin v%d) left out: %w", versionOf(rf.Site), versionOf(rf.Cabin), err)
	}
	return cfg, src, nil
}
