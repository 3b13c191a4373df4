package fleet

import (
	"context"

	"github.com/palier-lifts/palier/agentconfig"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// desired is the uplink's OnDesiredConfig: it keeps the newest of each
// scope for the cabin's next step, and must not block.
func (c *Cabin) desired(d wire.DesiredConfig) {
	slot := &c.siteConfig
	if d.Scope() == wire.ConfigScopeCabin {
		slot = &c.cabinConfig
	}
	for {
		cur := slot.Load()
		if cur != nil && cur.Version >= d.Version {
			return
		}
		if slot.CompareAndSwap(cur, &d) {
			return
		}
	}
}

// applyConfig takes, between two polls, the thresholds of a desired
// configuration newer than the one applied, as the agent does live: the
// machine keeps its state and counters, and a config_applied or
// config_refused event says what happened. Only the events thresholds
// apply here; the fleet has no poll loop of its own to retime.
func (c *Cabin) applyConfig(ctx context.Context) {
	site, cabin := c.siteConfig.Load(), c.cabinConfig.Load()
	sv, cv := versionOf(site), versionOf(cabin)
	if sv == c.appliedSite && cv == c.appliedCabin {
		return
	}
	s := agentconfig.Defaults()
	s.Events = c.baseEvents
	var err error
	for _, d := range []*wire.DesiredConfig{site, cabin} {
		if d != nil && err == nil {
			err = s.Apply(d.Config)
		}
	}
	if err == nil {
		err = s.Validate()
	}
	var ev wire.Event
	if err != nil {
		scope, v := wire.ConfigScopeSite, sv
		if cv != c.appliedCabin {
			scope, v = wire.ConfigScopeCabin, cv
		}
		ev, _ = wire.NewEvent(c.simNow, wire.TypeConfigRefused, wire.ConfigRefusedData{Scope: scope, Version: v,
			Problems: agentconfig.Problems(err, wire.MaxConfigProblems, wire.MaxConfigProblemLen)})
	} else {
		c.machine.SetConfig(s.Events)
		ev, _ = wire.NewEvent(c.simNow, wire.TypeConfigApplied, wire.ConfigAppliedData{SiteVersion: sv, CabinVersion: cv, Changed: []string{"events"}})
	}
	c.appliedSite, c.appliedCabin = sv, cv
	c.configTaken.Store(sv<<32 | cv&0xffffffff)
	c.append(ctx, ev)
}

func versionOf(d *wire.DesiredConfig) uint64 {
	if d == nil {
		return 0
	}
	return d.Version
}

// ConfigVersions are the site and cabin versions of the desired
// configuration the cabin last took (applied or refused).
func (c *Cabin) ConfigVersions() (site, cabin uint64) {
	v := c.configTaken.Load()
	return v >> 32, v & 0xffffffff
}

// Sessions is how many MQTT sessions the cabin's uplink established.
func (c *Cabin) Sessions() uint64 { return c.up.Stats().Connects }

// machineEvents is the fleet's state machine configuration without its
// fault table, the base a desired configuration overlays.
func machineEvents(cfg *Config) sensors.MachineConfig {
	m := sensors.DefaultMachineConfig()
	m.HeartbeatInterval = cfg.HeartbeatInterval
	return m
}
