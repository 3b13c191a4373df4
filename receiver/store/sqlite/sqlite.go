package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Options tune the database. The zero value is the safe default.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "full" (default) fsyncs
	// the WAL at every commit, so an event acknowledged to JetStream and to
	// the device survives a power cut; "normal" survives only a crash of
	// the process.
	Synchronous string
	// ReadConns bounds the read-only pool (default 4).
	ReadConns int
}

// Store is a SQLite store.Store.
type Store struct {
	path string
	w    *sql.DB // the one writer connection
	r    *sql.DB // read-only connections
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database file at path and migrates its schema.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	sync := strings.ToUpper(opts.Synchronous)
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("open sqlite %s: synchronous %q (want full or normal)", path, opts.Synchronous)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		for _, e := range extra {
			k, v, _ := strings.Cut(e, "=")
			q.Add(k, v)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn("_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	return &Store{path: path, w: w, r: r}, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

type epochKey struct{ site, cabin, epoch string }

// InsertBatches implements store.Store.
func (s *Store) InsertBatches(ctx context.Context, batches []wire.Batch, received time.Time) (store.InsertResult, error) {
	var res store.InsertResult
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("insert events: begin: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO events (site, cabin, epoch, seq, time_us, type, data, received_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, cabin, epoch, seq) DO NOTHING`)
	if err != nil {
		return res, fmt.Errorf("insert events: prepare: %w", err)
	}
	defer ins.Close()
	rus := us(received)
	perCabin := map[[2]string]int64{}
	var keys []epochKey
	seen := map[epochKey]bool{}
	for i := range batches {
		b := &batches[i]
		k := epochKey{b.Site, b.Cabin, b.Epoch}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		ck := [2]string{b.Site, b.Cabin}
		perCabin[ck] += 0
		for j := range b.Events {
			e := &b.Events[j]
			if e.Seq > store.MaxSeq {
				return res, fmt.Errorf("insert events: %s/%s epoch %s seq %d above %d", b.Site, b.Cabin, b.Epoch, e.Seq, int64(store.MaxSeq))
			}
			r, err := ins.ExecContext(ctx, b.Site, b.Cabin, b.Epoch, int64(e.Seq), us(e.Time), e.Type, string(e.Data), rus)
			if err != nil {
				return res, fmt.Errorf("insert event %s/%s %s#%d: %w", b.Site, b.Cabin, b.Epoch, e.Seq, err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return res, fmt.Errorf("insert event %s/%s %s#%d: %w", b.Site, b.Cabin, b.Epoch, e.Seq, err)
			}
			if n == 1 {
				res.Inserted++
				perCabin[ck]++
			} else {
				res.Duplicates++
			}
		}
	}
	// Cabins first: last seen, events stored, then what the events say.
	updates := store.Summarize(batches)
	for ck, n := range perCabin {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cabins (site, cabin, last_seen_us, events) VALUES (?, ?, ?, ?)
			ON CONFLICT (site, cabin) DO UPDATE SET last_seen_us = max(last_seen_us, excluded.last_seen_us), events = events + excluded.events`,
			ck[0], ck[1], rus, n); err != nil {
			return res, fmt.Errorf("update cabin %s/%s: %w", ck[0], ck[1], err)
		}
		u := updates[ck]
		if u == nil {
			continue
		}
		if err := applyUpdate(ctx, tx, u); err != nil {
			return res, err
		}
	}
	for _, k := range keys {
		c, err := advance(ctx, tx, k, rus)
		if err != nil {
			return res, err
		}
		res.Contiguous = append(res.Contiguous, c)
	}
	if err := tx.Commit(); err != nil {
		return store.InsertResult{}, fmt.Errorf("insert events: commit: %w", err)
	}
	return res, nil
}

func applyUpdate(ctx context.Context, tx *sql.Tx, u *store.CabinUpdate) error {
	if u.Floor != nil {
		t := us(u.FloorTime)
		if _, err := tx.ExecContext(ctx, `UPDATE cabins SET floor = ?, floor_us = ? WHERE site = ? AND cabin = ? AND floor_us <= ?`,
			*u.Floor, t, u.Site, u.Cabin, t); err != nil {
			return fmt.Errorf("update cabin %s/%s floor: %w", u.Site, u.Cabin, err)
		}
	}
	if u.Mode != "" {
		t := us(u.ModeTime)
		if _, err := tx.ExecContext(ctx, `UPDATE cabins SET mode = ?, mode_us = ? WHERE site = ? AND cabin = ? AND mode_us <= ?`,
			u.Mode, t, u.Site, u.Cabin, t); err != nil {
			return fmt.Errorf("update cabin %s/%s mode: %w", u.Site, u.Cabin, err)
		}
	}
	if u.Counters != nil {
		t := us(u.CountersAt)
		c, _ := json.Marshal(u.Counters)
		if _, err := tx.ExecContext(ctx, `UPDATE cabins SET counters = ?, counters_us = ? WHERE site = ? AND cabin = ? AND counters_us <= ?`,
			string(c), t, u.Site, u.Cabin, t); err != nil {
			return fmt.Errorf("update cabin %s/%s counters: %w", u.Site, u.Cabin, err)
		}
	}
	return nil
}

// advance moves an epoch's contiguous sequence over the sequences now stored
// right after it. The scan stops at the first gap, so it reads only what it
// advances over plus one row.
func advance(ctx context.Context, tx *sql.Tx, k epochKey, rus int64) (store.Contiguous, error) {
	c := store.Contiguous{Site: k.site, Cabin: k.cabin, Epoch: k.epoch}
	var cur int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO epochs (site, cabin, epoch, contiguous, last_seen_us) VALUES (?, ?, ?, 0, ?)
		ON CONFLICT (site, cabin, epoch) DO UPDATE SET last_seen_us = max(last_seen_us, excluded.last_seen_us)
		RETURNING contiguous`, k.site, k.cabin, k.epoch, rus).Scan(&cur); err != nil {
		return c, fmt.Errorf("read contiguous %s/%s %s: %w", k.site, k.cabin, k.epoch, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq FROM events WHERE site = ? AND cabin = ? AND epoch = ? AND seq > ? ORDER BY seq`,
		k.site, k.cabin, k.epoch, cur)
	if err != nil {
		return c, fmt.Errorf("scan sequences %s/%s %s: %w", k.site, k.cabin, k.epoch, err)
	}
	next := cur
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return c, fmt.Errorf("scan sequences %s/%s %s: %w", k.site, k.cabin, k.epoch, err)
		}
		if seq != next+1 {
			break
		}
		next = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("scan sequences %s/%s %s: %w", k.site, k.cabin, k.epoch, err)
	}
	c.Seq = uint64(next)
	if next != cur {
		c.Advanced = true
		if _, err := tx.ExecContext(ctx, `UPDATE epochs SET contiguous = ? WHERE site = ? AND cabin = ? AND epoch = ?`,
			next, k.site, k.cabin, k.epoch); err != nil {
			return c, fmt.Errorf("store contiguous %s/%s %s: %w", k.site, k.cabin, k.epoch, err)
		}
	}
	return c, nil
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
	alarm := 0
	if st.Alarm {
		alarm = 1
	}
	// Each group of fields moves only forward in time: a retained snapshot
	// delivered late must not undo newer events.
	_, err := s.w.ExecContext(ctx, `INSERT INTO cabins (site, cabin, last_seen_us, floor, floor_us, mode, mode_us, faults, alarm, state_us, counters, counters_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (site, cabin) DO UPDATE SET
			last_seen_us = max(last_seen_us, excluded.last_seen_us),
			floor    = CASE WHEN floor_us    <= excluded.floor_us    THEN excluded.floor    ELSE floor    END,
			floor_us = max(floor_us, excluded.floor_us),
			mode     = CASE WHEN mode_us     <= excluded.mode_us     THEN excluded.mode     ELSE mode     END,
			mode_us  = max(mode_us, excluded.mode_us),
			faults   = CASE WHEN state_us    <= excluded.state_us    THEN excluded.faults   ELSE faults   END,
			alarm    = CASE WHEN state_us    <= excluded.state_us    THEN excluded.alarm    ELSE alarm    END,
			state_us = max(state_us, excluded.state_us),
			counters = CASE WHEN counters_us <= excluded.counters_us THEN excluded.counters ELSE counters END,
			counters_us = max(counters_us, excluded.counters_us)`,
		st.Site, st.Cabin, us(received), st.Floor, t, st.Mode, t, string(fj), alarm, t, string(cj), t)
	if err != nil {
		return fmt.Errorf("update state %s/%s: %w", st.Site, st.Cabin, err)
	}
	return nil
}

// UpdateStatus implements store.Store.
func (s *Store) UpdateStatus(ctx context.Context, site, cabin string, online bool, received time.Time) error {
	on := 0
	if online {
		on = 1
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO cabins (site, cabin, last_seen_us, online, status_us) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (site, cabin) DO UPDATE SET
			online = CASE WHEN status_us <= excluded.status_us THEN excluded.online ELSE online END,
			status_us = max(status_us, excluded.status_us),
			last_seen_us = max(last_seen_us, excluded.last_seen_us)`,
		site, cabin, us(received), on, us(received))
	if err != nil {
		return fmt.Errorf("update status %s/%s: %w", site, cabin, err)
	}
	return nil
}

const cabinCols = `site, cabin, online, last_seen_us, floor, mode, faults, alarm, counters, events, max(floor_us, mode_us, state_us)`

func scanCabin(sc interface{ Scan(...any) error }) (store.Cabin, error) {
	var (
		c              store.Cabin
		online, alarm  int
		lastSeen, stUS int64
		floor          sql.NullInt64
		faults, cnt    string
	)
	if err := sc.Scan(&c.Site, &c.Cabin, &online, &lastSeen, &floor, &c.Mode, &faults, &alarm, &cnt, &c.Events, &stUS); err != nil {
		return c, err
	}
	c.Online, c.Alarm = online == 1, alarm == 1
	c.LastSeen = fromUS(lastSeen)
	if floor.Valid {
		f := int(floor.Int64)
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+cabinCols+` FROM cabins ORDER BY site, cabin`)
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
	c, err := scanCabin(s.r.QueryRowContext(ctx, `SELECT `+cabinCols+` FROM cabins WHERE site = ? AND cabin = ?`, site, cabin))
	if errors.Is(err, sql.ErrNoRows) {
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
	where := []string{"site = ?", "cabin = ?"}
	args := []any{q.Site, q.Cabin}
	if q.Type != "" {
		where = append(where, "type = ?")
		args = append(args, q.Type)
	}
	if !q.Since.IsZero() {
		where = append(where, "time_us >= ?")
		args = append(args, us(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "time_us < ?")
		args = append(args, us(q.Until))
	}
	if q.Cursor != "" {
		c, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return page, fmt.Errorf("list events: %w", err)
		}
		where = append(where, "(time_us > ? OR (time_us = ? AND id > ?))")
		args = append(args, c.TimeUS, c.TimeUS, c.ID)
	}
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, `SELECT id, epoch, seq, time_us, type, data, received_us FROM events WHERE `+
		strings.Join(where, " AND ")+` ORDER BY time_us, id LIMIT ?`, args...)
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
			e          store.StoredEvent
			id, tu, ru int64
			seq        int64
			data       string
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
	rows, err := s.r.QueryContext(ctx, `SELECT site, cabin, epoch, contiguous FROM epochs WHERE last_seen_us >= ? AND contiguous > 0`, us(since))
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
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Site+"/"+a.Cabin+"/"+a.Epoch < b.Site+"/"+b.Cabin+"/"+b.Epoch
	})
	return out, nil
}

// NoticeSet implements store.Store.
func (s *Store) NoticeSet(ctx context.Context, site string) (wire.NoticeSet, error) {
	var body string
	err := s.r.QueryRowContext(ctx, `SELECT body FROM notice_sets WHERE site = ?`, site).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT body FROM notice_sets ORDER BY site`)
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
	var r sql.Result
	if set.Version == 1 {
		r, err = s.w.ExecContext(ctx, `INSERT INTO notice_sets (site, version, body, updated_us) VALUES (?, 1, ?, ?) ON CONFLICT (site) DO NOTHING`,
			set.Site, string(body), now)
	} else {
		r, err = s.w.ExecContext(ctx, `UPDATE notice_sets SET version = ?, body = ?, updated_us = ? WHERE site = ? AND version = ?`,
			int64(set.Version), string(body), now, set.Site, int64(set.Version-1))
	}
	if err != nil {
		return fmt.Errorf("put notice set %s: %w", set.Site, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("put notice set %s: %w", set.Site, err)
	} else if n == 0 {
		return fmt.Errorf("put notice set %s version %d: %w", set.Site, set.Version, store.ErrVersionConflict)
	}
	return nil
}
