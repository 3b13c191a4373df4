package report

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

// Monthly is a site's report for one calendar month, for the co-owners:
// each cabin's availability, use, faults, entrapments, alarms and an
// energy estimate, and the notices shown.
type Monthly struct {
	Site     string    `json:"site"`
	Month    string    `json:"month"`     // YYYY-MM
	TimeZone string    `json:"time_zone"` // of the month's bounds and days
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	// Made is when the report was computed: a month not yet over is
	// reported up to then.
	Made   time.Time      `json:"made"`
	Cabins []MonthlyCabin `json:"cabins"`
	// NoticesShown is the proof of play of the site's notices.
	NoticesShown NoticesShown `json:"notices_shown"`
	// EnergyBasis says what the energy estimates rest on; empty when no
	// cabin of the site has energy parameters.
	EnergyBasis string `json:"energy_basis,omitempty"`
}

// MonthlyCabin is one cabin's part of the monthly report.
type MonthlyCabin struct {
	Cabin
	// FaultSeconds sums the faults' durations within the month.
	FaultSeconds float64     `json:"fault_s"`
	Faults       []FaultSpan `json:"faults"`
	// Entrapments are the entrapments raised in the month, from the
	// alarms' lifecycle.
	Entrapments []Incident `json:"entrapments"`
	// Alarms are the alarm button's alarms raised in the month.
	Alarms AlarmSummary `json:"alarms"`
	// Energy is nil when the cabin has no energy parameters.
	Energy *EnergyEstimate `json:"energy"`
}

// FaultSpan is one controller fault raised in the month.
type FaultSpan struct {
	Code     int       `json:"code"`
	Text     string    `json:"text,omitempty"`
	Severity string    `json:"severity"`
	Raised   time.Time `json:"raised"`
	// Cleared is nil when the fault was still active at the end of the
	// month (or now); Seconds then runs until then.
	Cleared *time.Time `json:"cleared"`
	Seconds float64    `json:"seconds"`
}

// Incident is an alarm or entrapment raised in the month.
type Incident struct {
	Raised time.Time `json:"raised"`
	// AckSeconds is how long after it was raised an operator
	// acknowledged it; nil if nobody did.
	AckSeconds *float64 `json:"ack_s"`
	AckedBy    string   `json:"acked_by,omitempty"`
	// Seconds is how long it lasted: until it was closed, else until the
	// end of the month (or now), Open then set.
	Seconds float64 `json:"seconds"`
	Open    bool    `json:"open,omitempty"`
}

// AlarmSummary counts the alarms and says how fast they were acknowledged.
type AlarmSummary struct {
	Count        int `json:"count"`
	Acknowledged int `json:"acknowledged"`
	// MedianAckSeconds and MaxAckSeconds are over the acknowledged ones;
	// nil when none was.
	MedianAckSeconds *float64   `json:"median_ack_s"`
	MaxAckSeconds    *float64   `json:"max_ack_s"`
	List             []Incident `json:"list"`
	// Truncated: the cabin has more alarms in the month alone than one
	// read returns (store.MaxLimit); the newest of the month are left out.
	Truncated bool `json:"truncated,omitempty"`
}

// NoticesShown is the seam for proof of play: which notice was shown
// where and for how long. Until the store records it, Available is false
// and Note says so; nothing is made up.
type NoticesShown struct {
	Available bool          `json:"available"`
	Note      string        `json:"note,omitempty"`
	Notices   []NoticeShown `json:"notices"`
}

// NoticeShown is one notice's time on the screens of one cabin, in one
// language.
type NoticeShown struct {
	Notice   string  `json:"notice"`
	Cabin    string  `json:"cabin"`
	Language string  `json:"language"`
	Times    int     `json:"times"`
	Seconds  float64 `json:"seconds"`
}

// PlaySource gives what the screens of a site showed over a period: the
// proof of play store, when there is one.
type PlaySource interface {
	NoticesShown(ctx context.Context, site string, since, until time.Time) ([]NoticeShown, error)
}

// noteNoPlay says why a report has no notices shown.
const noteNoPlay = "not yet available: the screens' proof of play is not recorded by this receiver yet"

// MonthOptions are a monthly report's inputs besides the store.
type MonthOptions struct {
	// Energy is the site's energy parameters; a cabin without any gets
	// no estimate.
	Energy SiteEnergy
	// Play is the proof of play; nil: not available.
	Play PlaySource
}

// ParseMonth reads YYYY-MM and returns the month's bounds in loc.
func ParseMonth(s string, loc *time.Location) (since, until time.Time, err error) {
	t, err := time.ParseInLocation("2006-01", s, loc)
	if err != nil || len(s) != 7 {
		return since, until, fmt.Errorf("month %q is not YYYY-MM (e.g. 2026-11)", s)
	}
	return t, t.AddDate(0, 1, 0), nil
}

// Month builds the monthly report of site for month (YYYY-MM) in loc.
// A month not over yet is reported up to now; a month that has not begun
// is an error.
func Month(ctx context.Context, st store.Store, site, month string, now time.Time, loc *time.Location, o MonthOptions) (Monthly, error) {
	since, until, err := ParseMonth(month, loc)
	m := Monthly{Site: site, Month: month, TimeZone: loc.String(), Since: since.UTC(), Until: until.UTC(), Made: now.UTC(),
		Cabins: []MonthlyCabin{}, NoticesShown: NoticesShown{Notices: []NoticeShown{}}}
	if err != nil {
		return m, err
	}
	if !now.After(since) {
		return m, fmt.Errorf("month %s has not begun", month)
	}
	end := until
	if now.Before(end) {
		end = now
	}
	all, err := st.Cabins(ctx)
	if err != nil {
		return m, fmt.Errorf("monthly report %s: %w", site, err)
	}
	for _, c := range all {
		if c.Site != site {
			continue
		}
		rc, x, err := cabin(ctx, st, site, c.Cabin, since, until, now, loc)
		if err != nil {
			return m, fmt.Errorf("monthly report %s/%s: %w", site, c.Cabin, err)
		}
		mc := MonthlyCabin{Cabin: rc, Faults: x.faults, Entrapments: []Incident{}, Alarms: AlarmSummary{List: []Incident{}}}
		if mc.Faults == nil {
			mc.Faults = []FaultSpan{}
		}
		for _, f := range x.faults {
			mc.FaultSeconds += f.Seconds
		}
		if err := incidents(ctx, st, &mc, site, c.Cabin, since, end); err != nil {
			return m, fmt.Errorf("monthly report %s/%s: %w", site, c.Cabin, err)
		}
		if p := o.Energy.For(c.Cabin); p != nil {
			e := p.estimate(rc.MonitoredSeconds, x.runningSeconds, rc.Trips, x.floors)
			mc.Energy = &e
			m.EnergyBasis = EnergyBasis
		}
		m.Cabins = append(m.Cabins, mc)
	}
	if o.Play == nil {
		m.NoticesShown.Note = noteNoPlay
		return m, nil
	}
	shown, err := o.Play.NoticesShown(ctx, site, since, end)
	if err != nil {
		return m, fmt.Errorf("monthly report %s: notices shown: %w", site, err)
	}
	m.NoticesShown.Available = true
	if shown != nil {
		m.NoticesShown.Notices = shown
	}
	return m, nil
}

// incidents fills the cabin's entrapments and alarms raised in [since,
// end) from the alarms' lifecycle.
func incidents(ctx context.Context, st store.Store, mc *MonthlyCabin, site, cab string, since, end time.Time) error {
	// Only the month's alarms are read, however many other months hold:
	// a page short of store.MaxLimit is all of them.
	list, err := st.AlarmsRaised(ctx, site, cab, since, end, store.MaxLimit)
	if err != nil {
		return err
	}
	mc.Alarms.Truncated = len(list) == store.MaxLimit
	var acks []float64
	for _, a := range list { // oldest first
		in := Incident{Raised: a.Raised.UTC(), AckedBy: a.AckedBy}
		if !a.Acked.IsZero() && a.Acked.Before(end) {
			s := a.Acked.Sub(a.Raised).Seconds()
			in.AckSeconds = &s
		} else {
			in.AckedBy = ""
		}
		if !a.Closed.IsZero() && a.Closed.Before(end) {
			in.Seconds = a.Closed.Sub(a.Raised).Seconds()
		} else {
			in.Seconds, in.Open = end.Sub(a.Raised).Seconds(), true
		}
		if a.Kind == store.AlarmKindEntrapment {
			mc.Entrapments = append(mc.Entrapments, in)
			continue
		}
		mc.Alarms.List = append(mc.Alarms.List, in)
		mc.Alarms.Count++
		if in.AckSeconds != nil {
			mc.Alarms.Acknowledged++
			acks = append(acks, *in.AckSeconds)
		}
	}
	if len(acks) > 0 {
		slices.Sort(acks)
		med := acks[len(acks)/2]
		if len(acks)%2 == 0 {
			med = (acks[len(acks)/2-1] + acks[len(acks)/2]) / 2
		}
		mx := acks[len(acks)-1]
		mc.Alarms.MedianAckSeconds, mc.Alarms.MaxAckSeconds = &med, &mx
	}
	return nil
}

// Languages the monthly report is written in; the first is the default.
var Languages = []string{"fr", "en", "it"}

// PDFPath is where the PDF of a site's month in lang lives under a
// reports directory: {site}/{month}.{lang}.pdf. The job that renders it
// and the API that serves it agree through it.
func PDFPath(site, month, lang string) string {
	return filepath.Join(site, month+"."+lang+".pdf")
}

// StorePlays is the proof of play the receiver's store records
// (store.Store.NoticePlays): every notice of the site, per cabin and
// language.
func StorePlays(st store.Store) PlaySource { return storePlays{st} }

type storePlays struct{ st store.Store }

func (s storePlays) NoticesShown(ctx context.Context, site string, since, until time.Time) ([]NoticeShown, error) {
	ps, err := s.st.NoticePlays(ctx, site, "", since, until)
	if err != nil {
		return nil, err
	}
	out := make([]NoticeShown, 0, len(ps))
	for _, p := range ps {
		out = append(out, NoticeShown{Notice: p.Notice, Cabin: p.Cabin, Language: p.Lang, Times: int(p.Times), Seconds: float64(p.ShownMS) / 1000})
	}
	return out, nil
}
