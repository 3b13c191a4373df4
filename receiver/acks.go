package receiver

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Acker publishes end-to-end acks to the devices over core NATS; the NATS
// MQTT listener hands them to the agent at QoS 0. Acks are cumulative, so a
// lost one is repaired by the next or by the periodic re-send.
//
// To an agent whose batches say it understands them (wire.Batch.AckRanges)
// an ack also carries the ranges stored above a gap, so that the agent
// deletes them instead of sending them again; agents before that refuse an
// ack with a field they do not know, so they get the cumulative part only.
type Acker struct {
	nc      *nats.Conn
	st      store.Store
	log     *slog.Logger
	metrics *Metrics

	mu     sync.Mutex
	ranges map[[2]string]bool // site, cabin → its latest batch set AckRanges
	// sent is the highest sequence this receiver acknowledged per epoch:
	// an ack read before a concurrent commit (another ingest worker's,
	// the resend's) must not reach the agent after the newer one, which
	// would take the sequences it no longer holds for lost.
	sent map[store.EpochKey]sentAck
}

type sentAck struct {
	seq uint64
	at  time.Time
}

// NewAcker makes an Acker.
func NewAcker(nc *nats.Conn, st store.Store, metrics *Metrics, logger *slog.Logger) *Acker {
	return &Acker{nc: nc, st: st, log: logger, metrics: metrics, ranges: map[[2]string]bool{}, sent: map[store.EpochKey]sentAck{}}
}

// Saw records what a cabin's latest batch says it understands.
func (a *Acker) Saw(b *wire.Batch) {
	k := [2]string{b.Site, b.Cabin}
	a.mu.Lock()
	defer a.mu.Unlock()
	if b.AckRanges {
		a.ranges[k] = true
	} else {
		delete(a.ranges, k)
	}
}

func (a *Acker) takesRanges(site, cabin string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ranges[[2]string{site, cabin}]
}

// Publish sends one cabin's ack; with ranges, to an agent that takes
// them, it reads and adds what is stored above a gap (ranges is false when
// nothing can be: the caller stored nothing above the contiguous sequence).
func (a *Acker) Publish(ctx context.Context, c store.Contiguous, ranges bool) {
	ack := wire.Ack{V: wire.Version, Epoch: c.Epoch, Seq: c.Seq}
	if ranges && a.takesRanges(c.Site, c.Cabin) {
		islands, err := a.st.StoredAbove(ctx, store.EpochKey{Site: c.Site, Cabin: c.Cabin, Epoch: c.Epoch}, c.Seq, wire.MaxRanges)
		if err != nil {
			a.log.Warn("read stored ranges for an ack; sending the cumulative part", "site", c.Site, "cabin", c.Cabin, "err", err)
		}
		// An island that starts right after Seq (the contiguous sequence
		// read before a concurrent commit) extends it.
		for len(islands) > 0 && islands[0][0] <= ack.Seq+1 {
			ack.Seq = max(ack.Seq, islands[0][1])
			islands = islands[1:]
		}
		ack.Stored = islands
	}
	if ack.Seq == 0 && len(ack.Stored) == 0 {
		return // nothing stored to say (or an agent that takes no ranges)
	}
	// Contiguous sequences only grow in the store: a lower one than this
	// receiver sent is an older read. Say the newer word again instead.
	key := store.EpochKey{Site: c.Site, Cabin: c.Cabin, Epoch: c.Epoch}
	a.mu.Lock()
	if prev := a.sent[key]; prev.seq > ack.Seq {
		ack.Seq = prev.seq
		for len(ack.Stored) > 0 && ack.Stored[0][0] <= ack.Seq+1 {
			ack.Seq = max(ack.Seq, ack.Stored[0][1])
			ack.Stored = ack.Stored[1:]
		}
	}
	a.sent[key] = sentAck{seq: ack.Seq, at: time.Now()}
	a.mu.Unlock()
	b, err := json.Marshal(ack)
	if err != nil {
		a.log.Error("encode ack", "err", err)
		return
	}
	if err := a.nc.Publish(wire.AckSubject(c.Site, c.Cabin), b); err != nil {
		a.log.Warn("publish ack", "site", c.Site, "cabin", c.Cabin, "err", err)
		return
	}
	a.metrics.AcksPublished.Inc()
}

// Resend publishes, every interval until ctx is done, the latest ack of
// every epoch that received events within window.
func (a *Acker) Resend(ctx context.Context, interval, window time.Duration, clock func() time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cs, err := a.st.RecentAcks(ctx, clock().Add(-window))
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("read acks to re-send", "err", err)
			}
			continue
		}
		for _, c := range cs {
			a.Publish(ctx, c, true)
		}
		a.forget(time.Now().Add(-2 * window))
	}
}

// forget drops what was sent to epochs not acknowledged since before: the
// map stays the size of the cabins that send.
func (a *Acker) forget(before time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, s := range a.sent {
		if s.at.Before(before) {
			delete(a.sent, k)
		}
	}
}
