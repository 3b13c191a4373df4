package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves Prometheus metrics on the local listener until ctx is
// done. Metrics read the running totals when scraped, so nothing on the hot
// path pays for them.
func (a *Agent) serveMetrics(ctx context.Context) {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "palier_agent", Name: name, Help: help}, f))
	}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "palier_agent", Name: name, Help: help}, f))
	}
	counter("events_appended_total", "Events accepted into the outbox.", func() float64 { return float64(a.appended.Load()) })
	counter("polls_total", "Controller polls.", func() float64 { return float64(a.polls.Load()) })
	counter("poll_errors_total", "Controller polls that failed.", func() float64 { return float64(a.pollErrors.Load()) })
	counter("samples_dropped_total", "Samples the state machine refused as implausible.", func() float64 { return float64(a.dropped.Load()) })
	counter("batches_published_total", "Event batches acknowledged by the broker.", func() float64 { return float64(a.up.Stats().Batches) })
	counter("acks_total", "End-to-end acknowledgements applied.", func() float64 { return float64(a.up.Stats().Acks) })
	gauge("uplink_connected", "1 when connected to the broker.", func() float64 {
		if a.up.Connected() {
			return 1
		}
		return 0
	})
	gauge("outbox_depth", "Events in the outbox, pending or sent and unconfirmed.", func() float64 { return float64(a.ob.Stats().Depth()) })
	gauge("outbox_oldest_pending_seconds", "Age of the oldest pending event.", func() float64 { return a.ob.Stats().OldestPending.Seconds() })
	gauge("uptime_seconds", "Seconds since the agent started.", func() float64 { return time.Since(a.start).Seconds() })

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
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
