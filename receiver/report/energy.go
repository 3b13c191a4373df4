package report

import (
	"fmt"
	"math"
)

// Energy is a site's parameters for the energy estimate, in the manner of
// ISO 25745-2: a standby power drawn whenever the cabin is not running,
// and an energy per trip that grows with the floors travelled. They come
// from the lift's measurement or its maker's data sheet; the estimate is
// only as good as they are.
type Energy struct {
	// StandbyW is the power drawn at rest (controller, lighting, screen,
	// drive on standby), in watts.
	StandbyW float64 `yaml:"standby_w" json:"standby_w"`
	// TripWh is the energy of a one-floor trip (start, stop, doors), in
	// watt-hours.
	TripWh float64 `yaml:"trip_wh" json:"trip_wh"`
	// PerFloorWh is the energy of each floor travelled beyond the first,
	// in watt-hours.
	PerFloorWh float64 `yaml:"per_floor_wh" json:"per_floor_wh"`
}

// SiteEnergy is a site's energy parameters: Default for its cabins,
// Cabins for those that differ (a hydraulic lift beside a traction one).
type SiteEnergy struct {
	Default *Energy
	Cabins  map[string]Energy
}

// For returns a cabin's parameters, or nil when it has none.
func (s SiteEnergy) For(cabin string) *Energy {
	if e, ok := s.Cabins[cabin]; ok {
		return &e
	}
	if s.Default != nil {
		e := *s.Default
		return &e
	}
	return nil
}

// Bounds of the parameters: beyond them, a unit was mistaken (kW for W).
const (
	MaxStandbyW = 5000
	MaxTripWh   = 2000
)

// Validate says which parameter is out of range, prefixing field names
// with prefix (e.g. "sites.les-pins.energy.").
func (e Energy) Validate(prefix string) error {
	for _, f := range []struct {
		name     string
		v, limit float64
		unit     string
	}{
		{"standby_w", e.StandbyW, MaxStandbyW, "W"},
		{"trip_wh", e.TripWh, MaxTripWh, "Wh"},
		{"per_floor_wh", e.PerFloorWh, MaxTripWh, "Wh"},
	} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > f.limit {
			return fmt.Errorf("%s%s: %g (want 0 to %g %s)", prefix, f.name, f.v, f.limit, f.unit)
		}
	}
	if e.StandbyW == 0 && e.TripWh == 0 && e.PerFloorWh == 0 {
		return fmt.Errorf("%sstandby_w, trip_wh, per_floor_wh: all zero (want the lift's measured or rated figures)", prefix)
	}
	return nil
}

// EnergyEstimate is a cabin's estimated energy over the monitored part of
// a month.
type EnergyEstimate struct {
	Params Energy `json:"params"`
	// StandbySeconds is the monitored time the cabin was not running a trip.
	StandbySeconds float64 `json:"standby_s"`
	// FloorsTravelled sums the floors of every trip.
	FloorsTravelled int     `json:"floors_travelled"`
	StandbyKWh      float64 `json:"standby_kwh"`
	RunningKWh      float64 `json:"running_kwh"`
	TotalKWh        float64 `json:"total_kwh"`
}

// EnergyBasis says, in the report, what the estimate rests on.
const EnergyBasis = "estimate, not a meter reading: in the manner of ISO 25745-2, standby power x the monitored time not spent in trips, " +
	"plus per trip the energy of a one-floor trip and of each further floor travelled, from the parameters set for the site " +
	"(receiver config sites.<site>.energy, or sites.<site>.cabins.<cabin>.energy for a cabin that differs); time not monitored (before the cabin was first heard from, after now) is left out"

// estimate computes the estimate from the monitored time, the time spent
// running trips and the trips' floors.
func (e Energy) estimate(monitored, running float64, trips, floors int) EnergyEstimate {
	standby := math.Max(0, monitored-running)
	beyond := floors - trips // floors beyond the first of each trip
	if beyond < 0 {
		beyond = 0
	}
	runWh := float64(trips)*e.TripWh + float64(beyond)*e.PerFloorWh
	standbyWh := e.StandbyW * standby / 3600
	return EnergyEstimate{
		Params: e, StandbySeconds: standby, FloorsTravelled: floors,
		StandbyKWh: round3(standbyWh / 1000), RunningKWh: round3(runWh / 1000), TotalKWh: round3((standbyWh + runWh) / 1000),
	}
}

// round3 keeps three decimals: watt-hours in a kWh figure, and the same
// text in every engine's golden.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
