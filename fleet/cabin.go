package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palier-lifts/palier/buildinfo"
	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// simBus answers the profile's requests from the simulator in the
// process: each request is encoded to its RTU frame, answered by the
// simulated slave as it would answer on a line, and the reply decoded,
// CRC checked. Only the line and its wire time are missing.
type simBus struct{ sim *simulator.Simulator }

func (b simBus) Do(_ context.Context, req modbus.Request) (modbus.Response, error) {
	frame, err := modbus.EncodeRequest(req)
	if err != nil {
		return modbus.Response{}, fmt.Errorf("encode request: %w", err)
	}
	reply := b.sim.Exchange(frame)
	if reply == nil {
		return modbus.Response{}, errors.New("simulated controller silent")
	}
	return modbus.DecodeResponse(req, reply)
}

// Cabin is one simulated cabin: its model, state machine, outbox and
// uplink.
type Cabin struct {
	id  identity
	cfg *Config
	log *slog.Logger

	sim     *simulator.Simulator
	reader  *sensors.ProfileReader
	machine *sensors.Machine
	poller  sensors.Poller
	ob      *outbox.Outbox
	up      *uplink.Uplink
	events  []wire.Event

	simNow      time.Time // the cabin's simulated clock
	simStart    time.Time
	nextHealth  time.Time
	stateVer    uint64
	stateOnline bool
	polls       uint64
	pollErrors  uint64

	appended     atomic.Uint64
	appendErrors atomic.Uint64
	confirmed    atomic.Uint64

	// Desired configurations received (config_remote.go), the versions
	// applied by the driving goroutine, and those as ConfigVersions reads
	// them (site<<32 | cabin).
	siteConfig, cabinConfig   atomic.Pointer[wire.DesiredConfig]
	appliedSite, appliedCabin uint64
	configTaken               atomic.Uint64
	baseEvents                sensors.MachineConfig

	// Confirmation tracking: what was appended and is not yet confirmed
	// end to end, with when it was appended.
	mu       sync.Mutex
	pending  []pendingSeq
	ackEpoch string
	ackUpTo  uint64
	ackRange []wire.Range
	lat      *histogram
}

type pendingSeq struct {
	seq uint64
	at  time.Time
}

// openCabin opens cabin n's outbox and makes its model and uplink.
func openCabin(ctx context.Context, cfg *Config, profile *sensors.Profile, n int, simStart time.Time, lat *histogram, counter *errorCounter, log *slog.Logger) (*Cabin, error) {
	id := cfg.identity(n)
	dir := filepath.Join(cfg.Dir, id.site, id.cabin)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cabin %s/%s: %w", id.site, id.cabin, err)
	}
	log = log.With("site", id.site, "cabin", id.cabin)
	sim, err := simulator.New(simulator.Config{Seed: cfg.Seed + uint64(n), AlarmRate: cfg.AlarmRate}, nil)
	if err != nil {
		return nil, fmt.Errorf("cabin %s/%s: %w", id.site, id.cabin, err)
	}
	c := &Cabin{id: id, cfg: cfg, log: log, sim: sim, simNow: simStart, simStart: simStart, lat: lat}
	c.reader = sensors.NewProfileReader(profile, simBus{sim})
	c.reader.Now = func() time.Time { return c.simNow }
	mcfg := machineEvents(cfg)
	c.baseEvents = mcfg
	mcfg.FaultInfo = func(code int) (string, string) {
		f, ok := profile.Fault(code)
		if !ok {
			return "", ""
		}
		return f.Text, f.Severity
	}
	c.ob, err = outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{
		MaxBytes:     cfg.OutboxMaxBytes,
		MaxFileBytes: cfg.OutboxMaxBytes, // as the agent: the bound is on the file
		ResendAfter:  cfg.ResendAfter,
		Logger:       counter.logger(log.With("component", "outbox")),
	})
	if err != nil {
		return nil, fmt.Errorf("cabin %s/%s: %w", id.site, id.cabin, err)
	}
	counters, err := recoverCounters(c.ob.AppState())
	if err != nil {
		log.Warn("counters in the outbox unreadable, starting from zero", "err", err)
	}
	c.machine = sensors.NewMachine(mcfg, counters)
	c.poller = sensors.Poller{M: c.machine}
	c.nextHealth = simStart.Add(cfg.HeartbeatInterval)
	uc, err := cfg.uplinkConfig(id, dir)
	if err != nil {
		c.ob.Close()
		return nil, fmt.Errorf("cabin %s/%s: %w", id.site, id.cabin, err)
	}
	c.up, err = uplink.New(uc, id.site, id.cabin, c.ob, counter.logger(log.With("component", "uplink")))
	if err != nil {
		c.ob.Close()
		return nil, fmt.Errorf("cabin %s/%s: %w", id.site, id.cabin, err)
	}
	c.up.OnConfirmed = c.confirmedUpTo
	c.up.OnDesiredConfig = c.desired
	// The agent subscribes to its desired version and its credential too:
	// the broker holds a JetStream consumer per QoS 1 subscription, so the
	// generator takes them all, as a cabin does, and ignores what comes.
	c.up.OnUpdate = func(wire.Update) {}
	c.up.OnCredential = func([]byte) {}
	return c, nil
}

// recoverCounters reads the counters the agent stores with each event,
// so a second run on the same directories goes on from them.
func recoverCounters(appState []byte) (wire.Counters, error) {
	var c wire.Counters
	if appState == nil {
		return c, nil
	}
	if err := json.Unmarshal(appState, &c); err != nil {
		return wire.Counters{}, fmt.Errorf("decode counters: %w", err)
	}
	return c, nil
}

// advance plays the cabin up to simulated time until: the model moves
// one poll interval at a time and is read after each step.
func (c *Cabin) advance(ctx context.Context, until time.Time) {
	poll := c.cfg.PollInterval
	c.applyConfig(ctx)
	for !c.simNow.Add(poll).After(until) && ctx.Err() == nil {
		c.sim.Step(poll)
		c.simNow = c.simNow.Add(poll)
		c.polls++
		sample, err := c.reader.Read(ctx)
		if err != nil {
			c.pollErrors++
		}
		c.events, _ = c.poller.Apply(c.events[:0], c.simNow, sample, err)
		for _, ev := range c.events {
			c.append(ctx, ev)
		}
		if !c.simNow.Before(c.nextHealth) {
			c.appendHealth(ctx)
			c.nextHealth = c.nextHealth.Add(c.cfg.HeartbeatInterval)
		}
	}
	c.publishState()
}

// append stores ev in the outbox as the agent does: its class from its
// type, the counters as of it in the same transaction.
func (c *Cabin) append(ctx context.Context, ev wire.Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		c.appendErrors.Add(1)
		c.log.Error("encode event", "type", ev.Type, "err", err)
		return
	}
	class := outbox.ClassOf(ev.Type)
	counters, err := json.Marshal(c.machine.Counters())
	if err != nil {
		c.appendErrors.Add(1)
		return
	}
	at := time.Now()
	seq, err := c.ob.AppendWithState(ctx, class, b, counters)
	if err != nil {
		if ctx.Err() == nil {
			c.appendErrors.Add(1)
			c.log.Warn("append event", "type", ev.Type, "err", err)
		}
		return
	}
	c.appended.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ackEpoch == c.ob.Epoch() && (seq <= c.ackUpTo || inRanges(c.ackRange, seq)) {
		// The acknowledgement came back before Append did.
		c.lat.add(time.Since(at))
		c.confirmed.Add(1)
		return
	}
	c.pending = append(c.pending, pendingSeq{seq: seq, at: at})
}

// appendHealth reports the cabin's health as the agent does.
func (c *Cabin) appendHealth(ctx context.Context) {
	h := c.ob.Stats().Health(c.simNow.Sub(c.simStart), c.polls, c.pollErrors)
	h.AgentVersion = buildinfo.Version()
	ev, err := wire.NewEvent(c.simNow, wire.TypeHealth, h)
	if err == nil {
		c.append(ctx, ev)
	}
}

// publishState hands the uplink a new snapshot for the retained state
// topic when the machine's state or the link changed.
func (c *Cabin) publishState() {
	ver, online := c.machine.Version(), c.up.Connected()
	if ver == c.stateVer && online == c.stateOnline {
		return
	}
	c.stateVer, c.stateOnline = ver, online
	s := c.machine.State().ToWire(c.id.site, c.id.cabin)
	s.Uplink = online
	c.up.SetState(s)
}

// confirmedUpTo is the uplink's OnConfirmed: it must not block.
func (c *Cabin) confirmedUpTo(epoch string, upTo uint64, stored []wire.Range) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackEpoch, c.ackUpTo, c.ackRange = epoch, upTo, slices.Clone(stored)
	if epoch != c.ob.Epoch() {
		return
	}
	kept := c.pending[:0]
	for _, p := range c.pending {
		if p.seq <= upTo || inRanges(stored, p.seq) {
			c.lat.add(now.Sub(p.at))
			c.confirmed.Add(1)
			continue
		}
		kept = append(kept, p)
	}
	c.pending = kept
}

// unconfirmedUpTo says whether an appended sequence up to mark still
// waits for its confirmation.
func (c *Cabin) unconfirmedUpTo(mark uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0 && c.pending[0].seq <= mark
}

func inRanges(rs []wire.Range, seq uint64) bool {
	return slices.ContainsFunc(rs, func(r wire.Range) bool { return r.Contains(seq) })
}

// Site and Name are the cabin's ids; Epoch its outbox epoch.
func (c *Cabin) Site() string  { return c.id.site }
func (c *Cabin) Name() string  { return c.id.cabin }
func (c *Cabin) Epoch() string { return c.ob.Epoch() }

// Appended is how many events the outbox accepted; Confirmed how many of
// them the receiver confirmed end to end.
func (c *Cabin) Appended() uint64  { return c.appended.Load() }
func (c *Cabin) Confirmed() uint64 { return c.confirmed.Load() }

// Depth is what the outbox still holds.
func (c *Cabin) Depth() uint64 { return c.ob.Stats().Depth() }
