package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/palier-lifts/palier/receiver/store"
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
	// 2: ranges of sequences accounted for as lost (store.LostRange).
	`CREATE TABLE lost (
		site        TEXT    NOT NULL,
		cabin       TEXT    NOT NULL,
		epoch       TEXT    NOT NULL,
		first_seq   INTEGER NOT NULL,
		last_seq    INTEGER NOT NULL,
		reason      TEXT    NOT NULL,
		report_seq  INTEGER NOT NULL,
		received_us INTEGER NOT NULL,
		PRIMARY KEY (site, cabin, epoch, first_seq, last_seq)
	);`,
	// 3: the agent version each cabin's newest health event named.
	`ALTER TABLE cabins ADD COLUMN agent_version TEXT NOT NULL DEFAULT '';
	ALTER TABLE cabins ADD COLUMN version_us INTEGER NOT NULL DEFAULT 0;`,
	// 4: what is known of each cabin, for its situation (store.Fact).
	store.FactsTable("INTEGER"),
	// 5: each alarm's life, from raised to closed (store.Alarm).
	store.AlarmsTable("INTEGER"),
	// 6: each cabin's values over time, for availability (store.TimelineEntry).
	store.TimelineTable("INTEGER"),
	// 7: desired configurations of sites and cabins, every version (wire.DesiredConfig).
	store.DesiredConfigsTable("INTEGER"),
	// 8: rollout waves and their cabins (store.Wave).
	store.RolloutTables("INTEGER PRIMARY KEY", "INTEGER"),
	// 9: people's accounts, their sessions, the audit trail (store.Account).
	store.AccountTables("INTEGER PRIMARY KEY", "INTEGER"),
	// 10: what the cabin screens showed, one row per notice_shown event (store.PlayRow).
	store.PlaysTable("INTEGER"),
}

// migrate applies the migrations the database has not seen, each in its
// own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	return store.Migrate(ctx, migrator{db}, migrations)
}

// migrator records applied migrations in schema_migrations.
type migrator struct{ db *sql.DB }

func (m migrator) SchemaVersion(ctx context.Context) (int, error) {
	if _, err := m.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := m.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return current, nil
}

func (m migrator) ApplyMigration(ctx context.Context, version int, migration string) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, migration); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
