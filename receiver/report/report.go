package report

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Report is a site's summary over [Since, Until).
type Report struct {
	Site   string    `json:"site"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Cabins []Cabin   `json:"cabins"`
}

// Cabin is one cabin's summary.
type Cabin struct {
	Cabin       string     `json:"cabin"`
	Trips       int        `json:"trips"`
	TripsPerDay []DayCount `json:"trips_per_day"`
	DoorCycles  int        `json:"door_cycles"`
	// FaultsRaised counts the faults raised in the period: a raise while
	// the same code is active already is the same fault, not another.
	FaultsRaised int `json:"faults_raised"`
	// FaultCodes counts raised faults by controller code, likewise.
	FaultCodes map[int]int `json:"fault_codes"`
	Availability
}

// Availability is the share of the monitored part of a period a cabin
// could carry passengers, from its timeline (see the package comment).
type Availability struct {
	// Availability is 1 - Unavailable/Monitored (0..1); nil when no part
	// of the period is monitored, Note saying why.
	Availability *float64 `json:"availability"`
	// MonitoredSeconds is the part of the period from when the cabin was
	// first heard from (at the latest its start) until its end or now.
	MonitoredSeconds float64 `json:"monitored_s"`
	// UnavailableSeconds is the union of the reasons below: a second out
	// of service and offline counts once here, and in both figures.
	UnavailableSeconds  float64 `json:"unavailable_s"`
	OutOfServiceSeconds float64 `json:"out_of_service_s"`
	EntrapmentSeconds   float64 `json:"entrapment_s"`
	OfflineSeconds      float64 `json:"offline_s"`
	LinkLostSeconds     float64 `json:"link_lost_s"`
	Note                string  `json:"note,omitempty"`
}

// DayCount is a count for one calendar day in the report's location.
type DayCount struct {
	Day   string `json:"day"` // YYYY-MM-DD
	Count int    `json:"count"`
}

// MaxPeriod bounds a report: it reads every event of the period.
const MaxPeriod = 92 * 24 * time.Hour

// Site builds the report of site over [since, until); days are calendar
// days in loc. Time after now is not monitored: a cabin's state is known
// only up to now.
func Site(ctx context.Context, st store.Store, site string, since, until, now time.Time, loc *time.Location) (Report, error) {
	r := Report{Site: site, Since: since.UTC(), Until: until.UTC(), Cabins: []Cabin{}}
	if !until.After(since) {
		return r, fmt.Errorf("report %s: until %s is not after since %s", site, until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	if until.Sub(since) > MaxPeriod {
		return r, fmt.Errorf("report %s: period of %s (at most %s)", site, until.Sub(since), MaxPeriod)
	}
	all, err := st.Cabins(ctx)
	if err != nil {
		return r, fmt.Errorf("report %s: %w", site, err)
	}
	for _, c := range all {
		if c.Site != site {
			continue
		}
		rc, _, err := cabin(ctx, st, site, c.Cabin, since, until, now, loc)
		if err != nil {
			return r, fmt.Errorf("report %s/%s: %w", site, c.Cabin, err)
		}
		r.Cabins = append(r.Cabins, rc)
	}
	return r, nil
}

// each calls fn for every event of type typ of the cabin in the period.
func each(ctx context.Context, st store.Store, site, cabin, typ string, since, until time.Time, fn func(store.StoredEvent)) error {
	q := store.EventQuery{Site: site, Cabin: cabin, Type: typ, Since: since, Until: until, Limit: store.MaxLimit}
	for {
		p, err := st.Events(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range p.Events {
			fn(e)
		}
		if p.Next == "" {
			return nil
		}
		q.Cursor = p.Next
	}
}

// detail is what the monthly report needs beyond a Cabin, gathered in
// the same pass over the events.
type detail struct {
	runningSeconds float64 // the trips' durations
	floors         int     // the trips' floors travelled
	faults         []FaultSpan
}

func cabin(ctx context.Context, st store.Store, site, cab string, since, until, now time.Time, loc *time.Location) (Cabin, detail, error) {
	c := Cabin{Cabin: cab, TripsPerDay: []DayCount{}, FaultCodes: map[int]int{}}
	var x detail
	perDay := map[string]int{}
	if err := each(ctx, st, site, cab, wire.TypeTrip, since, until, func(e store.StoredEvent) {
		c.Trips++
		perDay[e.Time.In(loc).Format(time.DateOnly)]++
		var d wire.TripData
		if json.Unmarshal(e.Data, &d) == nil {
			x.runningSeconds += float64(d.DurationMS) / 1000
			x.floors += max(d.To-d.From, d.From-d.To)
		}
	}); err != nil {
		return c, x, err
	}
	// Every calendar day the period touches, in loc.
	s := since.In(loc)
	for d := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, loc); d.Before(until); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		c.TripsPerDay = append(c.TripsPerDay, DayCount{Day: day, Count: perDay[day]})
	}
	if err := each(ctx, st, site, cab, wire.TypeDoorCycle, since, until, func(store.StoredEvent) { c.DoorCycles++ }); err != nil {
		return c, x, err
	}
	end := until
	if now.Before(end) {
		end = now
	}
	open := map[int]int{} // fault code -> index in x.faults while active
	if err := each(ctx, st, site, cab, wire.TypeFault, since, until, func(e store.StoredEvent) {
		var d wire.FaultData
		if json.Unmarshal(e.Data, &d) != nil {
			return
		}
		if d.Active {
			// A raise of a fault already active (an agent that restarted
			// says it again) is the same fault: counted once, as the
			// monthly report lists it.
			if _, ok := open[d.Code]; !ok {
				c.FaultsRaised++
				c.FaultCodes[d.Code]++
				open[d.Code] = len(x.faults)
				x.faults = append(x.faults, FaultSpan{Code: d.Code, Text: d.Text, Severity: d.Severity, Raised: e.Time.UTC()})
			}
			return
		}
		// A clear of a fault raised before the period belongs to the
		// period that counts it.
		if i, ok := open[d.Code]; ok {
			x.faults[i].Seconds = e.Time.Sub(x.faults[i].Raised).Seconds()
			cleared := e.Time.UTC()
			x.faults[i].Cleared = &cleared
			delete(open, d.Code)
		}
	}); err != nil {
		return c, x, err
	}
	// Still active at the end of the period (or now): counted until then.
	for _, i := range open {
		x.faults[i].Seconds = max(0, end.Sub(x.faults[i].Raised).Seconds())
	}
	tl, err := st.Timeline(ctx, site, cab, since, until)
	if err != nil {
		return c, x, err
	}
	c.Availability = availability(tl, since, end)
	return c, x, nil
}

// Notes of a cabin whose availability is unknown.
const (
	noteNeverHeard   = "not monitored: nothing was heard from this cabin before the end of the period"
	noteNotMonitored = "not monitored: the cabin was first heard from after the end of the period or after now"
)

// availability computes a cabin's availability over [since, end) from
// its timeline over that period (with the last entry of each name before
// it), sorted by time.
func availability(tl []store.TimelineEntry, since, end time.Time) Availability {
	var a Availability
	if len(tl) == 0 {
		a.Note = noteNeverHeard
		return a
	}
	// Before the cabin was first heard from, nothing is known: not
	// monitored, rather than counted as available or not.
	start := since
	if tl[0].At.After(start) {
		start = tl[0].At
	}
	if !end.After(start) {
		a.Note = noteNotMonitored
		return a
	}
	var monitored, unavailable, out, trapped, offline, linkLost time.Duration
	cur := map[string]string{}
	// account adds [from, to) in the state cur to every figure it counts
	// for. A value not yet known counts as available: a cabin that never
	// said its link is lost is not taken for one that did.
	account := func(from, to time.Time) {
		d := to.Sub(from)
		if d <= 0 {
			return
		}
		monitored += d
		down := false
		for _, r := range []struct {
			on  bool
			sum *time.Duration
		}{
			{cur[store.FactInService] == "false", &out},
			{cur[store.FactEntrapment] == "true", &trapped},
			{cur[store.TimelinePresence] == store.PresenceOffline, &offline},
			{cur[store.FactLink] == "lost", &linkLost},
		} {
			if r.on {
				*r.sum += d
				down = true
			}
		}
		if down {
			unavailable += d
		}
	}
	t := start
	for _, e := range tl {
		if !e.At.Before(end) {
			break
		}
		if e.At.After(t) {
			account(t, e.At)
			t = e.At
		}
		cur[e.Name] = e.Value
	}
	account(t, end)
	av := 1 - unavailable.Seconds()/monitored.Seconds()
	a.Availability = &av
	a.MonitoredSeconds = monitored.Seconds()
	a.UnavailableSeconds = unavailable.Seconds()
	a.OutOfServiceSeconds = out.Seconds()
	a.EntrapmentSeconds = trapped.Seconds()
	a.OfflineSeconds = offline.Seconds()
	a.LinkLostSeconds = linkLost.Seconds()
	return a
}
