// Package report summarises a site's stored events over a period for the
// building managers: trips (in all and per day), door cycles, faults raised
// and availability per cabin. It reads through store.Store only, so every
// engine gives the same report.
//
// Availability comes from each cabin's timeline (store.Timeline), the
// values it had over time whatever order they arrived in. A cabin is
// unavailable while it is out of service, an entrapment is suspected, its
// agent is offline, or the agent cannot read the controller (link lost):
// the union of those intervals, including states that began before the
// period. Offline and link lost count because then nobody can tell
// whether the cabin carries passengers, nor be told when it stops.
// Availability is the share of the monitored time that is not
// unavailable; time before the cabin was first heard from, and time after
// now, is not monitored. A cabin never heard from by the end of the period
// has no availability (null), and a note that says so.
//
// Month (monthly.go) is the co-owners' report of one calendar month: the
// same figures, with each fault's, entrapment's and alarm's duration and
// acknowledgement delay (from the alarms' lifecycle), an energy estimate
// in the manner of ISO 25745-2 from the site's parameters (energy.go), and
// the notices shown, a seam (PlaySource) for proof of play reported as not
// yet available until the store records it. reportpdf renders it.
package report
