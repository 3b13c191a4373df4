package postgres

import (
	"context"
	"encoding/json"
	"errors"
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
}

// migrationLock is the advisory lock key held while migrating.
const migrationLock int64 = 0x70616c696572 // "palier"; typed so 32-bit builds keep it 64-bit

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
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this build knows (%d): refusing to run an older receiver on it", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
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

func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// UpdateState implements store.Store.
func (s *Store) UpdateState(ctx context.Context, st wire.State, received time.Time) error {
	faults := st.Faults
	if faults == nil {
		faults = []int{}
	}
	fj, _ := json.Marshal(faults)
	cj, _ := json.Marshal(st.Counters)
	t := us(st.Time)
	// Each group of fields moves only forward in time (see store/sqlite).
	_, err := s.pool.Exec(ctx, `INSERT INTO cabins (site, cabin, last_seen_us, floor, floor_us, mode, mode_us, faults, alarm, state_us, counters, counters_us)
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
		st.Site, st.Cabin, us(received), st.Floor, t, st.Mode, string(fj), st.Alarm, string(cj))
	if err != nil {
		return fmt.Errorf("update state %s/%s: %w", st.Site, st.Cabin, err)
	}
	return nil
}

// UpdateStatus implements store.Store.
func (s *Store) UpdateStatus(ctx context.Context, site, cabin string, online bool, received time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cabins (site, cabin, last_seen_us, online, status_us) VALUES ($1, $2, $3, $4, $3)
		ON CONFLICT (site, cabin) DO UPDATE SET
			online = CASE WHEN cabins.status_us <= excluded.status_us THEN excluded.online ELSE cabins.online END,
			status_us = GREATEST(cabins.status_us, excluded.status_us),
			last_seen_us = GREATEST(cabins.last_seen_us, excluded.last_seen_us)`,
		site, cabin, us(received), online)
	if err != nil {
		return fmt.Errorf("update status %s/%s: %w", site, cabin, err)
	}
	return nil
}

const cabinCols = `site, cabin, online, last_seen_us, floor, mode, faults, alarm, counters, events, GREATEST(floor_us, mode_us, state_us)`

func scanCabin(row pgx.Row) (store.Cabin, error) {
	var (
		c              store.Cabin
		lastSeen, stUS int64
		floor          *int32
		faults, cnt    string
	)
	if err := row.Scan(&c.Site, &c.Cabin, &c.Online, &lastSeen, &floor, &c.Mode, &faults, &c.Alarm, &cnt, &c.Events, &stUS); err != nil {
		return c, err
	}
	c.LastSeen = fromUS(lastSeen)
	if floor != nil {
		f := int(*floor)
		c.Floor = &f
	}
	if stUS != 0 {
		t := fromUS(stUS)
		c.StateTime = &t
	}
	if err := json.Unmarshal([]byte(faults), &c.Faults); err != nil {
		return c, fmt.Errorf("faults column: %w", err)
	}
	if c.Faults == nil {
		c.Faults = []int{}
	}
	if err := json.Unmarshal([]byte(cnt), &c.Counters); err != nil {
		return c, fmt.Errorf("counters column: %w", err)
	}
	return c, nil
}

// Cabins implements store.Store.
func (s *Store) Cabins(ctx context.Context) ([]store.Cabin, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+cabinCols+` FROM cabins ORDER BY site, cabin`)
	if err != nil {
		return nil, fmt.Errorf("list cabins: %w", err)
	}
	defer rows.Close()
	out := []store.Cabin{}
	for rows.Next() {
		c, err := scanCabin(rows)
		if err != nil {
			return nil, fmt.Errorf("list cabins: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cabins: %w", err)
	}
	return out, nil
}

// Cabin implements store.Store.
func (s *Store) Cabin(ctx context.Context, site, cabin string) (store.Cabin, error) {
	c, err := scanCabin(s.pool.QueryRow(ctx, `SELECT `+cabinCols+` FROM cabins WHERE site = $1 AND cabin = $2`, site, cabin))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("cabin %s/%s: %w", site, cabin, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("cabin %s/%s: %w", site, cabin, err)
	}
	return c, nil
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	page := store.EventPage{Events: []store.StoredEvent{}}
	limit := q.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	if limit < 0 || limit > store.MaxLimit {
		return page, fmt.Errorf("list events: limit %d (want 1..%d)", limit, store.MaxLimit)
	}
	args := []any{q.Site, q.Cabin}
	where := []string{"site = $1", "cabin = $2"}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Type != "" {
		where = append(where, "type = "+arg(q.Type))
	}
	if !q.Since.IsZero() {
		where = append(where, "time_us >= "+arg(us(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "time_us < "+arg(us(q.Until)))
	}
	if q.Cursor != "" {
		c, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return page, fmt.Errorf("list events: %w", err)
		}
		where = append(where, "(time_us, id) > ("+arg(c.TimeUS)+", "+arg(c.ID)+")")
	}
	rows, err := s.pool.Query(ctx, `SELECT id, epoch, seq, time_us, type, data, received_us FROM events WHERE `+
		strings.Join(where, " AND ")+` ORDER BY time_us, id LIMIT `+arg(limit+1), args...)
	if err != nil {
		return page, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var last store.Cursor
	for rows.Next() {
		if len(page.Events) == limit {
			page.Next = last.Encode()
			break
		}
		var (
			e               store.StoredEvent
			id, tu, ru, seq int64
			data            string
		)
		if err := rows.Scan(&id, &e.Epoch, &seq, &tu, &e.Type, &data, &ru); err != nil {
			return page, fmt.Errorf("list events: %w", err)
		}
		e.Site, e.Cabin, e.Seq = q.Site, q.Cabin, uint64(seq)
		e.Time, e.Received = fromUS(tu), fromUS(ru)
		e.Data = json.RawMessage(data)
		page.Events = append(page.Events, e)
		last = store.Cursor{TimeUS: tu, ID: id}
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list events: %w", err)
	}
	return page, nil
}

// RecentAcks implements store.Store.
func (s *Store) RecentAcks(ctx context.Context, since time.Time) ([]store.Contiguous, error) {
	rows, err := s.pool.Query(ctx, `SELECT site, cabin, epoch, contiguous FROM epochs WHERE last_seen_us >= $1 AND contiguous > 0
		ORDER BY site, cabin, epoch`, us(since))
	if err != nil {
		return nil, fmt.Errorf("recent acks: %w", err)
	}
	defer rows.Close()
	var out []store.Contiguous
	for rows.Next() {
		var c store.Contiguous
		var seq int64
		if err := rows.Scan(&c.Site, &c.Cabin, &c.Epoch, &seq); err != nil {
			return nil, fmt.Errorf("recent acks: %w", err)
		}
		c.Seq = uint64(seq)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent acks: %w", err)
	}
	return out, nil
}

// NoticeSet implements store.Store.
func (s *Store) NoticeSet(ctx context.Context, site string) (wire.NoticeSet, error) {
	var body string
	err := s.pool.QueryRow(ctx, `SELECT body FROM notice_sets WHERE site = $1`, site).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return wire.NoticeSet{}, fmt.Errorf("notice set %s: %w", site, store.ErrNotFound)
	}
	if err != nil {
		return wire.NoticeSet{}, fmt.Errorf("notice set %s: %w", site, err)
	}
	var set wire.NoticeSet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		return wire.NoticeSet{}, fmt.Errorf("notice set %s: stored body: %w", site, err)
	}
	return set, nil
}

// NoticeSets implements store.Store.
func (s *Store) NoticeSets(ctx context.Context) ([]wire.NoticeSet, error) {
	rows, err := s.pool.Query(ctx, `SELECT body FROM notice_sets ORDER BY site`)
	if err != nil {
		return nil, fmt.Errorf("list notice sets: %w", err)
	}
	defer rows.Close()
	var out []wire.NoticeSet
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list notice sets: %w", err)
		}
		var set wire.NoticeSet
		if err := json.Unmarshal([]byte(body), &set); err != nil {
			return nil, fmt.Errorf("list notice sets: stored body: %w", err)
		}
		out = append(out, set)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notice sets: %w", err)
	}
	return out, nil
}

// PutNoticeSet implements store.Store.
func (s *Store) PutNoticeSet(ctx context.Context, set wire.NoticeSet) error {
	if set.Version == 0 {
		return fmt.Errorf("put notice set %s: version 0 (versions start at 1)", set.Site)
	}
	body, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("put notice set %s: %w", set.Site, err)
	}
	now := us(time.Now())
	var n int64
	if set.Version == 1 {
		tag, err := s.pool.Exec(ctx, `INSERT INTO notice_sets (site, version, body, updated_us) VALUES ($1, 1, $2, $3) ON CONFLICT (site) DO NOTHING`,
			set.Site, string(body), now)
		if err != nil {
			return fmt.Errorf("put notice set %s: %w", set.Site, err)
		}
		n = tag.RowsAffected()
	} else {
		tag, err := s.pool.Exec(ctx, `UPDATE notice_sets SET version = $1, body = $2, updated_us = $3 WHERE site = $4 AND version = $5`,
			int64(set.Version), string(body), now, set.Site, int64(set.Version-1))
		if err != nil {
			return fmt.Errorf("put notice set %s: %w", set.Site, err)
		}
		n = tag.RowsAffected()
	}
	if n == 0 {
		return fmt.Errorf("put notice set %s version %d: %w", set.Site, set.Version, store.ErrVersionConflict)
	}
	return nil
}
