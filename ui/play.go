package ui

import (
	"sort"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Play recording defaults.
const (
	// DefaultPlayPeriod is the span a play record covers: one record per
	// notice, version and language per minute, whatever the rotation does.
	DefaultPlayPeriod = time.Minute
	// DefaultMaxPlayGap is the longest time between two observations that
	// still counts as shown: a display that was suspended or starved does
	// not claim the gap.
	DefaultMaxPlayGap = 5 * time.Second
)

// PlayRecorder turns what the screen shows, observed every second or so,
// into play records (proof of play): per notice, notice set version and
// language, how long it was on screen and how many times it came on, one
// record per Period. A notice counts as shown while it is the View's
// notice and no overlay covers the screen. It is not safe for concurrent
// use: one goroutine observes.
type PlayRecorder struct {
	// Period is the span of one record (DefaultPlayPeriod if zero).
	Period time.Duration
	// MaxGap caps the time credited between two observations
	// (DefaultMaxPlayGap if zero).
	MaxGap time.Duration

	layout, orientation string

	bucket  time.Time // start of the current period; zero before the first observation
	last    time.Time // the previous observation
	showing playKey   // what the previous observation showed; zero: nothing
	acc     map[playKey]*playAcc
}

type playKey struct {
	notice  string
	version uint64
	lang    string
}

type playAcc struct {
	from, to time.Time
	shown    time.Duration
	times    int
}

// NewPlayRecorder returns a recorder for the screens of cfg's layout.
func NewPlayRecorder(cfg Config) *PlayRecorder {
	return &PlayRecorder{layout: cfg.Layout, orientation: cfg.Orientation, acc: map[playKey]*playAcc{}}
}

// Observe records that v, computed from in, is on screen at in.Now. It
// returns the records of the periods that ended, if any.
func (r *PlayRecorder) Observe(in Input, v View) []wire.NoticeShownData {
	now := in.Now
	period, gap := r.Period, r.MaxGap
	if period <= 0 {
		period = DefaultPlayPeriod
	}
	if gap <= 0 {
		gap = DefaultMaxPlayGap
	}
	var out []wire.NoticeShownData
	if !r.last.IsZero() && now.After(r.last) {
		// What was on screen since the previous observation stayed there.
		if r.showing != (playKey{}) && now.Sub(r.last) <= gap {
			a := r.acc[r.showing]
			if a.from.IsZero() {
				a.from = r.last
			}
			a.to = now
			a.shown += now.Sub(r.last)
		}
	}
	if b := now.Truncate(period); !b.Equal(r.bucket) {
		out = r.flush()
		r.bucket = b
	}
	var k playKey
	if v.Notice.ID != "" && v.Overlay.Kind == OverlayNone && in.Notices != nil {
		k = playKey{notice: v.Notice.ID, version: in.Notices.Version, lang: v.Lang}
	}
	if k != (playKey{}) {
		a := r.acc[k]
		if a == nil {
			// New in this period: it came on now, or was carried over.
			a = &playAcc{times: 1}
			r.acc[k] = a
		} else if k != r.showing {
			a.times++
		}
	}
	r.showing, r.last = k, now
	return out
}

// Flush returns the records of the current period so far and starts a new
// one: for a display that stops.
func (r *PlayRecorder) Flush() []wire.NoticeShownData {
	out := r.flush()
	r.showing = playKey{}
	return out
}

func (r *PlayRecorder) flush() []wire.NoticeShownData {
	var out []wire.NoticeShownData
	for k, a := range r.acc {
		// A notice seen only at the last instant has no time yet: it is
		// counted in the next period, where it carries over.
		if a.shown < time.Millisecond {
			continue
		}
		out = append(out, wire.NoticeShownData{
			Notice: k.notice, Version: k.version, Lang: k.lang,
			Layout: r.layout, Orientation: r.orientation,
			From: a.from.UTC(), To: a.to.UTC(), ShownMS: a.shown.Milliseconds(), Times: min(a.times, wire.MaxPlayTimes),
		})
	}
	clear(r.acc)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Notice != out[j].Notice {
			return out[i].Notice < out[j].Notice
		}
		return out[i].Lang < out[j].Lang
	})
	return out
}
