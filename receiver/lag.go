package receiver

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watchConsumers reads the shared consumers' backlog every interval into
// the metrics the platform's alerting rules use (a lag that grows, an
// ingest that stalled), until ctx is done.
func (r *Receiver) watchConsumers(ctx context.Context, every time.Duration) error {
	js, err := jetstream.New(r.nc)
	if err != nil {
		return err
	}
	s := r.cfg.Stream
	pairs := [][2]string{{s.Name, s.Durable}, {s.State, s.StateDurable}}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, p := range pairs {
			c, err := js.Consumer(ctx, p[0], p[1])
			if err != nil {
				continue // not made yet, or NATS away: the next round
			}
			info, err := c.Info(ctx)
			if err != nil {
				continue
			}
			r.metrics.ConsumerPending.WithLabelValues(p[1]).Set(float64(info.NumPending))
			r.metrics.ConsumerAckPending.WithLabelValues(p[1]).Set(float64(info.NumAckPending))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
