package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/wire"
)

// Status payloads of the retained status topic.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Queue is what the uplink needs of the outbox.
type Queue interface {
	Epoch() string
	Lease(ctx context.Context, maxCount, maxBytes int) ([]outbox.Entry, error)
	MarkSent(seqs []uint64) error
	Release(seqs []uint64)
	Confirm(epoch string, upTo uint64, stored ...wire.Range) (int, error)
	Quarantine(seq uint64, reason string) error
	ReportLosses(maxRanges int, encode outbox.LossEncoder) (int, error)
	Rotate(reason string, encode outbox.ResetEncoder) error
	ResendUnconfirmed() (int, error)
}

// DialFunc opens an MQTT session; the adapters implement it.
type DialFunc func(ctx context.Context, o DialOptions) (Conn, error)

// defaultDialers are the adapters by protocol version.
func defaultDialers() map[string]DialFunc {
	return map[string]DialFunc{
		Protocol311: dialMQTT311, // NATS, the production broker, speaks 3.1.1 only
		Protocol5:   dialMQTT5,
	}
}

// Uplink drains one cabin's outbox to the broker.
type Uplink struct {
	cfg    Config
	site   string
	cabin  string
	topics wire.Topics
	q      Queue
	logger *slog.Logger
	// dialers by protocol version; tests may replace them.
	dialers map[string]DialFunc
	opts    DialOptions // from cfg, secrets read at New

	// OnNotices, when set before Run, receives valid notice sets newer than
	// the last one, one call at a time, in increasing version order, from
	// a goroutine of Run's: it may take its time (write a file); sets that
	// arrive meanwhile are coalesced, the newest kept.
	OnNotices func(wire.NoticeSet)

	// OnAlarmAck, when set before Run, receives each valid operator's
	// acknowledgement of this cabin's alarm, from a paho handler: it must
	// not block.
	OnAlarmAck func(wire.AlarmAck)

	// OnUpdate, when set before Run, receives each valid desired agent
	// version for this cabin (others are refused and counted), from a paho
	// handler: it must not block.
	OnUpdate func(wire.Update)

	// OnConfirmed, when set before Run, is told of each end-to-end ack the
	// outbox applied: every event of epoch up to upTo, and those in
	// stored, is at the receiver. From a paho handler: it must not block.
	OnConfirmed func(epoch string, upTo uint64, stored []wire.Range)

	// OnDesiredConfig, when set before Run, receives each valid desired
	// configuration of this cabin or of its site (wire.DesiredConfig,
	// retained: again after each reconnect), from a paho handler: it must
	// not block.
	OnDesiredConfig func(wire.DesiredConfig)

	// OnCredential, when set before Run, receives each message on the
	// cabin's credential topic (a new credential from the receiver), from a
	// paho handler: it must not block. See SwitchPassword.
	OnCredential func(payload []byte)

	// OnSession, when set before Run, is told each time a session is up
	// (connected and subscribed), with the password it authenticated
	// with. It must not block.
	OnSession func(password string)

	cred credential

	// StateDir, when set before Run, is a directory where the uplink keeps
	// the little it must remember across restarts: the MQTT version that
	// protocol auto detected for the broker. Empty means remember in memory
	// only (auto then detects again after each restart).
	StateDir string

	badMu sync.Mutex
	bad   map[uint64]string // unsendable entries sent as stand-ins, awaiting confirmation

	// rollback carries why the outbox must start a new epoch (an ack
	// beyond its last sequence); the session ends to settle its leases,
	// then the outbox rotates.
	rollback chan string

	protoMu sync.Mutex
	proto   string // with protocol auto: the version that worked last

	rateLimit atomic.Uint64 // float64 bits of the drain's events per second, 0: none (SetRateLimit)

	state     chan wire.State // latest state to publish, newest wins
	connected atomic.Bool
	noticeVer atomic.Uint64
	// The newest accepted set not yet handed to OnNotices, and its signal:
	// paho runs message handlers concurrently, so the handler only leaves
	// the set here and never waits for OnNotices.
	noticeMu   sync.Mutex
	noticeNext *wire.NoticeSet
	noticeSig  chan struct{}
	stats      counters
}

type counters struct {
	batches, events, acks, badAcks, badNotices, badAlarmAcks, badConfigs, badUpdates, connects, quarantined, standIns, publishErrors, rotations atomic.Uint64
}

// Stats are the uplink's running totals.
type Stats struct {
	Connected     bool
	Batches       uint64 // batches acknowledged by the broker (PUBACK)
	Events        uint64 // events in those batches
	Acks          uint64 // end-to-end acknowledgements applied
	BadAcks       uint64 // acknowledgements refused as malformed
	BadNotices    uint64 // notice sets refused as invalid
	BadAlarmAcks  uint64 // alarm acknowledgements refused as invalid
	BadConfigs    uint64 // desired configurations refused as malformed or for another cabin
	BadUpdates    uint64 // desired versions refused as invalid
	Connects      uint64 // sessions established
	Quarantined   uint64 // unsendable entries set aside once their stand-in was confirmed
	StandIns      uint64 // "dropped" stand-ins published for unsendable entries
	PublishErrors uint64
	Rotations     uint64 // new outbox epochs started because the file was rolled back
}

// New makes an uplink for a cabin. The ids must be valid wire ids.
func New(cfg Config, site, cabin string, q Queue, logger *slog.Logger) (*Uplink, error) {
	if err := cfg.Validate(); err != nil {
		var p configfile.Problems
		p.Nest("uplink", err)
		return nil, p.Err()
	}
	if err := wire.ValidateID(site); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	if err := wire.ValidateID(cabin); err != nil {
		return nil, fmt.Errorf("cabin: %w", err)
	}
	u := &Uplink{
		cfg:       cfg,
		site:      site,
		cabin:     cabin,
		topics:    wire.TopicsFor(site, cabin),
		q:         q,
		logger:    logger,
		state:     make(chan wire.State, 1),
		noticeSig: make(chan struct{}, 1),
		bad:       map[uint64]string{},
		rollback:  make(chan string, 1),
		dialers:   defaultDialers(),
	}
	u.SetRateLimit(cfg.RateLimit)
	u.cred.now = make(chan struct{}, 1)
	// Secrets and certificates are read now: a password or CA file that
	// cannot be read stops the agent at start, loudly, instead of an
	// uplink that never connects while the outbox fills.
	var err error
	if u.opts, err = cfg.dialOptions(site, cabin); err != nil {
		return nil, fmt.Errorf("uplink: %w", err)
	}
	return u, nil
}

// SetState queues a state snapshot for the retained state topic; only the
// newest unpublished one is kept. It never blocks.
func (u *Uplink) SetState(s wire.State) {
	for {
		select {
		case u.state <- s:
			return
		default:
		}
		select {
		case <-u.state:
		default:
		}
	}
}

// SetRateLimit changes the events per second the drain may publish (0: no
// limit), live: the next batch waits by the new rate. r must pass
// CheckRateLimit.
func (u *Uplink) SetRateLimit(r float64) { u.rateLimit.Store(math.Float64bits(r)) }

// limitOf is the limiter's rate for events per second r (0: none).
func limitOf(r float64) rate.Limit {
	if r <= 0 {
		return rate.Inf
	}
	return rate.Limit(r)
}

// Connected reports whether a session is up.
func (u *Uplink) Connected() bool { return u.connected.Load() }

// Stats returns the running totals.
func (u *Uplink) Stats() Stats {
	return Stats{
		Connected:     u.connected.Load(),
		Batches:       u.stats.batches.Load(),
		Events:        u.stats.events.Load(),
		Acks:          u.stats.acks.Load(),
		BadAcks:       u.stats.badAcks.Load(),
		BadNotices:    u.stats.badNotices.Load(),
		BadAlarmAcks:  u.stats.badAlarmAcks.Load(),
		BadConfigs:    u.stats.badConfigs.Load(),
		BadUpdates:    u.stats.badUpdates.Load(),
		Connects:      u.stats.connects.Load(),
		Quarantined:   u.stats.quarantined.Load(),
		StandIns:      u.stats.standIns.Load(),
		Rotations:     u.stats.rotations.Load(),
		PublishErrors: u.stats.publishErrors.Load(),
	}
}

// Run connects, drains and reconnects until ctx is done. It returns nil on
// cancellation; connection failures are logged and retried, never fatal.
func (u *Uplink) Run(ctx context.Context) error {
	opts := u.opts
	if u.OnNotices != nil {
		go u.deliverNotices(ctx)
	}
	if u.cfg.Protocol == ProtocolAuto {
		p, err := loadProtocol(u.StateDir, u.cfg.Broker)
		if err != nil {
			u.logger.Warn("forgetting the remembered broker protocol", "err", err)
		}
		u.protoMu.Lock()
		if u.proto == "" {
			u.proto = p
		}
		u.protoMu.Unlock()
	}
	for attempt := 0; ; attempt++ {
		opts.Password = u.Password()
		if opts.Username == "" && opts.Password != "" {
			// MQTT sends a password only with a user name; nats-server
			// ignores the name when the password is a credential (JWT).
			opts.Username = opts.ClientID
		}
		u.cred.using(opts.Password)
		conn, err := u.connect(ctx, opts)
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return nil
		}
		if err != nil {
			d := Backoff(u.cfg.BackoffMin, u.cfg.BackoffMax, attempt, rand.Float64)
			u.logger.Warn("broker unreachable", "err", err, "retry_in", d.Round(time.Millisecond))
			select {
			case <-time.After(d):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		u.cred.settled(opts.Password)
		u.stats.connects.Add(1)
		u.logger.Info("connected to broker", "broker", u.cfg.Broker, "protocol", conn.Protocol())
		began, batches := time.Now(), u.stats.batches.Load()
		failed := u.session(ctx, conn) // nil when the connection dropped
		if ctx.Err() != nil {
			return nil
		}
		err = failed
		if err == nil {
			err = conn.Err()
		}
		if failed == nil && (time.Since(began) >= healthySession || u.stats.batches.Load() > batches) {
			// A link that served and then dropped: try again at once.
			u.logger.Warn("connection to broker lost", "err", err)
			attempt = -1
			continue
		}
		// A session that died young (a broker that accepts and then refuses
		// our publishes, say) is retried with backoff, not hammered.
		d := Backoff(u.cfg.BackoffMin, u.cfg.BackoffMax, attempt, rand.Float64)
		u.logger.Warn("connection to broker lost soon after connecting", "err", err, "retry_in", d.Round(time.Millisecond))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil
		}
	}
}

// healthySession is how long a session that delivered nothing must have
// lasted for its loss to be retried at once rather than with backoff.
const healthySession = 30 * time.Second

// Backoff is the delay before reconnect attempt n (0-based): exponential
// from min, capped at max, with full jitter so a fleet spreads out.
func Backoff(min, max time.Duration, n int, random func() float64) time.Duration {
	ceil := max
	if n < 32 {
		if d := min << n; d > 0 && d < max {
			ceil = d
		}
	}
	return time.Duration(random() * float64(ceil))
}

// session runs one connected session until it drops, fails, or ctx is
// done. It returns why it failed, when the connection itself did not drop.
func (u *Uplink) session(ctx context.Context, conn Conn) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, 1)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	setup := func() error {
		if err := conn.Publish(sctx, u.topics.Status, 1, true, []byte(StatusOnline)); err != nil {
			return err
		}
		if err := conn.Subscribe(sctx, u.topics.Ack, 1, u.handleAck); err != nil {
			return err
		}
		if err := conn.Subscribe(sctx, u.topics.Notices, 1, u.handleNotices); err != nil {
			return err
		}
		// The downlinks that came after the first agents: a broker whose
		// users were rendered before them refuses the subscription, and the
		// session goes on without (events matter more), saying what the
		// cabin misses and how to mend it.
		for _, o := range u.optionalDownlinks() {
			if err := conn.Subscribe(sctx, o.topic, 1, o.handle); err != nil {
				select {
				case <-conn.Lost():
					return err
				default:
				}
				u.logger.Warn("no "+o.what+" on this session: "+o.without+"; regenerate the broker's users (receiver users render)", "topic", o.topic, "err", err)
			}
		}
		return nil
	}
	if err := setup(); err != nil {
		conn.Close()
		return fmt.Errorf("session setup: %w", err)
	}
	// What an earlier session sent and the receiver has not confirmed goes
	// first, now: the broker may have acknowledged it and lost it, or the
	// receiver's acknowledgement may have been lost with that session
	// (a duplicate is stored once). Waiting for outbox.resend_after would
	// leave the receiver a gap for minutes after every broker restart.
	if n, err := u.q.ResendUnconfirmed(); err != nil {
		u.logger.Error("resend unconfirmed entries", "err", err)
	} else if n > 0 {
		u.logger.Info("sending again what the last session left unconfirmed", "entries", n)
	}
	u.connected.Store(true)
	defer u.connected.Store(false)
	if u.OnSession != nil {
		u.OnSession(u.cred.inUse())
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); u.drain(sctx, conn, fail) }()
	go func() { defer wg.Done(); u.publishStates(sctx, conn) }()
	select {
	case <-conn.Lost():
		cancel()
		wg.Wait()
		conn.Close()
		return nil
	case err := <-failed:
		// The broker is there but refuses or ignores our publishes: start
		// over with a new session (and backoff) rather than spin. A publish
		// cut short by a dropped link is a loss, not a refusal.
		cancel()
		wg.Wait()
		conn.Close()
		select {
		case <-conn.Lost():
			if !errors.Is(conn.Err(), errClosed) {
				return nil
			}
		default:
		}
		return err
	case <-u.cred.now:
		// A new credential: settle the leases and reconnect with it.
		cancel()
		wg.Wait()
		conn.Close()
		return nil
	case reason := <-u.rollback:
		// Settle every lease (the drain and its publishes end), then
		// renumber under a new epoch; the next session sends it all.
		cancel()
		wg.Wait()
		conn.Close()
		u.rotate(reason)
		return nil
	case <-ctx.Done():
		cancel()
		wg.Wait()
		// A clean disconnect does not fire the will: say offline ourselves,
		// but do not let a dead link hold up shutdown.
		octx, ocancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = conn.Publish(octx, u.topics.Status, 1, true, []byte(StatusOffline))
		ocancel()
		conn.Close()
		return nil
	}
}

// drain leases batches from the outbox and publishes them, with at most
// InFlight batches awaiting their PUBACK. A publish that fails while the
// session is up is reported to fail.
func (u *Uplink) drain(ctx context.Context, conn Conn, fail func(error)) {
	// The first failure stops the drain: batches leased after it would only
	// fail the same way.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	slots := make(chan struct{}, u.cfg.InFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	// The rate may change while the session runs (SetRateLimit).
	perSecond := math.Float64frombits(u.rateLimit.Load())
	limiter := rate.NewLimiter(limitOf(perSecond), u.cfg.BatchEvents)
	leaseFailures := 0
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// Losses gathered since the last lease (evictions while the link
		// was down, gaps an ack showed) go out first, as safety entries.
		if _, err := u.q.ReportLosses(u.maxLossRanges(), encodeLoss); err != nil && ctx.Err() == nil {
			u.logger.Error("report lost sequences; trying again with the next batch", "err", err)
		}
		// Leave room for the sequence and envelope added to each entry.
		entries, err := u.q.Lease(ctx, u.cfg.BatchEvents, u.cfg.BatchBytes*3/4)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return
			}
			// The outbox could not requeue or read (a full disk, say): that
			// passes, and the session must not stay up draining nothing.
			leaseFailures++
			d := Backoff(time.Second, 30*time.Second, leaseFailures, rand.Float64)
			u.logger.Error("lease from outbox; trying again", "err", err, "retry_in", d.Round(time.Millisecond))
			select {
			case <-time.After(d):
				continue
			case <-ctx.Done():
				return
			}
		}
		leaseFailures = 0
		if ctx.Err() != nil {
			u.q.Release(seqsOf(entries))
			<-slots
			return
		}
		payload, seqs := u.encodeBatch(entries)
		if payload == nil {
			<-slots
			continue
		}
		if r := math.Float64frombits(u.rateLimit.Load()); r != perSecond {
			perSecond = r
			limiter.SetLimit(limitOf(r))
		}
		if limiter.WaitN(ctx, len(seqs)) != nil {
			u.q.Release(seqs)
			<-slots
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := conn.Publish(ctx, u.topics.Events, 1, false, payload); err != nil {
				u.q.Release(seqs)
				if ctx.Err() == nil && !errors.Is(err, ErrConnectionLost) {
					u.stats.publishErrors.Add(1)
					u.logger.Warn("publish batch", "events", len(seqs), "err", err)
					stop()
					fail(fmt.Errorf("publish batch of %d events: %w", len(seqs), err))
				}
				return
			}
			if err := u.q.MarkSent(seqs); err != nil {
				// Leased for ever otherwise: give them back, to be sent
				// again (the receiver drops what it has already).
				u.q.Release(seqs)
				u.logger.Error("mark batch sent; it will be sent again", "err", err)
				return
			}
			u.stats.batches.Add(1)
			u.stats.events.Add(uint64(len(seqs)))
		}()
	}
}

func seqsOf(entries []outbox.Entry) []uint64 {
	seqs := make([]uint64, len(entries))
	for i, e := range entries {
		seqs[i] = e.Seq
	}
	return seqs
}

// encodeBatch turns leased entries into one batch. An entry that cannot be
// decoded or is too large to ever send goes as a "dropped" stand-in with
// its sequence, so that the receiver's cumulative acknowledgement can move
// past it. The entry itself stays in the outbox like any other until the
// stand-in is acknowledged end to end (a lost stand-in would leave a gap
// that stalls every later acknowledgement); it is then quarantined, which
// keeps a copy for inspection.
func (u *Uplink) encodeBatch(entries []outbox.Entry) ([]byte, []uint64) {
	batch := wire.Batch{V: wire.Version, Site: u.site, Cabin: u.cabin, Epoch: u.q.Epoch(), Events: make([]wire.Event, 0, len(entries)), AckRanges: true}
	seqs := make([]uint64, 0, len(entries))
	for _, e := range entries {
		seqs = append(seqs, e.Seq)
		var ev wire.Event
		reason := ""
		if len(e.Payload) > u.cfg.BatchBytes/2 {
			reason = fmt.Sprintf("event of %d bytes exceeds half the batch bound %d", len(e.Payload), u.cfg.BatchBytes)
		} else if err := json.Unmarshal(e.Payload, &ev); err != nil {
			reason = "undecodable event: " + err.Error()
		} else {
			ev.Seq = e.Seq
			if err := ev.Validate(); err != nil {
				reason = "invalid event: " + err.Error()
			}
		}
		if reason == "" {
			batch.Events = append(batch.Events, ev)
			continue
		}
		u.badMu.Lock()
		if _, known := u.bad[e.Seq]; !known {
			u.bad[e.Seq] = reason
			u.logger.Error("outbox entry cannot be sent: sending a dropped stand-in", "seq", e.Seq, "reason", reason)
		}
		u.badMu.Unlock()
		u.stats.standIns.Add(1)
		ev, _ = wire.NewEvent(e.Appended, wire.TypeDropped, wire.DroppedData{Reason: reason})
		ev.Seq = e.Seq
		if ev.Time.IsZero() {
			ev.Time = time.Now().UTC()
		}
		batch.Events = append(batch.Events, ev)
	}
	if len(batch.Events) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(batch)
	if err != nil {
		u.logger.Error("encode batch", "err", err)
		u.q.Release(seqs)
		return nil, nil
	}
	return b, seqs
}

// maxLossRanges is how many ranges a loss report may carry and still be
// sendable: an entry over half the batch bound goes as a stand-in, which
// would lose the report's content. A range costs at most 44 bytes of JSON
// (two 20-digit numbers); 512 bytes are left for the rest of the event.
func (u *Uplink) maxLossRanges() int {
	return min(wire.MaxRanges, (u.cfg.BatchBytes/2-512)/44)
}

// encodeLoss makes the payload of a loss report: a lost event, as the
// agent's own events are stored.
func encodeLoss(l outbox.Loss) ([]byte, error) {
	d := wire.LostData{Reason: l.Reason, Ranges: l.Ranges, Count: l.Count, Bytes: l.Bytes}
	for c, n := range l.Classes {
		if n > 0 {
			if d.Classes == nil {
				d.Classes = map[string]uint64{}
			}
			d.Classes[outbox.Class(c).String()] = n
		}
	}
	ev, err := wire.NewEvent(time.Now(), wire.TypeLost, d)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}

// rotate starts the outbox on a new epoch, reported by an outbox_reset
// event. The stand-ins awaiting confirmation carried the old numbers.
func (u *Uplink) rotate(reason string) {
	u.badMu.Lock()
	clear(u.bad)
	u.badMu.Unlock()
	err := u.q.Rotate(reason, func(r outbox.Reset) ([]byte, error) {
		ev, err := wire.NewEvent(time.Now(), wire.TypeOutboxReset, wire.OutboxResetData{Reason: r.Reason, PrevEpoch: r.PrevEpoch})
		if err != nil {
			return nil, err
		}
		return json.Marshal(ev)
	})
	if err != nil {
		// The next ack beyond the file asks again.
		u.logger.Error("start a new outbox epoch", "err", err)
		return
	}
	u.stats.rotations.Add(1)
}

// quarantineConfirmed sets aside the unsendable entries whose stand-ins
// the receiver has now stored (sequence up to upTo, or in stored, in this
// epoch).
func (u *Uplink) quarantineConfirmed(epoch string, upTo uint64, stored []wire.Range) {
	if epoch != u.q.Epoch() {
		return
	}
	u.badMu.Lock()
	defer u.badMu.Unlock()
	for seq, reason := range u.bad {
		if seq > upTo && !slices.ContainsFunc(stored, func(r wire.Range) bool { return r.Contains(seq) }) {
			continue
		}
		if err := u.q.Quarantine(seq, reason); err != nil {
			u.logger.Error("quarantine", "seq", seq, "err", err)
			continue
		}
		delete(u.bad, seq)
		u.stats.quarantined.Add(1)
	}
}

func (u *Uplink) handleAck(_ string, payload []byte) {
	ack, err := wire.DecodeAck(payload)
	if err != nil {
		u.stats.badAcks.Add(1)
		u.logger.Warn("ignoring malformed acknowledgement", "err", err)
		return
	}
	u.quarantineConfirmed(ack.Epoch, ack.Seq, ack.Stored)
	n, err := u.q.Confirm(ack.Epoch, ack.Seq, ack.Stored...)
	if errors.Is(err, outbox.ErrRolledBack) {
		u.logger.Error("the receiver holds sequences this outbox never wrote: it was rolled back; starting a new epoch", "epoch", ack.Epoch, "ack", ack.Seq, "err", err)
		select {
		case u.rollback <- err.Error():
		default: // one is pending already
		}
		return
	}
	if err != nil {
		u.logger.Error("confirm acknowledged events", "epoch", ack.Epoch, "seq", ack.Seq, "err", err)
		return
	}
	u.stats.acks.Add(1)
	if u.OnConfirmed != nil {
		u.OnConfirmed(ack.Epoch, ack.Seq, ack.Stored)
	}
	// The ack may have shown sequences the receiver lacks and the outbox
	// no longer holds: report them now, which also wakes a drain waiting
	// for something to send.
	if _, err := u.q.ReportLosses(u.maxLossRanges(), encodeLoss); err != nil {
		u.logger.Error("report lost sequences; trying again with the next batch", "err", err)
	}
	if n > 0 {
		u.logger.Debug("events confirmed end to end", "epoch", ack.Epoch, "up_to", ack.Seq, "confirmed", n)
	}
}

// optionalDownlink is a subscription a session may go without.
type optionalDownlink struct {
	topic, what, without string
	handle               func(topic string, payload []byte)
}

// optionalDownlinks are the subscriptions this uplink's callbacks ask for,
// beyond its acks and notices.
func (u *Uplink) optionalDownlinks() []optionalDownlink {
	ds := []optionalDownlink{{u.topics.AlarmAck, "alarm acknowledgements", "the screen cannot say an operator answered", u.handleAlarmAck}}
	if u.OnDesiredConfig != nil {
		for _, t := range []string{u.topics.SiteConfig, u.topics.Config} {
			ds = append(ds, optionalDownlink{t, "remote configuration", "the cabin keeps the one it runs", u.handleDesiredConfig})
		}
	}
	if u.OnUpdate != nil {
		ds = append(ds, optionalDownlink{u.topics.Update, "agent updates", "the cabin keeps its version", u.handleUpdate})
	}
	if u.OnCredential != nil {
		ds = append(ds, optionalDownlink{u.topics.Credential, "credential deliveries", "the cabin keeps its credential",
			func(_ string, payload []byte) { u.OnCredential(payload) }})
	}
	return ds
}

func (u *Uplink) handleNotices(_ string, payload []byte) {
	set, err := wire.DecodeNoticeSet(payload)
	if err == nil && set.Site != u.site {
		err = fmt.Errorf("site: %q is not this cabin's site %q", set.Site, u.site)
	}
	if err != nil {
		u.stats.badNotices.Add(1)
		u.logger.Warn("ignoring invalid notice set", "err", err)
		return
	}
	for {
		cur := u.noticeVer.Load()
		if set.Version <= cur && cur != 0 {
			return // an older or repeated set never replaces a newer one
		}
		if cur != 0 && set.Version-cur > MaxNoticeJump {
			// The receiver adds one per change: such a jump is forged, and
			// taken it would pin the screens (nothing newer would do).
			u.stats.badNotices.Add(1)
			u.logger.Warn("ignoring a notice set whose version jumps beyond what the receiver makes", "version", set.Version, "current", cur, "max_jump", MaxNoticeJump)
			return
		}
		if u.noticeVer.CompareAndSwap(cur, set.Version) {
			break
		}
	}
	u.noticeMu.Lock()
	if u.noticeNext == nil || set.Version > u.noticeNext.Version {
		u.noticeNext = &set
	}
	u.noticeMu.Unlock()
	select {
	case u.noticeSig <- struct{}{}:
	default: // a signal is pending already
	}
}

func (u *Uplink) handleAlarmAck(_ string, payload []byte) {
	ack, err := wire.DecodeAlarmAck(payload)
	if err == nil && (ack.Site != u.site || ack.Cabin != u.cabin) {
		err = fmt.Errorf("for %s/%s, not this cabin %s/%s", ack.Site, ack.Cabin, u.site, u.cabin)
	}
	if err != nil {
		u.stats.badAlarmAcks.Add(1)
		u.logger.Warn("ignoring invalid alarm acknowledgement", "err", err)
		return
	}
	if u.OnAlarmAck != nil {
		u.OnAlarmAck(ack)
	}
}

func (u *Uplink) handleDesiredConfig(topic string, payload []byte) {
	d, err := wire.DecodeDesiredConfig(payload)
	if err == nil {
		switch {
		case d.Site != u.site:
			err = fmt.Errorf("for site %q, not this cabin's %q", d.Site, u.site)
		case d.Cabin != "" && d.Cabin != u.cabin:
			err = fmt.Errorf("for cabin %s/%s, not this cabin %s/%s", d.Site, d.Cabin, u.site, u.cabin)
		case (d.Cabin == "") != (topic == u.topics.SiteConfig):
			err = fmt.Errorf("a %s configuration on topic %s", d.Scope(), topic)
		}
	}
	if err != nil {
		u.stats.badConfigs.Add(1)
		u.logger.Warn("ignoring invalid desired configuration", "topic", topic, "err", err)
		return
	}
	u.OnDesiredConfig(d)
}

func (u *Uplink) handleUpdate(_ string, payload []byte) {
	up, err := wire.DecodeUpdate(payload)
	if err == nil && (up.Site != u.site || up.Cabin != u.cabin) {
		err = fmt.Errorf("for %s/%s, not this cabin %s/%s", up.Site, up.Cabin, u.site, u.cabin)
	}
	if err != nil {
		u.stats.badUpdates.Add(1)
		u.logger.Warn("ignoring invalid desired version", "err", err)
		return
	}
	if u.OnUpdate != nil {
		u.OnUpdate(up)
	}
}

// MaxNoticeJump bounds how far a notice set's version may pass the last
// one taken: the receiver adds one per change of a site's notices, so a
// hundred thousand is years of changes missed, and 2^64-1 is a forgery.
const MaxNoticeJump = 100_000

// deliverNotices hands the newest accepted set to OnNotices until ctx ends.
// Versions only grow through noticeVer, so each set it takes is newer than
// the one before: an older set can never land after a newer one.
func (u *Uplink) deliverNotices(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.noticeSig:
		}
		u.noticeMu.Lock()
		set := u.noticeNext
		u.noticeNext = nil
		u.noticeMu.Unlock()
		if set != nil {
			u.OnNotices(*set)
		}
	}
}

// publishStates publishes each new state snapshot, retained, and the
// online status again every wire.PresenceInterval, so that the receiver
// can tell a cabin whose last will was lost (stale) from a quiet one.
func (u *Uplink) publishStates(ctx context.Context, conn Conn) {
	presence := time.NewTicker(wire.PresenceInterval)
	defer presence.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-presence.C:
			if err := conn.Publish(ctx, u.topics.Status, 1, true, []byte(StatusOnline)); err != nil {
				return // the session is ending; the next one says online first
			}
		case s := <-u.state:
			b, err := json.Marshal(s)
			if err != nil {
				u.logger.Error("encode state", "err", err)
				continue
			}
			if err := conn.Publish(ctx, u.topics.State, 1, true, b); err != nil {
				// Keep it for the next session unless a newer one came.
				u.requeueState(s)
				return
			}
		}
	}
}

// requeueState keeps s for the next session unless a newer one is waiting.
func (u *Uplink) requeueState(s wire.State) {
	select {
	case u.state <- s:
	default:
	}
}
