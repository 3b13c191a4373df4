package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// migrations are applied in order; migration i brings the schema to
// version i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE events (
		id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		site        TEXT   NOT NULL,
		cabin       TEXT   NOT NULL,
		epoch       TEXT   NOT NULL,
		seq         BIGINT NOT NULL,
		time_us     BIGINT NOT NULL,
		type        TEXT   NOT NULL,
		data        TEXT   NOT NULL,
		received_us BIGINT NOT NULL,
		UNIQUE (site, cabin, epoch, seq)
	);
	CREATE INDEX events_cabin_time ON events (site, cabin, time_us, id);
	CREATE TABLE epochs (
		site         TEXT   NOT NULL,
		cabin        TEXT   NOT NULL,
		epoch        TEXT   NOT NULL,
		contiguous   BIGINT NOT NULL DEFAULT 0,
		last_seen_us BIGINT NOT NULL,
		PRIMARY KEY (site, cabin, epoch)
	);
	CREATE INDEX epochs_last_seen ON epochs (last_seen_us);
	CREATE TABLE cabins (
		site         TEXT    NOT NULL,
		cabin        TEXT    NOT NULL,
		last_seen_us BIGINT  NOT NULL DEFAULT 0,
		online       BOOLEAN NOT NULL DEFAULT false,
		status_us    BIGINT  NOT NULL DEFAULT 0,
		floor        INTEGER,
		floor_us     BIGINT  NOT NULL DEFAULT 0,
		mode         TEXT    NOT NULL DEFAULT '',
		mode_us      BIGINT  NOT NULL DEFAULT 0,
		faults       TEXT    NOT NULL DEFAULT '[]',
		alarm        BOOLEAN NOT NULL DEFAULT false,
		state_us     BIGINT  NOT NULL DEFAULT 0,
		counters     TEXT    NOT NULL DEFAULT '{}',
		counters_us  BIGINT  NOT NULL DEFAULT 0,
		events       BIGINT  NOT NULL DEFAULT 0,
		PRIMARY KEY (site, cabin)
	);
	CREATE TABLE notice_sets (
		site       TEXT   PRIMARY KEY,
		version    BIGINT NOT NULL,
		body       TEXT   NOT NULL,
		updated_us BIGINT NOT NULL
	);`,
	// 2: ranges of sequences accounted for as lost (store.LostRange).
	`CREATE TABLE lost (
		site        TEXT   NOT NULL,
		cabin       TEXT   NOT NULL,
		epoch       TEXT   NOT NULL,
		first_seq   BIGINT NOT NULL,
		last_seq    BIGINT NOT NULL,
		reason      TEXT   NOT NULL,
		report_seq  BIGINT NOT NULL,
		received_us BIGINT NOT NULL,
		PRIMARY KEY (site, cabin, epoch, first_seq, last_seq)
	);`,
	// 3: the agent version each cabin's newest health event named.
	`ALTER TABLE cabins ADD COLUMN agent_version TEXT NOT NULL DEFAULT '',
		ADD COLUMN version_us BIGINT NOT NULL DEFAULT 0;`,
	// 4: what is known of each cabin, for its situation (store.Fact).
	store.FactsTable("BIGINT"),
	// 5: each alarm's life, from raised to closed (store.Alarm).
	store.AlarmsTable("BIGINT"),
	// 6: each cabin's values over time, for availability (store.TimelineEntry).
	store.TimelineTable("BIGINT"),
	// 7: desired configurations of sites and cabins, every version (wire.DesiredConfig).
	store.DesiredConfigsTable("BIGINT"),
}

// migrationLock is the advisory lock key held while migrating.
const migrationLock int64 = 0x70616c696572 // "palier"; typed so 32-bit builds keep it 64-bit

// migrate applies the migrations the database has not seen, each in its
// own transaction, under an advisory lock: receivers starting together
// migrate once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	return store.Migrate(ctx, migrator{conn}, migrations)
}

// migrator records applied migrations in schema_migrations, on the
// connection that holds the lock.
type migrator struct{ conn *pgxpool.Conn }

func (m migrator) SchemaVersion(ctx context.Context) (int, error) {
	if _, err := m.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := m.conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return current, nil
}

func (m migrator) ApplyMigration(ctx context.Context, version int, migration string) error {
	return pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migration); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
		return err
	})
}

// Store is a PostgreSQL store.Store.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a libpq URL or key=value string;
// pool settings such as pool_max_conns are accepted) and migrates it.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// UpdateState implements store.Store.
func (s *Store) UpdateState(ctx context.Context, st wire.State, received time.Time) error {
	t := store.Micros(st.Time)
	facts := factRows{}
	for _, f := range store.FactsOfState(st) {
		facts.add(f)
	}
	b := &pgx.Batch{}
	// Each group of fields moves only forward in time (see store/sqlite).
	b.Queue(`INSERT INTO cabins (site, cabin, last_seen_us, floor, floor_us, mode, mode_us, faults, alarm, state_us, counters, counters_us)
		VALUES ($1, $2, $3, $4, $5, $6, $5, $7, $8, $5, $9, $5)
		ON CONFLICT (site, cabin) DO UPDATE SET
			last_seen_us = GREATEST(cabins.last_seen_us, excluded.last_seen_us),
			floor    = CASE WHEN cabins.floor_us    <= excluded.floor_us    THEN excluded.floor    ELSE cabins.floor    END,
			floor_us = GREATEST(cabins.floor_us, excluded.floor_us),
			mode     = CASE WHEN cabins.mode_us     <= excluded.mode_us     THEN excluded.mode     ELSE cabins.mode     END,
			mode_us  = GREATEST(cabins.mode_us, excluded.mode_us),
			faults   = CASE WHEN cabins.state_us    <= excluded.state_us    THEN excluded.faults   ELSE cabins.faults   END,
			alarm    = CASE WHEN cabins.state_us    <= excluded.state_us    THEN excluded.alarm    ELSE cabins.alarm    END,
			state_us = GREATEST(cabins.state_us, excluded.state_us),
			counters = CASE WHEN cabins.counters_us <= excluded.counters_us THEN excluded.counters ELSE cabins.counters END,
			counters_us = GREATEST(cabins.counters_us, excluded.counters_us)`,
		st.Site, st.Cabin, store.Micros(received), st.Floor, t, st.Mode, store.FaultsJSON(st.Faults), st.Alarm, store.CountersJSON(st.Counters))
	facts.queue(b)
	_, change := store.TimelineStatements("$")
	queueTimeline(b, change, store.TimelineOfState(st))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	if err != nil {
		return fmt.Errorf("update state %s/%s: %w", st.Site, st.Cabin, err)
	}
	return nil
}

// Timeline implements store.Store.
func (s *Store) Timeline(ctx context.Context, site, cabin string, since, until time.Time) ([]store.TimelineEntry, error) {
	return store.QueryTimeline(ctx, reader{s.pool}, "$", site, cabin, since, until)
}

// Facts implements store.Store.
func (s *Store) Facts(ctx context.Context, site, cabin string) ([]store.Fact, error) {
	const cols = `SELECT site, cabin, name, value, at_us, since_us FROM cabin_facts`
	if site == "" && cabin == "" {
		return store.QueryFacts(ctx, reader{s.pool}, cols+` ORDER BY site`+byteOrder+`, cabin`+byteOrder+`, name`+byteOrder)
	}
	return store.QueryFacts(ctx, reader{s.pool}, cols+` WHERE site = $1 AND cabin = $2 ORDER BY name`+byteOrder, site, cabin)
}

// UpdateStatus implements store.Store.
func (s *Store) UpdateStatus(ctx context.Context, site, cabin string, online bool, received time.Time) error {
	b := &pgx.Batch{}
	// The upsert locks the cabin's row before its timeline is read (see queueTimeline).
	b.Queue(`INSERT INTO cabins (site, cabin, last_seen_us, online, status_us) VALUES ($1, $2, $3, $4, $3)
		ON CONFLICT (site, cabin) DO UPDATE SET
			online = CASE WHEN cabins.status_us <= excluded.status_us THEN excluded.online ELSE cabins.online END,
			status_us = GREATEST(cabins.status_us, excluded.status_us),
			last_seen_us = GREATEST(cabins.last_seen_us, excluded.last_seen_us)`,
		site, cabin, store.Micros(received), online)
	_, change := store.TimelineStatements("$")
	queueTimeline(b, change, []store.TimelineEntry{store.TimelineOfStatus(site, cabin, online, received)})
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	if err != nil {
		return fmt.Errorf("update status %s/%s: %w", site, cabin, err)
	}
	return nil
}

// cabinCols are the columns store.QueryCabins reads.
const cabinCols = `site, cabin, online, last_seen_us, floor, mode, faults, alarm, counters, events, GREATEST(floor_us, mode_us, state_us), agent_version, status_us`

// byteOrder makes ORDER BY compare ids as bytes, as the interface's list
// orders ask, whatever the database's collation (en_US and others skip
// punctuation, so would put "ab" before "a-c").
const byteOrder = ` COLLATE "C"`

// Cabins implements store.Store.
func (s *Store) Cabins(ctx context.Context) ([]store.Cabin, error) {
	return store.QueryCabins(ctx, reader{s.pool}, `SELECT `+cabinCols+` FROM cabins ORDER BY site`+byteOrder+`, cabin`+byteOrder)
}

// Cabin implements store.Store.
func (s *Store) Cabin(ctx context.Context, site, cabin string) (store.Cabin, error) {
	return store.QueryCabin(ctx, reader{s.pool}, `SELECT `+cabinCols+` FROM cabins WHERE site = $1 AND cabin = $2`, site, cabin)
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	return store.QueryEvents(ctx, reader{s.pool}, q, eventsSQL)
}

// eventsSQL is the statement of one page of events.
func eventsSQL(f store.EventFilter) (string, []any) {
	args := []any{f.Site, f.Cabin}
	where := []string{"site = $1", "cabin = $2"}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Type != "" {
		where = append(where, "type = "+arg(f.Type))
	}
	if f.Since != nil {
		where = append(where, "time_us >= "+arg(*f.Since))
	}
	if f.Until != nil {
		where = append(where, "time_us < "+arg(*f.Until))
	}
	if f.After != nil {
		where = append(where, "(time_us, id) > ("+arg(f.After.TimeUS)+", "+arg(f.After.ID)+")")
	}
	return `SELECT id, epoch, seq, time_us, type, data, received_us FROM events WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY time_us, id LIMIT ` + arg(f.RowLimit()), args
}

// RecentAcks implements store.Store.
func (s *Store) RecentAcks(ctx context.Context, since time.Time) ([]store.Contiguous, error) {
	return store.QueryRecentAcks(ctx, reader{s.pool}, `SELECT site, cabin, epoch, contiguous FROM epochs WHERE last_seen_us >= $1
		ORDER BY site`+byteOrder+`, cabin`+byteOrder+`, epoch`+byteOrder, since)
}

// NoticeSet implements store.Store.
func (s *Store) NoticeSet(ctx context.Context, site string) (wire.NoticeSet, error) {
	return store.QueryNoticeSet(ctx, reader{s.pool}, `SELECT body FROM notice_sets WHERE site = $1`, site)
}

// NoticeSets implements store.Store.
func (s *Store) NoticeSets(ctx context.Context) ([]wire.NoticeSet, error) {
	return store.QueryNoticeSets(ctx, reader{s.pool}, `SELECT body FROM notice_sets ORDER BY site`+byteOrder)
}

// reader runs store.Querier statements on the pool.
type reader struct{ pool *pgxpool.Pool }

func (r reader) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	rows, err := r.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

// pgRows gives pgx's Rows the Close of store.Rows; pgx reports through
// Err what database/sql reports through Close.
type pgRows struct{ pgx.Rows }

func (r pgRows) Close() error {
	r.Rows.Close()
	return nil
}

// PutNoticeSet implements store.Store.
func (s *Store) PutNoticeSet(ctx context.Context, set wire.NoticeSet) error {
	return store.PutNoticeSet(ctx, noticeWriter{s.pool}, set, time.Now())
}

// noticeWriter runs PutNoticeSet's statements.
type noticeWriter struct{ pool *pgxpool.Pool }

func (w noticeWriter) CreateNoticeSet(ctx context.Context, site, body string, updatedUS int64) (bool, error) {
	tag, err := w.pool.Exec(ctx, `INSERT INTO notice_sets (site, version, body, updated_us) VALUES ($1, 1, $2, $3) ON CONFLICT (site) DO NOTHING`,
		site, body, updatedUS)
	return tag.RowsAffected() > 0, err
}

func (w noticeWriter) ReplaceNoticeSet(ctx context.Context, site string, version int64, body string, updatedUS int64) (bool, error) {
	tag, err := w.pool.Exec(ctx, `UPDATE notice_sets SET version = $1, body = $2, updated_us = $3 WHERE site = $4 AND version = $5`,
		version, body, updatedUS, site, version-1)
	return tag.RowsAffected() > 0, err
}
