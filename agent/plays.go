package agent

import (
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Proof of play in the agent: the display's play records (livefeed
// "played" lines) become notice_shown telemetry events. The socket is
// local, but a display bug must not flood the outbox, so the agent checks
// each record's times against its own clock and merges records per notice,
// version, language and layout over each flush period: at most
// maxPlayKeys events per period, whatever the display sends.
const (
	// playFlushPeriod is how often merged records are appended. The display
	// sends a record per minute over the local socket, where it costs
	// nothing; over the uplink, ten minutes make a screen with 3 notices in
	// 3 languages 9 events per 10 minutes (about 1300 a day, 290 bytes
	// each) instead of 9 a minute, beside a heartbeat every 5 minutes. A
	// crash loses at most that much proof of play.
	playFlushPeriod = 10 * time.Minute
	// maxPlayKeys bounds the events of one period: every notice of a full
	// set (wire.MaxNotices) in each language, with room for a layout
	// change.
	maxPlayKeys = 2 * wire.MaxNotices * 3
	// playFutureSkew is how far past the agent's clock a record may end.
	playFutureSkew = 2 * time.Minute
	// maxPlayAge is how old a record may be: the display keeps records
	// while the agent is away, not for days.
	maxPlayAge = 24 * time.Hour
)

type playKey struct {
	notice      string
	version     uint64
	lang        string
	layout      string
	orientation string
	// slot is the record's end, truncated to playFlushPeriod: records a
	// display kept for hours while the agent was away merge per slot, not
	// into one span the schema would refuse.
	slot int64
}

// playAggregator merges play records until they are taken. Safe for
// concurrent use: the live feed's readers add, the flush loop takes.
type playAggregator struct {
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	pending map[playKey]*wire.NoticeShownData
	refused uint64 // records refused: bad times, or over maxPlayKeys
}

func newPlayAggregator(now func() time.Time, log *slog.Logger) *playAggregator {
	return &playAggregator{now: now, log: log, pending: map[playKey]*wire.NoticeShownData{}}
}

// add takes one record from the display (livefeed.Server.OnPlayed).
func (p *playAggregator) add(d wire.NoticeShownData) {
	now := p.now()
	reason := ""
	switch err := d.Validate(); {
	case err != nil:
		reason = err.Error()
	case d.To.After(now.Add(playFutureSkew)):
		reason = "ends in the future: " + d.To.Sub(now).Round(time.Second).String() + " past the agent's clock"
	case d.From.Before(now.Add(-maxPlayAge)):
		reason = "starts more than " + maxPlayAge.String() + " ago"
	}
	k := playKey{d.Notice, d.Version, d.Lang, d.Layout, d.Orientation, d.To.Truncate(playFlushPeriod).Unix()}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.pending[k]
	if reason == "" && m == nil && len(p.pending) >= maxPlayKeys {
		reason = "too many distinct notices this period"
	}
	if reason != "" {
		p.refused++
		// Logged once per period at most: a broken display repeats itself.
		if p.refused == 1 || len(p.pending) == 0 {
			p.log.Warn("play record from the display refused", "notice", d.Notice, "reason", reason, "refused", p.refused)
		}
		return
	}
	if m == nil {
		c := d
		p.pending[k] = &c
		return
	}
	// Merged, the span covers both and the time shown never exceeds it
	// (two displays, or a record sent twice, cannot claim more).
	if d.From.Before(m.From) {
		m.From = d.From
	}
	if d.To.After(m.To) {
		m.To = d.To
	}
	if span := m.To.Sub(m.From); span > wire.MaxPlayWindow {
		// Only records of nearly an hour each get here (a display set to
		// such a period): keep the newer, count the older as refused
		// rather than make a record the schema refuses.
		if d.To.Equal(m.To) {
			*m = d
		}
		p.refused++
		return
	}
	m.ShownMS = min(m.ShownMS+d.ShownMS, m.To.Sub(m.From).Milliseconds())
	m.Times = min(m.Times+d.Times, wire.MaxPlayTimes)
}

// take returns the merged records as events, oldest first, and starts a
// new period.
func (p *playAggregator) take() []wire.Event {
	p.mu.Lock()
	recs := make([]wire.NoticeShownData, 0, len(p.pending))
	for _, d := range p.pending {
		recs = append(recs, *d)
	}
	clear(p.pending)
	p.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].To.Equal(recs[j].To) {
			return recs[i].To.Before(recs[j].To)
		}
		return recs[i].Notice+recs[i].Lang < recs[j].Notice+recs[j].Lang
	})
	out := make([]wire.Event, 0, len(recs))
	for _, d := range recs {
		ev, err := wire.NewEvent(d.To, wire.TypeNoticeShown, d)
		if err != nil {
			p.log.Error("encode notice_shown event", "err", err)
			continue
		}
		out = append(out, ev)
	}
	return out
}

// Refused returns how many play records the agent refused.
func (p *playAggregator) Refused() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}
