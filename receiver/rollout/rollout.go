package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Publisher sends a cabin its desired version, retained.
type Publisher interface {
	PublishUpdate(ctx context.Context, u wire.Update) error
}

// Store is what the controller needs of the receiver's store.
type Store interface {
	store.Rollouts
	Cabins(ctx context.Context) ([]store.Cabin, error)
	Cabin(ctx context.Context, site, cabin string) (store.Cabin, error)
	Events(ctx context.Context, q store.EventQuery) (store.EventPage, error)
}

// Defaults.
const (
	DefaultInterval = 10 * time.Second
	// DefaultResultTimeout is how long a told cabin may take to report:
	// the helper waits 5 minutes for a verdict and the agent 30 for the
	// helper; past this the cabin counts as failed (an offline cabin
	// still updates when it comes back, and its event is kept).
	DefaultResultTimeout = time.Hour
	DefaultStep          = 10
	MaxWaveCabins        = 100000
)

// Controller runs the waves.
type Controller struct {
	st  Store
	pub Publisher
	log *slog.Logger
	// Clock, ResultTimeout: time.Now, DefaultResultTimeout unless set
	// before Run.
	Clock         func() time.Time
	ResultTimeout time.Duration

	stepMu sync.Mutex // one Step at a time: the loop's and a caller's
}

// New makes a controller.
func New(st Store, pub Publisher, logger *slog.Logger) *Controller {
	return &Controller{st: st, pub: pub, log: logger, Clock: time.Now, ResultTimeout: DefaultResultTimeout}
}

// Request is what an admin asks for. Cabins, or Percent of Site's cabins
// (of the fleet's when Site is empty).
type Request struct {
	Version     string   `json:"version"`
	Channel     string   `json:"channel"`
	Cabins      []string `json:"cabins,omitempty"` // "site/cabin"
	Site        string   `json:"site,omitempty"`
	Percent     int      `json:"percent,omitempty"`
	MaxFailures int      `json:"max_failures"`
	// Step is how many cabins are told at once, the next ones only as
	// these report (default DefaultStep).
	Step int `json:"step,omitempty"`
}

// FieldError names what is wrong in a request.
type FieldError struct{ Field, Reason string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Create checks a request, chooses its cabins and stores the wave; Run
// tells them.
func (c *Controller) Create(ctx context.Context, r Request, by string) (store.Wave, error) {
	if err := wire.ValidateVersion(r.Version); err != nil {
		return store.Wave{}, &FieldError{"version", err.Error()}
	}
	if err := wire.ValidateChannel(r.Channel); err != nil {
		return store.Wave{}, &FieldError{"channel", err.Error()}
	}
	if r.MaxFailures < 0 {
		return store.Wave{}, &FieldError{"max_failures", fmt.Sprintf("%d (want 0 or more)", r.MaxFailures)}
	}
	if r.Step == 0 {
		r.Step = DefaultStep
	}
	if r.Step < 1 || r.Step > MaxWaveCabins {
		return store.Wave{}, &FieldError{"step", fmt.Sprintf("%d (want 1 to %d)", r.Step, MaxWaveCabins)}
	}
	targets, err := c.targets(ctx, r)
	if err != nil {
		return store.Wave{}, err
	}
	if err := c.checkOverlap(ctx, targets); err != nil {
		return store.Wave{}, err
	}
	w, err := c.st.CreateWave(ctx, store.Wave{Version: r.Version, Channel: r.Channel, MaxFailures: r.MaxFailures, Step: r.Step,
		CreatedBy: by, Created: c.Clock().UTC()}, targets)
	if err != nil {
		return store.Wave{}, err
	}
	c.log.Info("rollout wave created", "wave", w.ID, "version", w.Version, "channel", w.Channel, "cabins", len(targets), "max_failures", w.MaxFailures, "by", by)
	return w, nil
}

// targets are a request's cabins: named ones (each must be known), or a
// percentage of a site's or the fleet's, chosen by a hash of their ids so
// that a 10 % wave is spread over buildings and the same on a retry.
func (c *Controller) targets(ctx context.Context, r Request) ([]store.CabinKey, error) {
	switch {
	case len(r.Cabins) > 0 && (r.Percent != 0 || r.Site != ""):
		return nil, &FieldError{"cabins", "give cabins, or a percent of a site or of the fleet, not both"}
	case len(r.Cabins) > MaxWaveCabins:
		return nil, &FieldError{"cabins", fmt.Sprintf("%d cabins (at most %d)", len(r.Cabins), MaxWaveCabins)}
	case len(r.Cabins) > 0:
		var out []store.CabinKey
		seen := map[store.CabinKey]bool{}
		for i, name := range r.Cabins {
			site, cabin, ok := strings.Cut(name, "/")
			field := fmt.Sprintf("cabins[%d]", i)
			if !ok {
				return nil, &FieldError{field, fmt.Sprintf("%q is not site/cabin", name)}
			}
			if err := wire.ValidateID(site); err != nil {
				return nil, &FieldError{field, "site " + err.Error()}
			}
			if err := wire.ValidateID(cabin); err != nil {
				return nil, &FieldError{field, "cabin " + err.Error()}
			}
			if _, err := c.st.Cabin(ctx, site, cabin); errors.Is(err, store.ErrNotFound) {
				return nil, &FieldError{field, fmt.Sprintf("cabin %s is not known to this receiver", name)}
			} else if err != nil {
				return nil, err
			}
			k := store.CabinKey{Site: site, Cabin: cabin}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		return out, nil
	}
	if r.Percent < 1 || r.Percent > 100 {
		return nil, &FieldError{"percent", fmt.Sprintf("%d (want 1 to 100, or name cabins)", r.Percent)}
	}
	if r.Site != "" {
		if err := wire.ValidateID(r.Site); err != nil {
			return nil, &FieldError{"site", err.Error()}
		}
	}
	all, err := c.st.Cabins(ctx)
	if err != nil {
		return nil, err
	}
	var pool []store.CabinKey
	for _, cb := range all {
		if r.Site == "" || cb.Site == r.Site {
			pool = append(pool, store.CabinKey{Site: cb.Site, Cabin: cb.Cabin})
		}
	}
	if len(pool) == 0 {
		return nil, &FieldError{"site", fmt.Sprintf("no cabin known in %q", r.Site)}
	}
	hash := func(k store.CabinKey) string {
		h := sha256.Sum256([]byte(r.Version + "\x00" + k.Site + "/" + k.Cabin))
		return string(h[:])
	}
	slices.SortFunc(pool, func(a, b store.CabinKey) int { return strings.Compare(hash(a), hash(b)) })
	n := (len(pool)*r.Percent + 99) / 100
	return pool[:n], nil
}

// checkOverlap refuses a wave with a cabin another running wave has not
// finished with: the newer desired version would replace the older one
// retained, and the older wave would count the cabin failed.
func (c *Controller) checkOverlap(ctx context.Context, targets []store.CabinKey) error {
	want := make(map[store.CabinKey]bool, len(targets))
	for _, k := range targets {
		want[k] = true
	}
	waves, err := c.st.Waves(ctx, 1000)
	if err != nil {
		return err
	}
	for _, w := range waves {
		if w.State != store.WaveRunning {
			continue
		}
		_, ts, err := c.st.Wave(ctx, w.ID)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if (t.Status == store.TargetPending || t.Status == store.TargetTold) && want[store.CabinKey{Site: t.Site, Cabin: t.Cabin}] {
				return &FieldError{"cabins", fmt.Sprintf("cabin %s/%s is %s in running wave %d (%s): stop it first", t.Site, t.Cabin, t.Status, w.ID, w.Version)}
			}
		}
	}
	return nil
}

// Waves lists the newest waves first.
func (c *Controller) Waves(ctx context.Context) ([]store.Wave, error) { return c.st.Waves(ctx, 200) }

// Stop stops a running wave: no more cabins are told.
func (c *Controller) Stop(ctx context.Context, id int64, by string) (bool, error) {
	return c.st.SetWaveState(ctx, id, store.WaveStopped, "stopped by "+by, c.Clock().UTC())
}

// Progress is a wave with its cabins and their counts.
type Progress struct {
	store.Wave
	Counts map[string]int  `json:"counts"` // by target status
	Cabins []CabinProgress `json:"cabins"`
}

// CabinProgress is one cabin of a wave, with the version it runs now.
type CabinProgress struct {
	store.WaveTarget
	// Running is the version the cabin's newest health event named.
	Running string `json:"running"`
}

// Progress returns a wave's progress, or store.ErrNotFound.
func (c *Controller) Progress(ctx context.Context, id int64) (Progress, error) {
	w, targets, err := c.st.Wave(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	cabins, err := c.st.Cabins(ctx)
	if err != nil {
		return Progress{}, err
	}
	running := map[store.CabinKey]string{}
	for _, cb := range cabins {
		running[store.CabinKey{Site: cb.Site, Cabin: cb.Cabin}] = cb.AgentVersion
	}
	p := Progress{Wave: w, Counts: map[string]int{}, Cabins: make([]CabinProgress, 0, len(targets))}
	for _, t := range targets {
		p.Counts[t.Status]++
		p.Cabins = append(p.Cabins, CabinProgress{WaveTarget: t, Running: running[store.CabinKey{Site: t.Site, Cabin: t.Cabin}]})
	}
	return p, nil
}

// Run steps every running wave each interval until ctx is done.
func (c *Controller) Run(ctx context.Context, interval time.Duration) {
	for {
		if err := c.Step(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("rollout step", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// Step takes each running wave one step: it records the results its told
// cabins reported, stops it past its failure limit, and tells the next
// cabins up to its step.
func (c *Controller) Step(ctx context.Context) error {
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	waves, err := c.st.Waves(ctx, 1000)
	if err != nil {
		return err
	}
	var errs []error
	for _, w := range waves {
		if w.State != store.WaveRunning {
			continue
		}
		if err := c.stepWave(ctx, w); err != nil {
			errs = append(errs, fmt.Errorf("wave %d: %w", w.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) stepWave(ctx context.Context, w store.Wave) error {
	_, targets, err := c.st.Wave(ctx, w.ID)
	if err != nil {
		return err
	}
	now := c.Clock().UTC()
	// Results of the cabins told.
	for i, t := range targets {
		if t.Status != store.TargetTold {
			continue
		}
		status, reason, err := c.result(ctx, w, t)
		if err != nil {
			return err
		}
		if status == "" && now.Sub(t.Told) > c.ResultTimeout {
			status, reason = store.TargetFailed, fmt.Sprintf("no update event within %s", c.ResultTimeout)
		}
		if status == "" {
			continue
		}
		k := store.CabinKey{Site: t.Site, Cabin: t.Cabin}
		if _, err := c.st.SetTarget(ctx, w.ID, k, status, reason, now); err != nil {
			return err
		}
		targets[i].Status = status
		c.log.Info("rollout cabin result", "wave", w.ID, "site", t.Site, "cabin", t.Cabin, "status", status, "reason", reason)
	}
	failures, told, pending := 0, 0, 0
	for _, t := range targets {
		switch t.Status {
		case store.TargetFailed, store.TargetRolledBack:
			failures++
		case store.TargetTold:
			told++
		case store.TargetPending:
			pending++
		}
	}
	if failures > w.MaxFailures {
		reason := fmt.Sprintf("%d cabins failed or rolled back, more than the %d allowed", failures, w.MaxFailures)
		if _, err := c.st.SetWaveState(ctx, w.ID, store.WaveStopped, reason, now); err != nil {
			return err
		}
		c.log.Warn("rollout wave stopped", "wave", w.ID, "reason", reason)
		return nil
	}
	if pending == 0 && told == 0 {
		_, err := c.st.SetWaveState(ctx, w.ID, store.WaveDone, "", now)
		c.log.Info("rollout wave done", "wave", w.ID, "version", w.Version, "failures", failures)
		return err
	}
	// Tell the next cabins, up to the step.
	for _, t := range targets {
		if told >= w.Step {
			break
		}
		if t.Status != store.TargetPending {
			continue
		}
		waiting, err := c.tell(ctx, w, t, now)
		if err != nil {
			return err
		}
		if waiting {
			told++
		}
	}
	return nil
}

// tell publishes the desired version to a cabin; one that already runs it
// is applied at once (it reports no update). It says whether the wave now
// waits for the cabin's answer.
func (c *Controller) tell(ctx context.Context, w store.Wave, t store.WaveTarget, now time.Time) (bool, error) {
	u := wire.Update{V: wire.Version, Site: t.Site, Cabin: t.Cabin, Version: w.Version, Channel: w.Channel, Wave: uint64(w.ID), At: now}
	if err := c.pub.PublishUpdate(ctx, u); err != nil {
		return false, err
	}
	k := store.CabinKey{Site: t.Site, Cabin: t.Cabin}
	status, reason := store.TargetTold, ""
	if cb, err := c.st.Cabin(ctx, t.Site, t.Cabin); err == nil && cb.AgentVersion == w.Version {
		status, reason = store.TargetApplied, "already running it"
	}
	_, err := c.st.SetTarget(ctx, w.ID, k, store.TargetTold, "", now)
	if err == nil && status != store.TargetTold {
		_, err = c.st.SetTarget(ctx, w.ID, k, status, reason, now)
	}
	return status == store.TargetTold, err
}

// resultTypes are the events that answer a wave, and what each makes of
// the cabin.
var resultTypes = []struct{ typ, status string }{
	{wire.TypeUpdateApplied, store.TargetApplied},
	{wire.TypeUpdateRolledBack, store.TargetRolledBack},
	{wire.TypeUpdateFailed, store.TargetFailed},
}

// result looks for the cabin's update event of this wave since it was
// told (a minute of clock skew allowed).
func (c *Controller) result(ctx context.Context, w store.Wave, t store.WaveTarget) (status, reason string, err error) {
	for _, rt := range resultTypes {
		page, err := c.st.Events(ctx, store.EventQuery{Site: t.Site, Cabin: t.Cabin, Type: rt.typ, Since: t.Told.Add(-time.Minute), Limit: store.MaxLimit})
		if err != nil {
			return "", "", err
		}
		for _, e := range page.Events {
			var d wire.UpdateData
			if json.Unmarshal(e.Data, &d) != nil || d.Wave != uint64(w.ID) || d.To != w.Version {
				continue
			}
			return rt.status, d.Reason, nil
		}
	}
	return "", "", nil
}
