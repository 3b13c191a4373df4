package receiver

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/palier-lifts/palier/receiver/situation"
)

// watchPlatform reads, every interval until ctx is done, what the
// platform's alerting rules and dashboards show: the shared consumers'
// backlog (a lag that grows, an ingest that stalled) and how many cabins
// are in each situation.
func (r *Receiver) watchPlatform(ctx context.Context, every time.Duration) error {
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
		r.countSituations(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// countSituations sets the cabins gauges from the store.
func (r *Receiver) countSituations(ctx context.Context) {
	cabins, situations, err := situation.Fleet(ctx, r.st, time.Now(), situation.Thresholds{})
	if err != nil {
		return
	}
	counts := map[string]int{}
	for _, name := range situation.Names {
		counts[name] = 0 // a situation no cabin is in shows 0, not nothing
	}
	for _, ss := range situations {
		for _, s := range ss {
			counts[s.Name]++
		}
	}
	r.metrics.Cabins.Set(float64(len(cabins)))
	for name, n := range counts {
		r.metrics.CabinsIn.WithLabelValues(name).Set(float64(n))
	}
}
