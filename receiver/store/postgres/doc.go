// Package postgres is the PostgreSQL implementation of store.Store, through
// github.com/jackc/pgx/v5 (pgxpool), for production where several
// receivers share one database.
//
// Inserts are one statement per InsertBatches call (unnest of column
// arrays, ON CONFLICT DO NOTHING RETURNING), so a JetStream fetch costs one
// round trip for its events. The epochs rows touched are locked first, in
// key order, so that two receivers storing events of one epoch at once
// compute its contiguous sequence one after the other: each sees what the
// other committed, and none deadlocks. The schema is created and upgraded by
// versioned migrations recorded in schema_migrations, under an advisory
// lock so that receivers starting together migrate once.
package postgres
