// Package postgres is the PostgreSQL implementation of store.Store, through
// github.com/jackc/pgx/v5 (pgxpool), for production where several
// receivers share one database. It holds only SQL and driver code; paging,
// decoding, ordering and notice-set rules are package store's. Lists are
// ordered with COLLATE "C", so that ids compare as bytes whatever the
// database's collation.
//
// InsertBatches costs a fixed number of round trips whatever the number of
// events: statements take column arrays (unnest) and are pipelined
// (pgx.Batch). It first locks the epochs rows touched, in key order, and
// reads which of their events above the contiguous sequence are already
// stored; so two receivers storing events of one epoch at once go one
// after the other, each sees what the other committed, and none
// deadlocks. Knowing the duplicates, it inserts only new events with a
// plain INSERT, or COPY for large calls (no ON CONFLICT, whose speculative
// insertion cost a third more per row; the unique key still refuses a
// duplicate, failing the transaction), and computes the contiguous
// sequences in Go from what it read and what it inserted. Cabins and
// contiguous sequences are then updated by one statement each, in the
// same transaction.
//
// The schema is created and upgraded by versioned migrations recorded in
// schema_migrations (store.Migrate), under an advisory lock so that
// receivers starting together migrate once.
package postgres
