// Package store defines what the receiver keeps and how it asks for it: the
// Store interface, implemented by each database engine in a sub-package
// (store/sqlite, store/postgres), the types it returns, and the logic every
// engine shares, so that each engine holds only its SQL and driver code.
//
// Concepts:
//   - Event: one stored event; its key (site, cabin, epoch, seq) is unique, so a
//     duplicate delivery is dropped by the database itself.
//   - Contiguous: per (site, cabin, epoch), the highest sequence n such that
//     every sequence 1..n is stored. It is what the receiver acknowledges to the
//     device (wire.Ack) after the commit.
//   - Cabin: the fleet view of one cabin, kept current from events, state
//     snapshots and status messages.
//   - Timeline: per cabin, the values of in_service, entrapment, alarm,
//     link and presence over time, each row with the time it speaks for,
//     from events, snapshots and status messages in any arrival order;
//     what availability over a period is computed from (TimelineEntry).
//   - NoticeSet: the whole notice set of a site, versioned; changes are made
//     with optimistic concurrency so that several receivers never publish two
//     different sets under one version.
//   - Order: every list a Store returns has one documented order, the same
//     in every engine; ids compare as bytes, column by column (EpochKey.Compare).
//
// What engines share, written once here:
//   - Writing: GroupByEpoch checks sequences (MaxSeq) and groups a call's
//     events by epoch in key order, the order engines store them and take
//     locks in; Summarize folds them into one CabinUpdate per cabin;
//     FaultsJSON and CountersJSON are the stored forms of a snapshot.
//   - Reading: QueryCabins, QueryCabin, QueryEvents, QueryRecentAcks,
//     QueryNoticeSet and QueryNoticeSets run an engine's statement through
//     its Querier (a driver adapted to Rows in a few lines) and read and
//     decode the rows, with the same errors (ErrNotFound) in every engine.
//   - Paging: EventQuery.Filter checks the limit and the Cursor (Encode,
//     DecodeCursor) and converts the bounds into the EventFilter an engine
//     turns into SQL; QueryEvents reads one page and makes the next cursor.
//   - Times: Micros and FromMicros, times as Unix microseconds in integer columns.
//   - Notice sets: PutNoticeSet applies the version rules over an engine's
//     NoticeSetWriter.
//   - Schema: Migrate applies an engine's migrations over its Migrator and
//     refuses a schema newer than the build.
//
// Package storetest holds the conformance suite and the benchmark every
// engine runs.
package store
