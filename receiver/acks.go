package receiver

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Acker publishes end-to-end acks to the devices over core NATS; the NATS
// MQTT listener hands them to the agent at QoS 0. Acks are cumulative, so a
// lost one is repaired by the next or by the periodic re-send.
type Acker struct {
	nc      *nats.Conn
	st      store.Store
	log     *slog.Logger
	metrics *Metrics
}

// NewAcker makes an Acker.
func NewAcker(nc *nats.Conn, st store.Store, metrics *Metrics, logger *slog.Logger) *Acker {
	return &Acker{nc: nc, st: st, log: logger, metrics: metrics}
}

// Publish sends one cabin's ack.
func (a *Acker) Publish(c store.Contiguous) {
	b, err := json.Marshal(wire.Ack{V: wire.Version, Epoch: c.Epoch, Seq: c.Seq})
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
			a.Publish(c)
		}
	}
}
