package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; migration i brings the schema to
// version i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: events, the epochs' contiguous sequences, cabins, notice sets.
	`CREATE TABLE events (
		id          INTEGER PRIMARY KEY,
		site        TEXT    NOT NULL,
		cabin       TEXT    NOT NULL,
		epoch       TEXT    NOT NULL,
		seq         INTEGER NOT NULL,
		time_us     INTEGER NOT NULL,
		type        TEXT    NOT NULL,
		data        TEXT    NOT NULL,
		received_us INTEGER NOT NULL,
		UNIQUE (site, cabin, epoch, seq)
	);
	CREATE INDEX events_cabin_time ON events (site, cabin, time_us, id);
	CREATE TABLE epochs (
		site         TEXT    NOT NULL,
		cabin        TEXT    NOT NULL,
		epoch        TEXT    NOT NULL,
		contiguous   INTEGER NOT NULL DEFAULT 0,
		last_seen_us INTEGER NOT NULL,
		PRIMARY KEY (site, cabin, epoch)
	);
	CREATE INDEX epochs_last_seen ON epochs (last_seen_us);
	CREATE TABLE cabins (
		site         TEXT    NOT NULL,
		cabin        TEXT    NOT NULL,
		last_seen_us INTEGER NOT NULL DEFAULT 0,
		online       INTEGER NOT NULL DEFAULT 0,
		status_us    INTEGER NOT NULL DEFAULT 0,
		floor        INTEGER,
		floor_us     INTEGER NOT NULL DEFAULT 0,
		mode         TEXT    NOT NULL DEFAULT '',
		mode_us      INTEGER NOT NULL DEFAULT 0,
		faults       TEXT    NOT NULL DEFAULT '[]',
		alarm        INTEGER NOT NULL DEFAULT 0,
		state_us     INTEGER NOT NULL DEFAULT 0,
		counters     TEXT    NOT NULL DEFAULT '{}',
		counters_us  INTEGER NOT NULL DEFAULT 0,
		events       INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (site, cabin)
	);
	CREATE TABLE notice_sets (
		site       TEXT    PRIMARY KEY,
		version    INTEGER NOT NULL,
		body       TEXT    NOT NULL,
		updated_us INTEGER NOT NULL
	);`,
}

// migrate applies the migrations the database has not seen, each in its
// own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this build knows (%d): refusing to run an older receiver on it", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d: begin: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: record: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: commit: %w", v, err)
		}
	}
	return nil
}
