package fleet

import (
	"context"
	"time"
)

// OutageReport is one outage as the cabins saw it: some lost their
// session (a broker restarted under them, say) and all came back. The
// generator does not cause it and does not know when the broker returned,
// so times run from the first cabin lost.
type OutageReport struct {
	AtSeconds    float64 `json:"at_s"` // since the run began
	MinConnected int     `json:"min_connected"`
	// Events in the outboxes when every cabin was connected again.
	Backlog uint64 `json:"backlog"`
	// Seconds from the first cabin lost until every cabin was connected
	// again, and until everything appended by then was confirmed end to
	// end; 0 when it did not happen before the run ended.
	AllConnectedSeconds     float64 `json:"all_connected_s"`
	BacklogConfirmedSeconds float64 `json:"backlog_confirmed_s"`
	Recovered               bool    `json:"recovered"`
}

// maxOutages bounds the list: a flapping broker must not grow the report
// without end; the later ones are only counted.
const maxOutages = 20

// outageWatch follows the count of connected cabins once the whole fleet
// has been connected, and records each fall and recovery.
type outageWatch struct {
	f       *Fleet
	start   time.Time
	full    bool // the whole fleet was connected at least once
	current *OutageReport
	began   time.Time
	marks   []uint64 // each cabin's last sequence when all were back
	done    []OutageReport
	more    int // outages past maxOutages
}

// watchOutages samples the fleet every 100 ms until ctx ends and returns
// what it saw; an outage still open at the end is returned unrecovered.
func (f *Fleet) watchOutages(ctx context.Context) ([]OutageReport, int) {
	w := &outageWatch{f: f, start: f.wallStart}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// A last look: the fleet may have recovered since the tick.
			if w.current != nil {
				w.step(time.Now(), f.connected())
			}
			if w.current != nil {
				w.record()
			}
			return w.done, w.more
		case now := <-t.C:
			w.step(now, f.connected())
		}
	}
}

func (w *outageWatch) step(now time.Time, connected int) {
	n := len(w.f.cabins)
	switch {
	case !w.full:
		w.full = connected == n
	case w.current == nil:
		if connected < n {
			w.current = &OutageReport{AtSeconds: now.Sub(w.start).Seconds(), MinConnected: connected}
			w.began, w.marks = now, nil
		}
	default:
		o := w.current
		o.MinConnected = min(o.MinConnected, connected)
		if w.marks == nil {
			if connected < n {
				return
			}
			o.AllConnectedSeconds = now.Sub(w.began).Seconds()
			w.marks = make([]uint64, n)
			for i, c := range w.f.cabins {
				st := c.ob.Stats()
				w.marks[i] = st.LastSeq
				o.Backlog += st.Depth()
			}
		}
		for i, c := range w.f.cabins {
			if c.unconfirmedUpTo(w.marks[i]) {
				return
			}
		}
		o.BacklogConfirmedSeconds = now.Sub(w.began).Seconds()
		o.Recovered = true
		w.record()
	}
}

func (w *outageWatch) record() {
	if len(w.done) < maxOutages {
		w.done = append(w.done, *w.current)
	} else {
		w.more++
	}
	w.current = nil
}
