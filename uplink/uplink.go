package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

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
	Confirm(epoch string, upTo uint64) (int, error)
	Quarantine(seq uint64, reason string) error
}

// DialFunc opens an MQTT session; the adapters implement it.
type DialFunc func(ctx context.Context, o DialOptions) (Conn, error)

// Uplink drains one cabin's outbox to the broker.
type Uplink struct {
	cfg    Config
	site   string
	cabin  string
	topics wire.Topics
	q      Queue
	logger *slog.Logger
	dial   DialFunc

	// OnNotices, when set before Run, receives every valid notice set newer
	// than the last one. It must not block.
	OnNotices func(wire.NoticeSet)

	state     chan wire.State // latest state to publish, newest wins
	connected atomic.Bool
	noticeVer atomic.Uint64
	stats     counters
}

type counters struct {
	batches, events, acks, badAcks, badNotices, connects, quarantined, publishErrors atomic.Uint64
}

// Stats are the uplink's running totals.
type Stats struct {
	Connected     bool
	Batches       uint64 // batches acknowledged by the broker (PUBACK)
	Events        uint64 // events in those batches
	Acks          uint64 // end-to-end acknowledgements applied
	BadAcks       uint64 // acknowledgements refused as malformed
	BadNotices    uint64 // notice sets refused as invalid
	Connects      uint64 // sessions established
	Quarantined   uint64 // entries set aside as unsendable
	PublishErrors uint64
}

// New makes an uplink for a cabin. The ids must be valid wire ids.
func New(cfg Config, site, cabin string, q Queue, logger *slog.Logger) (*Uplink, error) {
	if errs := cfg.Validate("uplink."); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := wire.ValidateID(site); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	if err := wire.ValidateID(cabin); err != nil {
		return nil, fmt.Errorf("cabin: %w", err)
	}
	u := &Uplink{
		cfg:    cfg,
		site:   site,
		cabin:  cabin,
		topics: wire.TopicsFor(site, cabin),
		q:      q,
		logger: logger,
		state:  make(chan wire.State, 1),
	}
	switch cfg.Protocol {
	case Protocol5:
		return nil, errNoMQTT5
	default:
		// NATS, the production broker, speaks 3.1.1 only.
		u.dial = dialMQTT311
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
		Connects:      u.stats.connects.Load(),
		Quarantined:   u.stats.quarantined.Load(),
		PublishErrors: u.stats.publishErrors.Load(),
	}
}

// Run connects, drains and reconnects until ctx is done. It returns nil on
// cancellation; connection failures are logged and retried, never fatal.
func (u *Uplink) Run(ctx context.Context) error {
	opts, err := u.cfg.dialOptions(u.site, u.cabin)
	if err != nil {
		return fmt.Errorf("uplink: %w", err)
	}
	for attempt := 0; ; attempt++ {
		conn, err := u.dial(ctx, opts)
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
		attempt = -1
		u.stats.connects.Add(1)
		u.logger.Info("connected to broker", "broker", u.cfg.Broker, "protocol", conn.Protocol())
		u.session(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		u.logger.Warn("connection to broker lost", "err", conn.Err())
	}
}

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

// session runs one connected session until it drops or ctx is done.
func (u *Uplink) session(ctx context.Context, conn Conn) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	setup := func() error {
		if err := conn.Publish(sctx, u.topics.Status, 1, true, []byte(StatusOnline)); err != nil {
			return err
		}
		if err := conn.Subscribe(sctx, u.topics.Ack, 1, u.handleAck); err != nil {
			return err
		}
		return conn.Subscribe(sctx, u.topics.Notices, 1, u.handleNotices)
	}
	if err := setup(); err != nil {
		u.logger.Warn("session setup failed", "err", err)
		conn.Close()
		return
	}
	u.connected.Store(true)
	defer u.connected.Store(false)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); u.drain(sctx, conn) }()
	go func() { defer wg.Done(); u.publishStates(sctx, conn) }()
	select {
	case <-conn.Lost():
		cancel()
		wg.Wait()
		conn.Close()
	case <-ctx.Done():
		cancel()
		wg.Wait()
		// A clean disconnect does not fire the will: say offline ourselves,
		// but do not let a dead link hold up shutdown.
		octx, ocancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = conn.Publish(octx, u.topics.Status, 1, true, []byte(StatusOffline))
		ocancel()
		conn.Close()
	}
}

// drain leases batches from the outbox and publishes them, with at most
// InFlight batches awaiting their PUBACK.
func (u *Uplink) drain(ctx context.Context, conn Conn) {
	slots := make(chan struct{}, u.cfg.InFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	var limiter *rate.Limiter
	if u.cfg.RateLimit > 0 {
		limiter = rate.NewLimiter(rate.Limit(u.cfg.RateLimit), u.cfg.BatchEvents)
	}
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// Leave room for the sequence and envelope added to each entry.
		entries, err := u.q.Lease(ctx, u.cfg.BatchEvents, u.cfg.BatchBytes*3/4)
		if err != nil {
			<-slots
			if ctx.Err() == nil {
				u.logger.Error("lease from outbox", "err", err)
			}
			return
		}
		payload, seqs := u.encodeBatch(entries)
		if len(seqs) == 0 {
			<-slots
			continue
		}
		if limiter != nil && limiter.WaitN(ctx, len(seqs)) != nil {
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
				u.stats.publishErrors.Add(1)
				if ctx.Err() == nil {
					u.logger.Warn("publish batch", "events", len(seqs), "err", err)
				}
				return
			}
			if err := u.q.MarkSent(seqs); err != nil {
				u.logger.Error("mark batch sent", "err", err)
				return
			}
			u.stats.batches.Add(1)
			u.stats.events.Add(uint64(len(seqs)))
		}()
	}
}

// encodeBatch turns leased entries into one batch. An entry that cannot be
// decoded or is too large to ever send is quarantined, and a "dropped" event
// takes its sequence so that acknowledgements can move past it.
func (u *Uplink) encodeBatch(entries []outbox.Entry) ([]byte, []uint64) {
	batch := wire.Batch{V: wire.Version, Site: u.site, Cabin: u.cabin, Epoch: u.q.Epoch(), Events: make([]wire.Event, 0, len(entries))}
	seqs := make([]uint64, 0, len(entries))
	for _, e := range entries {
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
		if reason != "" {
			u.logger.Error("quarantining outbox entry", "seq", e.Seq, "reason", reason)
			if err := u.q.Quarantine(e.Seq, reason); err != nil {
				u.logger.Error("quarantine", "seq", e.Seq, "err", err)
			}
			u.stats.quarantined.Add(1)
			ev, _ = wire.NewEvent(e.Appended, wire.TypeDropped, wire.DroppedData{Reason: reason})
			ev.Seq = e.Seq
			if ev.Time.IsZero() {
				ev.Time = time.Now().UTC()
			}
			// The stand-in is not in the outbox any more: it is sent with
			// the batch but has no entry to mark.
			batch.Events = append(batch.Events, ev)
			continue
		}
		batch.Events = append(batch.Events, ev)
		seqs = append(seqs, e.Seq)
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

func (u *Uplink) handleAck(_ string, payload []byte) {
	ack, err := wire.DecodeAck(payload)
	if err != nil {
		u.stats.badAcks.Add(1)
		u.logger.Warn("ignoring malformed acknowledgement", "err", err)
		return
	}
	n, err := u.q.Confirm(ack.Epoch, ack.Seq)
	if err != nil {
		u.logger.Error("confirm acknowledged events", "epoch", ack.Epoch, "seq", ack.Seq, "err", err)
		return
	}
	u.stats.acks.Add(1)
	if n > 0 {
		u.logger.Debug("events confirmed end to end", "epoch", ack.Epoch, "up_to", ack.Seq, "confirmed", n)
	}
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
		if u.noticeVer.CompareAndSwap(cur, set.Version) {
			break
		}
	}
	if u.OnNotices != nil {
		u.OnNotices(set)
	}
}

// publishStates publishes each new state snapshot, retained.
func (u *Uplink) publishStates(ctx context.Context, conn Conn) {
	for {
		select {
		case <-ctx.Done():
			return
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
