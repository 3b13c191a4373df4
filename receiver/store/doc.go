// Package store defines what the receiver keeps and how it asks for it: the
// Store interface, implemented by each database engine in a sub-package
// (store/sqlite, later store/postgres), and the types it returns.
//
// Concepts:
//   - Event: one stored event; its key (site, cabin, epoch, seq) is unique, so a
//     duplicate delivery is dropped by the database itself.
//   - Contiguous: per (site, cabin, epoch), the highest sequence n such that
//     every sequence 1..n is stored. It is what the receiver acknowledges to the
//     device (wire.Ack) after the commit.
//   - Cabin: the fleet view of one cabin, kept current from events, state
//     snapshots and status messages.
//   - NoticeSet: the whole notice set of a site, versioned; changes are made
//     with optimistic concurrency so that several receivers never publish two
//     different sets under one version.
//
// Package storetest holds the conformance suite every engine must pass.
package store
