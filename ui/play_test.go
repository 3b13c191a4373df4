package ui

import (
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// observe runs a recorder over what m shows, once a second from start for
// d, as the display does, and returns every record including the last
// period's.
func observe(m *Model, r *PlayRecorder, in Input, start time.Time, d time.Duration) []wire.NoticeShownData {
	var out []wire.NoticeShownData
	for t := start; !t.After(start.Add(d)); t = t.Add(time.Second) {
		in.Now = t
		out = append(out, r.Observe(in, m.View(in))...)
	}
	return append(out, r.Flush()...)
}

// TestPlayRecorderFollowsTheRotation shows two notices in three languages
// (6 s each, so 36 s a round) for three minutes: each notice and language
// is on screen 30 s in all, five times, in one record per minute, and the
// records say the layout.
func TestPlayRecorderFollowsTheRotation(t *testing.T) {
	m := model(t, func(c *Config) { c.Layout = "1024x600"; c.Orientation = "portrait" })
	start := time.Unix(1_800_000_000, 0).UTC() // a multiple of 36 s and of a minute
	ns := set(notice("ag", wire.PriorityNormal, t0, nil), notice("eau", wire.PriorityNormal, t0.Add(time.Hour), nil))
	ns.Version = 7
	r := NewPlayRecorder(m.Config())
	recs := observe(m, r, Input{State: st(nil), Notices: ns, AgentUp: true}, start, 3*time.Minute)

	type key struct{ notice, lang string }
	shown := map[key]int64{}
	times := map[key]int{}
	for _, p := range recs {
		if err := p.Validate(); err != nil {
			t.Fatalf("record %+v: %v", p, err)
		}
		if p.Version != 7 || p.Layout != "1024x600" || p.Orientation != "portrait" {
			t.Fatalf("record %+v: want version 7 at 1024x600 portrait", p)
		}
		if p.To.Sub(p.From) > time.Minute+DefaultMaxPlayGap {
			t.Fatalf("record %+v spans more than a period", p)
		}
		k := key{p.Notice, p.Lang}
		shown[k] += p.ShownMS
		times[k] += p.Times
	}
	if len(shown) != 6 {
		t.Fatalf("%d notice-language pairs, want 6: %v", len(shown), shown)
	}
	for k, ms := range shown {
		if ms != 30_000 || times[k] != 5 {
			t.Errorf("%v: shown %d ms, %d times; want 30000 ms, 5 times", k, ms, times[k])
		}
	}
	// One record per pair per minute at most: 3 minutes, 6 pairs.
	if len(recs) > 18 {
		t.Errorf("%d records for 6 pairs over 3 minutes", len(recs))
	}
}

// TestPlayRecorderCountsOnlyWhatPassengersSee: under an overlay (an alarm,
// or no state yet) the notice is not on screen; time the display did not
// observe (suspended) is not claimed.
func TestPlayRecorderCountsOnlyWhatPassengersSee(t *testing.T) {
	m := model(t, func(c *Config) { c.Languages = []string{wire.LangFR} })
	start := time.Unix(1_800_000_000, 0).UTC()
	ns := set(notice("ag", wire.PriorityNormal, t0, nil))
	if recs := observe(m, NewPlayRecorder(m.Config()), Input{State: st(func(s *wire.State) { s.Alarm = true }), Notices: ns, AgentUp: true}, start, time.Minute); len(recs) != 0 {
		t.Fatalf("under the alarm overlay: %+v", recs)
	}
	if recs := observe(m, NewPlayRecorder(m.Config()), Input{Notices: ns}, start, time.Minute); len(recs) != 0 {
		t.Fatalf("before any state: %+v", recs)
	}

	r := NewPlayRecorder(m.Config())
	in := Input{State: st(nil), Notices: ns, AgentUp: true}
	var recs []wire.NoticeShownData
	for _, d := range []time.Duration{0, time.Second, 2 * time.Second, 40 * time.Second, 41 * time.Second} {
		in.Now = start.Add(d)
		recs = append(recs, r.Observe(in, m.View(in))...)
	}
	recs = append(recs, r.Flush()...)
	if len(recs) != 1 || recs[0].ShownMS != 3000 || recs[0].Times != 1 {
		t.Fatalf("with a 38 s gap: %+v, want 3 s shown once", recs)
	}
}
