package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// metric is one sample of the agent's Prometheus exposition.
type metric struct {
	name, help, kind string // kind: "counter" or "gauge"
	value            func() float64
}

// metrics lists what the agent exposes; values are read when scraped, so
// nothing on the hot path pays for them.
func (a *Agent) metrics() []metric {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	return []metric{
		{"events_appended_total", "Events accepted into the outbox.", "counter", func() float64 { return float64(a.appended.Load()) }},
		{"polls_total", "Controller polls.", "counter", func() float64 { return float64(a.polls.Load()) }},
		{"poll_errors_total", "Controller polls that failed.", "counter", func() float64 { return float64(a.pollErrors.Load()) }},
		{"samples_dropped_total", "Samples the state machine refused as implausible.", "counter", func() float64 { return float64(a.dropped.Load()) }},
		{"batches_published_total", "Event batches acknowledged by the broker.", "counter", func() float64 { return float64(a.up.Stats().Batches) }},
		{"acks_total", "End-to-end acknowledgements applied.", "counter", func() float64 { return float64(a.up.Stats().Acks) }},
		{"uplink_connected", "1 when connected to the broker.", "gauge", func() float64 { return b2f(a.up.Connected()) }},
		{"outbox_depth", "Events in the outbox, pending or sent and unconfirmed.", "gauge", func() float64 { return float64(a.ob.Stats().Depth()) }},
		{"outbox_acks_beyond_sent_total", "Acknowledgements that claimed events never sent (forged, or a restored outbox file); those events were kept.", "counter", func() float64 { return float64(a.ob.Stats().AcksBeyondSent) }},
		{"outbox_oldest_pending_seconds", "Age of the oldest pending event.", "gauge", func() float64 { return a.ob.Stats().OldestPending.Seconds() }},
		{"outbox_file_bytes", "Size of the outbox file (outbox.max_bytes bounds it).", "gauge", func() float64 { return float64(a.ob.Stats().FileBytes) }},
		{"outbox_evicted_total", "Events evicted from a full outbox (reported to the receiver as lost).", "counter", func() float64 { return float64(a.ob.Stats().Evicted) }},
		{"outbox_dropped_total", "Events refused by a full outbox or a full disk.", "counter", func() float64 { return float64(a.ob.Stats().Dropped) }},
		{"outbox_unreported_lost", "Lost sequences not yet in a report to the receiver.", "gauge", func() float64 { return float64(a.ob.Stats().UnreportedLost) }},
		{"outbox_epoch_rotations_total", "New outbox epochs started since start because the file was rolled back.", "counter", func() float64 { return float64(a.up.Stats().Rotations) }},
		{"uptime_seconds", "Seconds since the agent started.", "gauge", func() float64 { return time.Since(a.start).Seconds() }},
	}
}

// metricsHandler serves the metrics in the Prometheus text format (0.0.4).
// The agent writes the format itself: the client library links protobuf,
// procfs and a Go collector, 2.1 MB of the arm64 binary and init work paid
// on every cabin for ten plain numbers.
func (a *Agent) metricsHandler() http.Handler {
	ms := a.metrics()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 0, 2048)
		for _, m := range ms {
			name := "palier_agent_" + m.name
			b = append(b, "# HELP "...)
			b = append(b, name...)
			b = append(b, ' ')
			b = append(b, m.help...)
			b = append(b, "\n# TYPE "...)
			b = append(b, name...)
			b = append(b, ' ')
			b = append(b, m.kind...)
			b = append(b, '\n')
			b = append(b, name...)
			b = append(b, ' ')
			b = strconv.AppendFloat(b, m.value(), 'g', -1, 64)
			b = append(b, '\n')
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(b)
	})
}

// serveMetrics serves Prometheus metrics on the local listener until ctx is
// done.
func (a *Agent) serveMetrics(ctx context.Context) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", a.cfg.Metrics.Listen)
	if err != nil {
		a.logger.Warn("metrics listener unavailable", "listen", a.cfg.Metrics.Listen, "err", err)
		return
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.logger.Warn("metrics server stopped", "err", err)
	}
}
