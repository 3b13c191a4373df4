package fleet

import (
	"fmt"
	"io"
	"time"
)

// Report is what a run measured. Rates are over the generation window.
type Report struct {
	Mode       string  `json:"mode"`
	Cabins     int     `json:"cabins"`
	Brokers    int     `json:"brokers"`
	TimeFactor float64 `json:"time_factor"`

	OpenSeconds     float64 `json:"open_seconds"`     // opening every outbox
	GenerateSeconds float64 `json:"generate_seconds"` // cabins generating
	DrainSeconds    float64 `json:"drain_seconds"`    // from the end of generation to every outbox empty
	Drained         bool    `json:"drained"`

	ConnectedAtEnd int `json:"connected_at_end"` // when generation ended

	Appended  uint64 `json:"appended"`  // accepted by the outboxes
	Sent      uint64 `json:"sent"`      // taken by the broker (PUBACK), resends included
	Confirmed uint64 `json:"confirmed"` // confirmed end to end by the receiver
	Depth     uint64 `json:"depth"`     // left in the outboxes

	AppendedPerSecond  float64 `json:"appended_per_s"`
	SentPerSecond      float64 `json:"sent_per_s"`
	ConfirmedPerSecond float64 `json:"confirmed_per_s"`

	// Confirmation latency: Append called to the end-to-end ack applied.
	LatencyP50ms float64 `json:"confirm_p50_ms"`
	LatencyP99ms float64 `json:"confirm_p99_ms"`
	LatencyMaxms float64 `json:"confirm_max_ms"`

	// MaxLagSeconds is how far, beyond one tick, a cabin's simulated time
	// fell behind the clock: above a few ticks, the generator itself was
	// the bottleneck.
	MaxLagSeconds float64 `json:"max_lag_s"`

	Polls        uint64 `json:"polls"`
	AppendErrors uint64 `json:"append_errors"`
	Connects     uint64 `json:"connects"`
	// Errors are the warnings and errors the cabins' outboxes and uplinks
	// logged, by kind.
	Errors map[string]uint64 `json:"errors"`

	Storm *StormReport `json:"storm,omitempty"`
	// Outages are the broker's outages the cabins saw in a day (not in a
	// storm, which makes its own); MoreOutages counts those past the
	// first 20.
	Outages     []OutageReport `json:"outages,omitempty"`
	MoreOutages int            `json:"more_outages,omitempty"`

	Process    process `json:"process"`
	CPUPercent float64 `json:"cpu_percent"` // of one core, over the run
	Goroutines int     `json:"goroutines"`
}

// StormReport is the recovery after every uplink came back at once.
type StormReport struct {
	OutageSeconds float64 `json:"outage_s"`
	Backlog       uint64  `json:"backlog"` // events in the outboxes when the uplinks came back
	// Seconds from the uplinks' restart until every cabin was connected,
	// and until everything appended before it was confirmed end to end;
	// 0 when it did not happen within DrainTimeout.
	AllConnectedSeconds     float64 `json:"all_connected_s"`
	BacklogConfirmedSeconds float64 `json:"backlog_confirmed_s"`
	PeakConnected           int     `json:"peak_connected"`
	Recovered               bool    `json:"recovered"`
}

// fill takes the rates over the generation window.
func (r *Report) fill(f *Fleet, window time.Duration) {
	r.fillTotals(f)
	s := window.Seconds()
	r.AppendedPerSecond = float64(r.Appended) / s
	r.SentPerSecond = float64(r.Sent) / s
	r.ConfirmedPerSecond = float64(r.Confirmed) / s
}

// fillTotals takes the counts as they are now.
func (r *Report) fillTotals(f *Fleet) {
	r.Appended, r.Sent, r.Confirmed, r.Depth, r.Polls, r.AppendErrors, r.Connects = 0, 0, 0, 0, 0, 0, 0
	for _, c := range f.cabins {
		r.Appended += c.Appended()
		r.Confirmed += c.Confirmed()
		r.Depth += c.Depth()
		r.AppendErrors += c.appendErrors.Load()
		r.Polls += c.polls
		st := c.up.Stats()
		r.Sent += st.Events
		r.Connects += st.Connects
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.LatencyP50ms = ms(f.lat.quantile(0.50))
	r.LatencyP99ms = ms(f.lat.quantile(0.99))
	r.LatencyMaxms = ms(time.Duration(f.lat.max.Load()))
	r.MaxLagSeconds = time.Duration(f.maxLag.Load()).Seconds()
	r.Errors = f.errs.snapshot()
}

// WriteSummary prints the report for people.
func (r *Report) WriteSummary(w io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("fleet: %d cabins, mode %s, time ×%g, %d broker(s)", r.Cabins, r.Mode, r.TimeFactor, r.Brokers)
	p("  opened in %.1f s; generated %.1f s; drained in %.1f s (drained: %v)", r.OpenSeconds, r.GenerateSeconds, r.DrainSeconds, r.Drained)
	p("  connected at end of generation: %d of %d; sessions opened: %d", r.ConnectedAtEnd, r.Cabins, r.Connects)
	p("  events appended %d (%.1f/s), sent %d (%.1f/s), confirmed %d (%.1f/s), left %d", r.Appended, r.AppendedPerSecond, r.Sent, r.SentPerSecond, r.Confirmed, r.ConfirmedPerSecond, r.Depth)
	p("  confirm latency p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.LatencyP50ms, r.LatencyP99ms, r.LatencyMaxms)
	p("  polls %d; generator lag at most %.1f s beyond a tick", r.Polls, r.MaxLagSeconds)
	if s := r.Storm; s != nil {
		p("  storm: %.0f s outage, backlog %d events; all connected after %.1f s, backlog confirmed after %.1f s (recovered: %v)",
			s.OutageSeconds, s.Backlog, s.AllConnectedSeconds, s.BacklogConfirmedSeconds, s.Recovered)
	}
	for _, o := range r.Outages {
		p("  outage at %.0f s: down to %d connected; all connected after %.1f s, backlog of %d confirmed after %.1f s (recovered: %v)",
			o.AtSeconds, o.MinConnected, o.AllConnectedSeconds, o.Backlog, o.BacklogConfirmedSeconds, o.Recovered)
	}
	if r.MoreOutages > 0 {
		p("  and %d more outages", r.MoreOutages)
	}
	p("  process: RSS %.0f MiB (peak %.0f), CPU %.1f s (%.0f %% of a core), %d threads, %d goroutines, %d fds",
		float64(r.Process.RSSBytes)/(1<<20), float64(r.Process.PeakRSSBytes)/(1<<20), r.Process.CPUSeconds, r.CPUPercent, r.Process.Threads, r.Goroutines, r.Process.FDs)
	if r.AppendErrors > 0 {
		p("  append errors: %d", r.AppendErrors)
	}
	if len(r.Errors) == 0 {
		p("  errors: none")
	}
	for _, k := range sortedKinds(r.Errors) {
		p("  error ×%d: %s", r.Errors[k], k)
	}
	return nil
}
