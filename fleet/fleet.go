package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palier-lifts/palier/sensors"
)

// Fleet is a set of open cabins. Make it with Open, play it with Run.
type Fleet struct {
	cfg    Config
	log    *slog.Logger
	cabins []*Cabin
	lat    histogram
	errs   *errorCounter
	opened time.Duration // how long Open took

	wallStart time.Time
	simStart  time.Time
	maxLag    atomic.Int64

	upMu   sync.Mutex
	upStop []context.CancelFunc // per cabin, nil when its uplink is not running
	upDone []chan struct{}

	stopGen  chan struct{} // closed by StopGenerating
	stopOnce sync.Once
}

// Open opens every cabin's outbox and makes its model and uplink; Run
// plays them. On error, what was opened is closed.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Fleet, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fleet config: %w", err)
	}
	profile, err := sensors.LoadProfile(cfg.Profile)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	began := time.Now()
	f := &Fleet{cfg: cfg, log: log, errs: newErrorCounter(), stopGen: make(chan struct{}),
		upStop: make([]context.CancelFunc, cfg.Cabins), upDone: make([]chan struct{}, cfg.Cabins)}
	// Opening thousands of files, each created with fsyncs: a few at
	// a time keep the disk busy without a thread per file.
	f.cabins = make([]*Cabin, cfg.Cabins)
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= cfg.Cabins || ctx.Err() != nil {
					return
				}
				c, err := openCabin(ctx, &f.cfg, profile, n, began, &f.lat, f.errs, log)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					return
				}
				f.cabins[n] = c
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("open fleet: %w", ctx.Err())
	}
	if firstErr != nil {
		f.closeOutboxes()
		return nil, firstErr
	}
	f.opened = time.Since(began)
	log.Info("fleet open", "cabins", cfg.Cabins, "took", f.opened.Round(time.Millisecond))
	return f, nil
}

// Cabins are the fleet's cabins, in order.
func (f *Fleet) Cabins() []*Cabin { return f.cabins }

func (f *Fleet) closeOutboxes() {
	for _, c := range f.cabins {
		if c != nil {
			if err := c.ob.Close(); err != nil {
				f.log.Error("close outbox", "site", c.id.site, "cabin", c.id.cabin, "err", err)
			}
		}
	}
}

// startUplink runs cabin n's uplink until stopUplinks.
func (f *Fleet) startUplink(ctx context.Context, n int) {
	f.upMu.Lock()
	defer f.upMu.Unlock()
	if f.upStop[n] != nil {
		return
	}
	uctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	f.upStop[n], f.upDone[n] = cancel, done
	c := f.cabins[n]
	go func() {
		defer close(done)
		if err := c.up.Run(uctx); err != nil {
			f.errs.add("uplink stopped: " + errorKind(err))
			c.log.Error("uplink stopped", "err", err)
		}
	}()
}

// stopUplinks ends every uplink's session and waits for them.
func (f *Fleet) stopUplinks() {
	f.upMu.Lock()
	var dones []chan struct{}
	for n, cancel := range f.upStop {
		if cancel != nil {
			cancel()
			dones = append(dones, f.upDone[n])
			f.upStop[n], f.upDone[n] = nil, nil
		}
	}
	f.upMu.Unlock()
	for _, d := range dones {
		<-d
	}
}

// StopGenerating ends the generation before Duration, as if it had
// passed: Run then waits for every outbox to drain, and reports. For a
// test that has seen what it waited for.
func (f *Fleet) StopGenerating() { f.stopOnce.Do(func() { close(f.stopGen) }) }

// Connected is how many cabins have a session up now.
func (f *Fleet) Connected() int { return f.connected() }

// Sessions is how many MQTT sessions the cabins' uplinks established, all
// together: a reconnect storm shows as a jump.
func (f *Fleet) Sessions() uint64 {
	var n uint64
	for _, c := range f.cabins {
		n += c.Sessions()
	}
	return n
}

func (f *Fleet) connected() int {
	n := 0
	for _, c := range f.cabins {
		if c.up.Connected() {
			n++
		}
	}
	return n
}

// simTarget is where simulated time stands at wall time now.
func (f *Fleet) simTarget(now time.Time) time.Time {
	return f.simStart.Add(time.Duration(float64(now.Sub(f.wallStart)) * f.cfg.TimeFactor))
}

// drive plays cabin n until ctx is done, catching up with the clock
// every Tick. Cabins' ticks are spread over the Tick, not all at once.
func (f *Fleet) drive(ctx context.Context, n int) {
	c := f.cabins[n]
	phase := time.Duration(int64(f.cfg.Tick) * int64(n) / int64(len(f.cabins)))
	select {
	case <-time.After(phase):
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(f.cfg.Tick)
	defer t.Stop()
	for {
		target := f.simTarget(time.Now())
		// How far behind the clock the cabin is, in wall time, beyond
		// the one tick it is always behind: the generator fell behind.
		if lag := time.Duration(float64(target.Sub(c.simNow))/f.cfg.TimeFactor) - f.cfg.Tick; lag > 0 {
			for {
				m := f.maxLag.Load()
				if int64(lag) <= m || f.maxLag.CompareAndSwap(m, int64(lag)) {
					break
				}
			}
		}
		c.advance(ctx, target)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run plays the fleet as configured and returns what it measured. It
// closes the cabins' outboxes when it returns; a Fleet runs once.
func (f *Fleet) Run(ctx context.Context) (*Report, error) {
	defer f.closeOutboxes()
	cfg := f.cfg
	cpu0 := readProcess().CPUSeconds
	f.wallStart = time.Now()
	// The simulated clock reaches the wall clock when generation ends:
	// no event is dated in the future.
	f.simStart = f.wallStart.Add(-time.Duration(float64(cfg.Duration) * (cfg.TimeFactor - 1)))
	for _, c := range f.cabins {
		c.simNow, c.simStart = f.simStart, f.simStart
		c.nextHealth = f.simStart.Add(cfg.HeartbeatInterval)
	}
	rep := &Report{Mode: cfg.Mode, Cabins: cfg.Cabins, TimeFactor: cfg.TimeFactor, Brokers: len(cfg.Brokers),
		OpenSeconds: f.opened.Seconds()}

	upCtx, stopAll := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopAll(); f.stopUplinks() }()
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	go func() {
		select {
		case <-f.stopGen:
			stopGen()
		case <-genCtx.Done():
		}
	}()

	var drivers sync.WaitGroup
	for n := range f.cabins {
		drivers.Go(func() { f.drive(genCtx, n) })
	}
	progressDone := make(chan struct{})
	progressCtx, stopProgress := context.WithCancel(ctx)
	go func() { defer close(progressDone); f.progress(progressCtx) }()
	defer func() { stopProgress(); <-progressDone }()

	// Staggered first connections: ConnectRate a second.
	connectsDone := make(chan struct{})
	go func() {
		defer close(connectsDone)
		every := time.Duration(float64(time.Second) / cfg.ConnectRate)
		t := time.NewTicker(every)
		defer t.Stop()
		for n := range f.cabins {
			f.startUplink(upCtx, n)
			select {
			case <-t.C:
			case <-genCtx.Done():
				return
			}
		}
	}()
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-genCtx.Done():
			return false
		}
	}
	// In a day, an outage is the broker's doing (a leaf node restarted
	// under the fleet, as scripts/fleet.sh does): follow the recoveries.
	outagesDone := make(chan struct{})
	outageCtx, stopOutages := context.WithCancel(ctx)
	if cfg.Mode == ModeDay {
		go func() {
			defer close(outagesDone)
			rep.Outages, rep.MoreOutages = f.watchOutages(outageCtx)
		}()
	} else {
		close(outagesDone)
	}
	defer func() { stopOutages(); <-outagesDone }()
	if cfg.Mode == ModeStorm {
		if wait(cfg.Warmup) {
			<-connectsDone
			rep.Storm = f.storm(genCtx, upCtx)
		}
	}
	wait(time.Until(f.wallStart.Add(cfg.Duration)))
	<-connectsDone
	stopGen()
	drivers.Wait()
	genEnd := time.Now()
	rep.GenerateSeconds = genEnd.Sub(f.wallStart).Seconds()
	rep.fill(f, genEnd.Sub(f.wallStart))
	rep.ConnectedAtEnd = f.connected()

	// Drain: every appended event confirmed end to end, every outbox empty.
	drained := f.waitFor(ctx, cfg.DrainTimeout, func() bool {
		for _, c := range f.cabins {
			if c.Confirmed() < c.Appended() || c.Depth() > 0 {
				return false
			}
		}
		return true
	})
	rep.DrainSeconds = time.Since(genEnd).Seconds()
	rep.Drained = drained
	stopOutages()
	<-outagesDone
	rep.fillTotals(f)
	proc := readProcess()
	rep.Process = proc
	rep.CPUPercent = 100 * (proc.CPUSeconds - cpu0) / time.Since(f.wallStart).Seconds()
	rep.Goroutines = runtime.NumGoroutine()
	if !drained && ctx.Err() == nil {
		return rep, fmt.Errorf("fleet: %w within %s: %d of %d events confirmed", ErrNotDrained, cfg.DrainTimeout, rep.Confirmed, rep.Appended)
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("fleet: %w", ctx.Err())
	}
	return rep, nil
}

// storm stops every uplink for the outage while the cabins go on, then
// starts them all at once and measures the recovery.
func (f *Fleet) storm(genCtx, upCtx context.Context) *StormReport {
	cfg := f.cfg
	f.log.Info("storm: every uplink stops", "outage", cfg.Outage)
	f.stopUplinks()
	select {
	case <-time.After(cfg.Outage):
	case <-genCtx.Done():
		return nil
	}
	sr := &StormReport{OutageSeconds: cfg.Outage.Seconds()}
	marks := make([]uint64, len(f.cabins))
	for n, c := range f.cabins {
		st := c.ob.Stats()
		marks[n] = st.LastSeq
		sr.Backlog += st.Depth()
	}
	f.log.Info("storm: every uplink starts at once", "backlog", sr.Backlog)
	began := time.Now()
	for n := range f.cabins {
		f.startUplink(upCtx, n)
	}
	var allConnected, allConfirmed time.Duration
	f.waitFor(genCtx, cfg.DrainTimeout, func() bool {
		if allConnected == 0 {
			c := f.connected()
			sr.PeakConnected = max(sr.PeakConnected, c)
			if c == len(f.cabins) {
				allConnected = time.Since(began)
			}
		}
		if allConfirmed == 0 {
			done := true
			for n, c := range f.cabins {
				if c.unconfirmedUpTo(marks[n]) {
					done = false
					break
				}
			}
			if done {
				allConfirmed = time.Since(began)
			}
		}
		return allConnected > 0 && allConfirmed > 0
	})
	sr.AllConnectedSeconds = allConnected.Seconds()
	sr.BacklogConfirmedSeconds = allConfirmed.Seconds()
	sr.Recovered = allConnected > 0 && allConfirmed > 0
	f.log.Info("storm: recovery", "all_connected", allConnected.Round(time.Millisecond), "backlog_confirmed", allConfirmed.Round(time.Millisecond), "recovered", sr.Recovered)
	return sr
}

// waitFor checks cond every 100 ms until it holds, ctx is done or
// timeout passes; it reports whether cond held.
func (f *Fleet) waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// progress logs a line every ProgressEvery: how far the fleet got.
func (f *Fleet) progress(ctx context.Context) {
	t := time.NewTicker(f.cfg.ProgressEvery)
	defer t.Stop()
	var lastApp, lastConf uint64
	last := time.Now()
	cpu0 := readProcess().CPUSeconds
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var app, conf, depth uint64
			for _, c := range f.cabins {
				app += c.Appended()
				conf += c.Confirmed()
			}
			for _, c := range f.cabins {
				depth += c.Depth()
			}
			p := readProcess()
			dt := now.Sub(last).Seconds()
			f.log.Info("fleet",
				"connected", f.connected(),
				"appended_per_s", fmt.Sprintf("%.0f", float64(app-lastApp)/dt),
				"confirmed_per_s", fmt.Sprintf("%.0f", float64(conf-lastConf)/dt),
				"depth", depth,
				"p99_ms", f.lat.quantile(0.99).Milliseconds(),
				"lag", time.Duration(f.maxLag.Load()).Round(time.Millisecond),
				"rss_mib", p.RSSBytes>>20,
				"cpu_pct", fmt.Sprintf("%.0f", 100*(p.CPUSeconds-cpu0)/dt),
				"fds", p.FDs)
			lastApp, lastConf, last, cpu0 = app, conf, now, p.CPUSeconds
		}
	}
}

// ErrNotDrained is wrapped by Run's error when outboxes did not drain.
var ErrNotDrained = errors.New("outboxes not drained")
