// Package situation derives a cabin's situation from what the receiver
// knows of it (its presence, and the facts its events and state snapshots
// brought: store.Fact): entrapment, alarm, out of service, offline,
// controller link lost, silent, backlog, losses. It is computed in this one
// place, for the API, the dashboard and the alerts alike. Derive is pure:
// the time is given, nothing is read or written; Fleet reads the store it
// is given and derives every cabin's.
package situation
