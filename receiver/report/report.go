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
	Cabin        string     `json:"cabin"`
	Trips        int        `json:"trips"`
	TripsPerDay  []DayCount `json:"trips_per_day"`
	DoorCycles   int        `json:"door_cycles"`
	FaultsRaised int        `json:"faults_raised"`
	// FaultCodes counts raised faults by controller code.
	FaultCodes map[int]int `json:"fault_codes"`
	// OutOfServiceSeconds and Availability (0..1) over the period.
	OutOfServiceSeconds float64 `json:"out_of_service_s"`
	Availability        float64 `json:"availability"`
}

// DayCount is a count for one calendar day in the report's location.
type DayCount struct {
	Day   string `json:"day"` // YYYY-MM-DD
	Count int    `json:"count"`
}

// MaxPeriod bounds a report: it reads every event of the period.
const MaxPeriod = 92 * 24 * time.Hour

// Site builds the report of site over [since, until); days are calendar
// days in loc.
func Site(ctx context.Context, st store.Store, site string, since, until time.Time, loc *time.Location) (Report, error) {
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
		rc, err := cabin(ctx, st, site, c.Cabin, since, until, loc)
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

func cabin(ctx context.Context, st store.Store, site, cab string, since, until time.Time, loc *time.Location) (Cabin, error) {
	c := Cabin{Cabin: cab, TripsPerDay: []DayCount{}, FaultCodes: map[int]int{}}
	perDay := map[string]int{}
	if err := each(ctx, st, site, cab, wire.TypeTrip, since, until, func(e store.StoredEvent) {
		c.Trips++
		perDay[e.Time.In(loc).Format(time.DateOnly)]++
	}); err != nil {
		return c, err
	}
	// Every calendar day the period touches, in loc.
	s := since.In(loc)
	for d := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, loc); d.Before(until); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		c.TripsPerDay = append(c.TripsPerDay, DayCount{Day: day, Count: perDay[day]})
	}
	if err := each(ctx, st, site, cab, wire.TypeDoorCycle, since, until, func(store.StoredEvent) { c.DoorCycles++ }); err != nil {
		return c, err
	}
	if err := each(ctx, st, site, cab, wire.TypeFault, since, until, func(e store.StoredEvent) {
		var d wire.FaultData
		if json.Unmarshal(e.Data, &d) == nil && d.Active {
			c.FaultsRaised++
			c.FaultCodes[d.Code]++
		}
	}); err != nil {
		return c, err
	}
	var (
		out     time.Duration
		outFrom time.Time // zero while in service
		first   = true
	)
	if err := each(ctx, st, site, cab, wire.TypeService, since, until, func(e store.StoredEvent) {
		var d wire.ServiceData
		if json.Unmarshal(e.Data, &d) != nil {
			return
		}
		if first && d.InService {
			outFrom = since // back in service first: it was out from the start
		}
		first = false
		switch {
		case !d.InService && outFrom.IsZero():
			outFrom = e.Time
		case d.InService && !outFrom.IsZero():
			out += e.Time.Sub(outFrom)
			outFrom = time.Time{}
		}
	}); err != nil {
		return c, err
	}
	if !outFrom.IsZero() {
		out += until.Sub(outFrom)
	}
	period := until.Sub(since)
	c.OutOfServiceSeconds = out.Seconds()
	c.Availability = 1 - out.Seconds()/period.Seconds()
	return c, nil
}
