// Package sqlite is the SQLite implementation of store.Store, through
// modernc.org/sqlite (pure Go, so the receiver builds with CGO_ENABLED=0).
//
// It holds only SQL and driver code (sqlite.go, and the schema in
// migrations.go); paging, decoding, ordering and notice-set rules are
// package store's. Lists are ordered with SQLite's default BINARY
// collation, which compares bytes as the interface asks. The database runs in WAL mode with one writer
// connection (SQLite allows one writer anyway; a single connection avoids
// SQLITE_BUSY between our own goroutines) and a pool of read-only
// connections that readers use concurrently with the writer. Each
// InsertBatches call is one transaction, so one JetStream fetch costs one
// commit. The schema is created and upgraded by versioned migrations
// recorded in schema_migrations (store.Migrate).
package sqlite
