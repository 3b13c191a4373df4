// Package report summarises a site's stored events over a period for the
// building managers: trips (in all and per day), door cycles, faults raised
// and availability per cabin. It reads through store.Store only, so every
// engine gives the same report.
//
// Availability is the share of the period a cabin was in service, from its
// service events (out of service / back in service). The state at the start
// of the period is inferred: if the first service event in the period is a
// return to service, the cabin was out of service from the start.
package report
