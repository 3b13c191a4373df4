package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/palier-lifts/palier/agentconfig"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// ErrRestart is what Run returns when a configuration set from a distance
// needs the agent to start again (a new profile, a new outbox bound): the
// configuration is saved in the state directory, and the next start runs
// it. cmd/agent exits with RestartExitCode, and systemd starts it again.
var ErrRestart = errors.New("restart to apply the configuration set from a distance")

// RestartExitCode is the exit code of an agent that stops to apply a
// configuration (EX_TEMPFAIL). The unit's Restart=always starts it again;
// a supervisor that restarts only on failure does too, as it is not 0.
const RestartExitCode = 75

// liveSettings are what the poll loop changes without a restart.
type liveSettings struct {
	events       sensors.MachineConfig
	pollInterval time.Duration
}

// remote is the state of the configurations set from a distance; only the
// config loop touches it after New.
type remote struct {
	file    Config     // the local file, the base of every merge
	eff     Config     // what runs now
	rf      remoteFile // what is kept on disk
	refused map[string]uint64
	// probation: the link is watched from since; if no poll succeeds
	// within the grace period, the agent goes back to the last good
	// configuration.
	probation bool
	since     time.Time

	pendingSig chan struct{}
	pending    map[string]wire.DesiredConfig // newest received per scope, guarded by Agent.mu
}

// desired takes a configuration from the uplink (a paho handler): it only
// leaves it for the config loop.
func (a *Agent) desired(d wire.DesiredConfig) {
	a.mu.Lock()
	if cur, ok := a.remote.pending[d.Scope()]; !ok || d.Version > cur.Version {
		a.remote.pending[d.Scope()] = d
	}
	a.mu.Unlock()
	select {
	case a.remote.pendingSig <- struct{}{}:
	default:
	}
}

// startRemote merges what New found on disk over the file, falling back to
// the last good configuration, then to the file alone, if it no longer
// validates (the file changed under it).
func (a *Agent) startRemote(file Config) Config {
	r := &a.remote
	r.file = file
	r.refused = map[string]uint64{}
	r.pending = map[string]wire.DesiredConfig{}
	r.pendingSig = make(chan struct{}, 1)
	rf, err := loadRemote(file.StateDir)
	if err != nil {
		a.logger.Error("remote configuration unreadable: running the file alone", "err", err)
		rf = remoteFile{}
	}
	eff, _, err := merge(file, rf.Site, rf.Cabin, true)
	if err != nil && (rf.GoodSite != nil || rf.GoodCabin != nil) {
		a.logger.Error("remote configuration no longer valid over the file: back to the last good one", "site_version", versionOf(rf.Site), "cabin_version", versionOf(rf.Cabin), "err", err)
		rf.Site, rf.Cabin, rf.Probation = rf.GoodSite, rf.GoodCabin, false
		eff, _, err = merge(file, rf.Site, rf.Cabin, true)
	}
	if err != nil {
		a.logger.Error("remote configuration no longer valid over the file: running the file alone", "err", err)
		rf.Site, rf.Cabin, rf.GoodSite, rf.GoodCabin, rf.Probation = nil, nil, nil, nil, false
		eff = file
	}
	r.rf = rf
	r.eff = eff
	for scope, v := range rf.Refused {
		r.refused[scope] = v
	}
	if rf.Probation {
		r.probation, r.since = true, a.start
	}
	if rf.Site != nil || rf.Cabin != nil {
		a.logger.Info("running a configuration set from a distance", "site_version", versionOf(rf.Site), "cabin_version", versionOf(rf.Cabin), "probation", rf.Probation)
	}
	return eff
}

// configLoop applies the configurations the uplink receives, and watches
// the controller link after a change, until ctx is done or a change needs
// a restart (ErrRestart).
func (a *Agent) configLoop(ctx context.Context) error {
	r := &a.remote
	check := time.NewTicker(min(time.Second, a.cfg.ConfigGrace/4))
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.pendingSig:
			a.mu.Lock()
			var todo []wire.DesiredConfig
			// Site first: a cabin's overlay goes over its site's.
			for _, scope := range []string{wire.ConfigScopeSite, wire.ConfigScopeCabin} {
				if d, ok := r.pending[scope]; ok {
					todo = append(todo, d)
					delete(r.pending, scope)
				}
			}
			a.mu.Unlock()
			for _, d := range todo {
				if err := a.takeDesired(ctx, d); err != nil {
					return err
				}
			}
		case <-check.C:
			if err := a.watchProbation(ctx, time.Now()); err != nil {
				return err
			}
		}
	}
}

// takeDesired merges a received configuration, validates it, and applies
// it live or by a restart, or refuses it with every problem named.
func (a *Agent) takeDesired(ctx context.Context, d wire.DesiredConfig) error {
	r := &a.remote
	scope := d.Scope()
	site, cabin := r.rf.Site, r.rf.Cabin
	cur := site
	if scope == wire.ConfigScopeCabin {
		cur = cabin
	}
	if d.Version <= versionOf(cur) || d.Version <= r.rf.RolledBack[scope] || r.refused[scope] == d.Version {
		return nil // a retained message again, or one given up
	}
	if scope == wire.ConfigScopeSite {
		site = &d
	} else {
		cabin = &d
	}
	eff, _, err := merge(r.file, site, cabin, true)
	if err != nil {
		r.refused[scope] = d.Version
		next := r.rf
		next.Refused = map[string]uint64{}
		for k, v := range r.refused {
			next.Refused[k] = v
		}
		if err := saveRemote(r.file.StateDir, next); err != nil {
			a.logger.Warn("remember the refused configuration", "err", err) // refused again after a restart, no worse
		} else {
			r.rf = next
		}
		problems := agentconfig.Problems(err, wire.MaxConfigProblems, wire.MaxConfigProblemLen)
		a.logger.Warn("configuration set from a distance refused; keeping the one running", "scope", scope, "version", d.Version, "problems", problems)
		a.appendOwn(ctx, wire.TypeConfigRefused, wire.ConfigRefusedData{Scope: scope, Version: d.Version, Problems: problems})
		return nil
	}
	changed, restart := changes(&r.eff, &eff)
	next := r.rf
	if !r.probation {
		// What ran until now kept the link: the one to come back to.
		next.GoodSite, next.GoodCabin = r.rf.Site, r.rf.Cabin
	}
	next.Site, next.Cabin = site, cabin
	watch := touchesLink(changed) && a.linkUp.Load()
	next.Probation = r.probation || watch
	if err := saveRemote(r.file.StateDir, next); err != nil {
		// Not applied: on a restart it would be forgotten half way.
		a.logger.Error("configuration set from a distance not applied", "scope", scope, "version", d.Version, "err", err)
		return nil
	}
	r.rf = next
	a.logger.Info("configuration set from a distance applied", "site_version", versionOf(site), "cabin_version", versionOf(cabin), "changed", changed, "restart", restart)
	a.appendOwn(ctx, wire.TypeConfigApplied, wire.ConfigAppliedData{SiteVersion: versionOf(site), CabinVersion: versionOf(cabin), Restart: restart, Changed: changed})
	if restart {
		return ErrRestart
	}
	if watch {
		r.probation, r.since = true, time.Now()
	}
	a.applyLive(eff)
	return nil
}

// watchProbation ends the watch after a change once a poll succeeded, or
// rolls back when none did within the grace period.
func (a *Agent) watchProbation(ctx context.Context, now time.Time) error {
	r := &a.remote
	if !r.probation {
		return nil
	}
	if last := a.lastPollOK.Load(); last != 0 && time.Unix(0, last).After(r.since) {
		r.probation = false
		next := r.rf
		next.Probation = false
		next.GoodSite, next.GoodCabin = next.Site, next.Cabin
		if err := saveRemote(r.file.StateDir, next); err != nil {
			a.logger.Error("record the configuration as good", "err", err)
		}
		r.rf = next
		a.logger.Info("the controller link works with the configuration set from a distance", "site_version", versionOf(next.Site), "cabin_version", versionOf(next.Cabin))
		return nil
	}
	if now.Sub(r.since) < a.cfg.ConfigGrace {
		return nil
	}
	return a.rollback(ctx, fmt.Sprintf("no answer from the controller for %s after the change (grace %s)", now.Sub(r.since).Round(time.Second), a.cfg.ConfigGrace))
}

// rollback returns to the last good configuration and never takes the
// versions it leaves again.
func (a *Agent) rollback(ctx context.Context, reason string) error {
	r := &a.remote
	from := r.rf
	next := remoteFile{Site: from.GoodSite, Cabin: from.GoodCabin, GoodSite: from.GoodSite, GoodCabin: from.GoodCabin,
		RolledBack: map[string]uint64{}, Refused: from.Refused}
	for k, v := range from.RolledBack {
		next.RolledBack[k] = v
	}
	if versionOf(from.Site) != versionOf(from.GoodSite) {
		next.RolledBack[wire.ConfigScopeSite] = max(next.RolledBack[wire.ConfigScopeSite], versionOf(from.Site))
	}
	if versionOf(from.Cabin) != versionOf(from.GoodCabin) {
		next.RolledBack[wire.ConfigScopeCabin] = max(next.RolledBack[wire.ConfigScopeCabin], versionOf(from.Cabin))
	}
	eff, _, err := merge(r.file, next.Site, next.Cabin, true)
	if err != nil {
		a.logger.Error("the last good configuration no longer validates: back to the file alone", "err", err)
		next.Site, next.Cabin, next.GoodSite, next.GoodCabin = nil, nil, nil, nil
		eff = r.file
	}
	if err := saveRemote(r.file.StateDir, next); err != nil {
		a.logger.Error("roll back the configuration set from a distance", "err", err)
		return nil // tried again at the next check
	}
	r.rf, r.probation = next, false
	a.logger.Error("configuration set from a distance rolled back", "reason", reason,
		"from_site", versionOf(from.Site), "from_cabin", versionOf(from.Cabin), "to_site", versionOf(next.Site), "to_cabin", versionOf(next.Cabin))
	a.appendOwn(ctx, wire.TypeConfigRolledBack, wire.ConfigRolledBackData{
		FromSite: versionOf(from.Site), FromCabin: versionOf(from.Cabin),
		SiteVersion: versionOf(next.Site), CabinVersion: versionOf(next.Cabin), Reason: reason,
	})
	if _, restart := changes(&r.eff, &eff); restart {
		return ErrRestart
	}
	a.applyLive(eff)
	return nil
}

// applyLive changes what can change while the agent runs: the log level
// and rate limit here, the thresholds and poll interval in the poll loop.
func (a *Agent) applyLive(eff Config) {
	a.remote.eff = eff
	if a.cfg.Level != nil {
		var l slog.Level
		if l.UnmarshalText([]byte(eff.LogLevel)) == nil {
			a.cfg.Level.Set(l)
		}
	}
	a.up.SetRateLimit(eff.Uplink.RateLimit)
	ls := liveSettings{events: eff.Events, pollInterval: eff.Controller.PollInterval}
	for {
		select {
		case a.live <- ls:
			return
		default:
		}
		select {
		case <-a.live:
		default:
		}
	}
}

// appendOwn records one of the agent's own events, from any goroutine: it
// carries no counters (the poll loop owns the machine).
func (a *Agent) appendOwn(ctx context.Context, typ string, data any) {
	ev, err := wire.NewEvent(time.Now(), typ, data)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(ev); err == nil {
			_, err = a.ob.Append(ctx, outbox.ClassOf(typ), b)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			a.logger.Error("append event", "type", typ, "err", err)
		}
		return
	}
	a.appended.Add(1)
	a.lastAppend.Store(time.Now().UnixNano())
}
