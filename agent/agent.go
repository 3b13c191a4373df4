package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/palier-lifts/palier/agentcred"
	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/buildinfo"
	"github.com/palier-lifts/palier/hal/gpio"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/mediacache"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// Agent is one running cabin.
type Agent struct {
	cfg    Config
	logger *slog.Logger
	start  time.Time

	ob        *outbox.Outbox
	up        *uplink.Uplink
	cred      *agentcred.Store // the cabin's credential (agent/credential.go)
	feed      *livefeed.Server
	ctrl      *sensors.Controller
	openGPIO  gpio.Opener // nil: periph's host drivers
	machine   *sensors.Machine
	media     *mediacache.Cache
	mediaSets chan wire.NoticeSet // newest notice set whose media to fetch

	appended   atomic.Uint64 // events accepted into the outbox
	lastAppend atomic.Int64  // unix nanoseconds of the last accepted event
	polls      atomic.Uint64
	pollErrors atomic.Uint64
	dropped    atomic.Uint64 // samples the state machine refused, copied from it after each poll

	plays      *playAggregator // the display's play records, merged (plays.go)
	playPeriod time.Duration   // how often they are appended (playFlushPeriod)

	alarm alarmTracker // how far the current alarm got
	upd   *updater     // the desired version and an update under way

	remote     remote            // configurations set from a distance (remoteapply.go)
	live       chan liveSettings // settings the poll loop changes live, newest wins
	linkUp     atomic.Bool       // the poller has not declared the controller lost (true before the first poll)
	lastPollOK atomic.Int64      // unix nanoseconds of the last poll that read the controller

	mu           sync.Mutex
	state        wire.State // last state served
	stateVersion uint64     // the machine's Version when state was taken
	alarmVersion uint64     // the alarm tracker's version when state was taken
}

// Stats are the agent's running totals.
type Stats struct {
	Appended   uint64
	Polls      uint64
	PollErrors uint64
	Uplink     uplink.Stats
	Outbox     outbox.Stats
}

// New opens the outbox and prepares the parts. The caller must call Run,
// which closes everything when it returns.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Agent, error) {
	cfg.setDerived()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	a := &Agent{logger: logger, start: time.Now(), live: make(chan liveSettings, 1)}
	// Until the poller says otherwise: a change received before the first
	// poll (a retained one, at start) is watched like any other.
	a.linkUp.Store(true)
	// The file overlaid by what was set from a distance, kept on disk.
	cfg = a.startRemote(cfg)
	a.cfg = cfg
	if cfg.Level != nil {
		var l slog.Level
		if l.UnmarshalText([]byte(cfg.LogLevel)) == nil {
			cfg.Level.Set(l)
		}
	}
	ctrl, err := sensors.LoadController(cfg.Controller)
	if err != nil {
		if cfg.Controller.Source == sensors.SourceContacts {
			return nil, fmt.Errorf("load contact map: %w", err)
		}
		return nil, fmt.Errorf("load controller profile: %w", err)
	}
	a.ctrl = ctrl
	a.ob, err = outbox.Open(ctx, filepath.Join(cfg.StateDir, "outbox.db"), outbox.Options{
		MaxBytes:     cfg.Outbox.MaxBytes,
		MaxFileBytes: cfg.Outbox.MaxBytes, // the bound is on the file on disk
		ResendAfter:  cfg.Outbox.ResendAfter,
		Logger:       logger.With("component", "outbox"),
	})
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	counters, err := loadCounters(a.countersPath())
	if err != nil {
		// Never refuse to start over counters: report and start from zero.
		logger.Error("counters unreadable, starting from zero", "err", err)
	}
	// counters.json is saved on the health tick; the outbox holds the
	// counters as of the last event stored. After a crash the newer wins,
	// field by field: reported counters never go backwards.
	counters = recoverCounters(counters, a.ob.AppState(), logger)
	mcfg := cfg.Events
	mcfg.FaultInfo = ctrl.FaultInfo
	a.machine = sensors.NewMachine(mcfg, counters)
	if r := a.ob.Reset(); r != nil {
		logger.Error("outbox file was damaged and set aside", "reason", r.Reason, "moved_to", r.MovedTo)
		ev, _ := wire.NewEvent(time.Now(), wire.TypeOutboxReset, wire.OutboxResetData{Reason: r.Reason, MovedTo: r.MovedTo, PrevEpoch: r.PrevEpoch})
		if err := a.append(ctx, ev); err != nil {
			a.ob.Close()
			return nil, err
		}
	}
	a.up, err = uplink.New(cfg.Uplink, cfg.Site, cfg.Cabin, a.ob, logger.With("component", "uplink"))
	if err != nil {
		a.ob.Close()
		return nil, err
	}
	a.up.StateDir = cfg.StateDir // remembers which MQTT version the broker speaks
	a.feed = livefeed.NewServer(cfg.Screen.Socket, logger.With("component", "livefeed"))
	a.plays = newPlayAggregator(time.Now, logger.With("component", "plays"))
	a.playPeriod = playFlushPeriod
	a.feed.OnPlayed = a.plays.add
	a.mediaSets = make(chan wire.NoticeSet, 1)
	a.media, err = mediacache.Open(cfg.Screen.MediaDir, mediacache.Options{MaxBytes: cfg.Screen.MediaMaxBytes, TrustedHosts: cfg.MediaHosts(), Logger: logger.With("component", "media")})
	if err != nil {
		a.ob.Close()
		return nil, err
	}
	a.up.OnNotices = a.notices
	a.up.OnAlarmAck = func(ack wire.AlarmAck) {
		a.logger.Info("alarm acknowledged by an operator", "by", ack.By, "at", ack.At)
		a.alarm.acknowledged(ack)
	}
	a.up.OnConfirmed = a.alarm.confirmed
	a.up.OnDesiredConfig = a.desired
	a.setupUpdates()
	if err := a.setupCredential(); err != nil {
		a.ob.Close()
		return nil, err
	}
	if set, err := a.loadNotices(); err != nil {
		logger.Warn("cached notices unreadable", "err", err)
	} else if set != nil {
		a.feed.SetNotices(*set)
		a.wantMedia(*set)
	}
	a.state = a.machine.State().ToWire(cfg.Site, cfg.Cabin)
	a.state.Link = sensors.LinkStateLost
	a.stateVersion = a.machine.Version()
	a.feed.SetState(a.state)
	return a, nil
}

// Epoch is the outbox epoch the agent's events carry.
func (a *Agent) Epoch() string { return a.ob.Epoch() }

// Stats returns the running totals.
func (a *Agent) Stats() Stats {
	return Stats{
		Appended:   a.appended.Load(),
		Polls:      a.polls.Load(),
		PollErrors: a.pollErrors.Load(),
		Uplink:     a.up.Stats(),
		Outbox:     a.ob.Stats(),
	}
}

// Run polls, publishes and serves the screen until ctx is done.
func (a *Agent) Run(ctx context.Context) error {
	defer a.ob.Close()
	// One owner for every part. The poll loop and the uplink are the
	// agent's job: if either stops, everything stops and Run returns why,
	// so that systemd restarts the agent and the journal names the part.
	// The screen feed, media and metrics may fail alone: the cabin keeps
	// reporting without them.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { a.fetchMedia(gctx); return nil })
	g.Go(func() error { a.upd.run(gctx, time.Second); return nil })
	g.Go(func() error { return a.cred.Run(gctx, a.up) })
	g.Go(func() error {
		if err := a.feed.Run(gctx); err != nil && gctx.Err() == nil {
			a.logger.Error("screen feed stopped; telemetry goes on", "err", err)
		}
		return nil
	})
	if a.cfg.Metrics.Listen != "" {
		g.Go(func() error { a.serveMetrics(gctx); return nil })
	}
	g.Go(func() error {
		if err := a.up.Run(gctx); err != nil {
			return fmt.Errorf("uplink: %w", err)
		}
		if gctx.Err() == nil {
			return errors.New("uplink: stopped by itself")
		}
		return nil
	})
	g.Go(func() error { return a.configLoop(gctx) })
	g.Go(func() error {
		err := a.poll(gctx)
		if err == nil && gctx.Err() == nil {
			err = errors.New("poll: stopped by itself")
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		return nil
	})
	err := g.Wait()
	if serr := saveCounters(a.countersPath(), a.machine.Counters()); serr != nil {
		a.logger.Error("save counters", "err", serr)
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// SetPlayPeriod sets how often the display's play records are appended as
// notice_shown events (a minute by default); for tests, which cannot wait
// a minute. Call it before Run.
func (a *Agent) SetPlayPeriod(d time.Duration) { a.playPeriod = d }

// SetGPIOOpener replaces how contact lines are opened (periph's host
// drivers by default): for tests with periph's gpiotest pins, and for
// boards whose lines need another opener. Call it before Run.
func (a *Agent) SetGPIOOpener(open gpio.Opener) { a.openGPIO = open }

// openSource opens the configured source. The serial port reopens itself
// with backoff when its device goes away (a USB adapter unplugged): the
// outage is reported as a lost link, never fatal.
func (a *Agent) openSource() (sensors.Source, error) {
	src, err := a.ctrl.Open(sensors.SourceOptions{Logger: a.logger, OpenGPIO: a.openGPIO, Resilient: true})
	if err != nil {
		if a.ctrl.Contacts != nil {
			return nil, fmt.Errorf("open contacts: %w", err)
		}
		return nil, fmt.Errorf("controller port: %w", err)
	}
	return src, nil
}

// poll reads the controller at the poll interval until ctx is done.
func (a *Agent) poll(ctx context.Context) error {
	cc := a.cfg.Controller
	reader, err := a.openSource()
	if err != nil {
		return err
	}
	defer reader.Close()

	tick := time.NewTicker(cc.PollInterval)
	defer tick.Stop()
	health := time.NewTicker(a.cfg.Events.HeartbeatInterval)
	defer health.Stop()
	// The display's play records are appended here, with the other
	// events: the machine's counters travel with each append and only
	// this loop may read them.
	plays := time.NewTicker(a.playPeriod)
	defer plays.Stop()
	poller := sensors.Poller{M: a.machine}
	var events []wire.Event
	for {
		select {
		case <-ctx.Done():
			// What was merged is kept: the outbox closes after this loop.
			a.emit(context.WithoutCancel(ctx), a.plays.take())
			return nil
		case <-plays.C:
			a.emit(ctx, a.plays.take())
			continue
		case <-health.C:
			a.appendHealth(ctx)
			if err := saveCounters(a.countersPath(), a.machine.Counters()); err != nil {
				a.logger.Error("save counters", "err", err)
			}
			continue
		case ls := <-a.live:
			// Set from a distance: the machine keeps its state and counters.
			a.machine.SetConfig(ls.events)
			tick.Reset(ls.pollInterval)
			health.Reset(ls.events.HeartbeatInterval)
			a.logger.Info("thresholds and poll interval changed", "poll_interval", ls.pollInterval)
			continue
		case <-tick.C:
		}
		a.polls.Add(1)
		sample, err := reader.Read(ctx)
		if err != nil && ctx.Err() != nil {
			return nil
		}
		wasLost := poller.Lost()
		var lostNow bool
		events, lostNow = poller.Apply(events[:0], time.Now(), sample, err)
		if err == nil {
			a.lastPollOK.Store(time.Now().UnixNano())
		}
		a.linkUp.Store(!poller.Lost())
		switch {
		case err != nil:
			a.pollErrors.Add(1)
			if lostNow {
				a.logger.Warn("controller not answering", "err", err)
			}
		case wasLost:
			a.logger.Info("controller answering again")
		}
		a.dropped.Store(a.machine.Dropped())
		a.emit(ctx, events)
		a.recordAlarmAcks(ctx)
		a.recordUpdates(ctx)
		a.publishState()
	}
}

// publishState serves the machine's state to the screen and the retained
// state topic when it changed, or when the uplink came or went.
func (a *Agent) publishState() {
	version, connected := a.machine.Version(), a.up.Connected()
	progress, alarmVersion := a.alarm.snapshot()
	a.mu.Lock()
	changed := version != a.stateVersion || connected != a.state.Uplink || alarmVersion != a.alarmVersion
	if changed {
		a.stateVersion, a.alarmVersion = version, alarmVersion
		a.state = a.machine.State().ToWire(a.cfg.Site, a.cfg.Cabin)
		a.state.Uplink = connected
		if a.state.Alarm {
			a.state.AlarmProgress = progress
		}
	}
	st := a.state
	a.mu.Unlock()
	if !changed {
		return
	}
	a.feed.SetState(st)
	a.up.SetState(st)
}

// emit appends events to the outbox; an append failure is logged (the
// outbox only fails when the disk does).
func (a *Agent) emit(ctx context.Context, events []wire.Event) {
	for _, ev := range events {
		if err := a.append(ctx, ev); err != nil && ctx.Err() == nil {
			a.logger.Error("append event", "type", ev.Type, "err", err)
		}
	}
}

func (a *Agent) append(ctx context.Context, ev wire.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", ev.Type, err)
	}
	class := outbox.ClassOf(ev.Type)
	// The counters as of this event travel in its transaction.
	counters, err := json.Marshal(a.machine.Counters())
	if err != nil {
		return fmt.Errorf("encode counters: %w", err)
	}
	seq, err := a.ob.AppendWithState(ctx, class, b, counters)
	if err != nil {
		return fmt.Errorf("append %s event: %w", ev.Type, err)
	}
	if ev.Type == wire.TypeAlarm {
		var d wire.AlarmData
		if json.Unmarshal(ev.Data, &d) == nil && d.Active {
			a.alarm.raised(a.ob.Epoch(), seq)
		} else {
			a.alarm.cleared()
		}
	}
	a.appended.Add(1)
	a.lastAppend.Store(time.Now().UnixNano())
	return nil
}

// recordAlarmAcks records that the screen now tells passengers an
// operator acknowledged their alarm: the receiver learns the cabin got it.
func (a *Agent) recordAlarmAcks(ctx context.Context) {
	for _, d := range a.alarm.takePending() {
		ev, err := wire.NewEvent(time.Now(), wire.TypeAlarmAcknowledged, d)
		if err != nil {
			a.logger.Error("encode alarm_acknowledged event", "err", err)
			continue
		}
		a.emit(ctx, []wire.Event{ev})
	}
}

// LastAppend is when the agent last accepted an event into the outbox.
func (a *Agent) LastAppend() time.Time { return time.Unix(0, a.lastAppend.Load()) }

// appendHealth reports how the agent itself is doing.
func (a *Agent) appendHealth(ctx context.Context) {
	h := a.ob.Stats().Health(time.Since(a.start), a.polls.Load(), a.pollErrors.Load())
	h.AgentVersion = buildinfo.Version()
	ev, err := wire.NewEvent(time.Now(), wire.TypeHealth, h)
	if err == nil {
		a.emit(ctx, []wire.Event{ev})
	}
}

func (a *Agent) countersPath() string { return filepath.Join(a.cfg.StateDir, "counters.json") }
func (a *Agent) noticesPath() string  { return filepath.Join(a.cfg.StateDir, "notices.json") }

// notices receives a new notice set from the uplink: it is cached on disk
// so a reboot without network still shows it, then handed to the screen.
func (a *Agent) notices(set wire.NoticeSet) {
	b, err := json.Marshal(set)
	if err == nil {
		err = atomicfile.Write(a.noticesPath(), b, 0o600)
	}
	if err != nil {
		a.logger.Error("cache notices", "err", err)
	}
	a.logger.Info("notices received", "version", set.Version, "count", len(set.Notices))
	a.feed.SetNotices(set)
	a.wantMedia(set)
}

// wantMedia asks the media loop for the files of set; the newest set wins.
func (a *Agent) wantMedia(set wire.NoticeSet) {
	for {
		select {
		case a.mediaSets <- set:
			return
		default:
		}
		select {
		case <-a.mediaSets:
		default:
		}
	}
}

// fetchMedia downloads what the notices reference, off the uplink's path:
// a slow file server never holds up telemetry.
func (a *Agent) fetchMedia(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case set := <-a.mediaSets:
			res := a.media.Sync(ctx, set)
			a.logger.Info("notice media synced", "version", set.Version, "fetched", res.Fetched, "present", res.Present, "failed", len(res.Failed), "evicted", res.Evicted)
		}
	}
}

func (a *Agent) loadNotices() (*wire.NoticeSet, error) {
	b, err := os.ReadFile(a.noticesPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	set, err := wire.DecodeNoticeSet(b)
	if err != nil {
		return nil, fmt.Errorf("cached notices %s: %w", a.noticesPath(), err)
	}
	return &set, nil
}
