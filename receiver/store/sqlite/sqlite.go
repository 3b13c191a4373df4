package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

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
	store.SQLAccounts
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
	return &Store{path: path, w: w, r: r, SQLAccounts: store.SQLAccounts{W: execer{w}, R: reader{r}}}, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// InsertBatches implements store.Store.
func (s *Store) InsertBatches(ctx context.Context, batches []wire.Batch, received time.Time) (store.InsertResult, error) {
	var res store.InsertResult
	groups, err := store.GroupByEpoch(batches)
	if err != nil {
		return res, fmt.Errorf("insert events: %w", err)
	}
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
	rus := store.Micros(received)
	perCabin := map[[2]string]int64{}
	for _, g := range groups {
		k := g.Key
		ck := [2]string{k.Site, k.Cabin}
		perCabin[ck] += 0
		for _, e := range g.Events {
			r, err := ins.ExecContext(ctx, k.Site, k.Cabin, k.Epoch, int64(e.Seq), store.Micros(e.Time), e.Type, string(e.Data), rus)
			if err != nil {
				return res, fmt.Errorf("insert event %s/%s %s#%d: %w", k.Site, k.Cabin, k.Epoch, e.Seq, refused(err))
			}
			n, err := r.RowsAffected()
			if err != nil {
				return res, fmt.Errorf("insert event %s/%s %s#%d: %w", k.Site, k.Cabin, k.Epoch, e.Seq, err)
			}
			if n == 1 {
				res.Inserted++
				perCabin[ck]++
				continue
			}
			res.Duplicates++
			var tus int64
			var typ, data string
			if err := tx.QueryRowContext(ctx, `SELECT time_us, type, data FROM events WHERE site = ? AND cabin = ? AND epoch = ? AND seq = ?`,
				k.Site, k.Cabin, k.Epoch, int64(e.Seq)).Scan(&tus, &typ, &data); err != nil {
				return res, fmt.Errorf("read stored event %s/%s %s#%d: %w", k.Site, k.Cabin, k.Epoch, e.Seq, err)
			}
			if !store.SameContent(e, tus, typ, data) {
				res.Conflicts = append(res.Conflicts, store.Conflict{Key: k, Event: *e})
			}
		}
	}
	if err := insertLost(ctx, tx, groups, rus); err != nil {
		return res, err
	}
	if err := putFacts(ctx, tx, store.FactsOf(batches, received)); err != nil {
		return res, err
	}
	if err := putAlarms(ctx, tx, store.AlarmChangesOf(batches, received), received); err != nil {
		return res, err
	}
	if err := putPlays(ctx, tx, store.PlaysOf(batches, received)); err != nil {
		return res, err
	}
	event, _ := store.TimelineStatements("?")
	if err := putTimeline(ctx, tx, event, store.TimelineOf(batches, received)); err != nil {
		return res, err
	}
	// Cabins first: last seen, events stored, then what the events say.
	updates := store.Summarize(batches, received)
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
	for _, g := range groups {
		c, err := advance(ctx, tx, g.Key, rus)
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
		t := store.Micros(u.FloorTime)
		if _, err := tx.ExecContext(ctx, `UPDATE cabins SET floor = ?, floor_us = ? WHERE site = ? AND cabin = ? AND floor_us <= ?`,
			*u.Floor, t, u.Site, u.Cabin, t); err != nil {
			return fmt.Errorf("update cabin %s/%s floor: %w", u.Site, u.Cabin, err)
		}
	}
	if u.Mode != "" {
		t := store.Micros(u.ModeTime)
		if _, err := tx.ExecContext(ctx, `UPDATE cabins SET mode = ?, mode_us = ? WHERE site = ? AND cabin = ? AND mode_us <= ?`,
			u.Mode, t, u.Site, u.Cabin, t); err != nil {
			return fmt.Errorf("update cabin %s/%s mode: %w", u.Site, u.Cabin, err)
		}
	}
	if u.Version != "" {
		t := store.Micros(u.VersionAt)
		if _, err := tx.ExecContext(ctx, `UPDATE cabins SET agent_version = ?, version_us = ? WHERE site = ? AND cabin = ? AND version_us <= ?`,
			u.Version, t, u.Site, u.Cabin, t); err != nil {
			return fmt.Errorf("update cabin %s/%s agent version: %w", u.Site, u.Cabin, err)
		}
	}
	if u.Counters != nil {
		t := store.Micros(u.CountersAt)
		if _, err := tx.ExecContext(ctx, `UPDATE cabins SET counters = ?, counters_us = ? WHERE site = ? AND cabin = ? AND counters_us <= ?`,
			store.CountersJSON(*u.Counters), t, u.Site, u.Cabin, t); err != nil {
			return fmt.Errorf("update cabin %s/%s counters: %w", u.Site, u.Cabin, err)
		}
	}
	return nil
}

// insertLost records the ranges the lost events of the groups account for.
func insertLost(ctx context.Context, tx *sql.Tx, groups []store.EpochEvents, rus int64) error {
	for _, g := range groups {
		for _, l := range store.LostOf(g.Events) {
			if err := putLost(ctx, tx, g.Key, l, rus); err != nil {
				return err
			}
		}
	}
	return nil
}

func putLost(ctx context.Context, tx *sql.Tx, k store.EpochKey, l store.LostRange, rus int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO lost (site, cabin, epoch, first_seq, last_seq, reason, report_seq, received_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		k.Site, k.Cabin, k.Epoch, int64(l.Range[0]), int64(l.Range[1]), l.Reason, int64(l.Report), rus); err != nil {
		return fmt.Errorf("record lost %v of %s/%s %s: %w", l.Range, k.Site, k.Cabin, k.Epoch, refused(err))
	}
	return nil
}

// putFacts records facts (store.FactsUpsert).
func putFacts(ctx context.Context, tx *sql.Tx, facts []store.Fact) error {
	for _, f := range facts {
		if _, err := tx.ExecContext(ctx, store.FactsUpsert(`VALUES (?, ?, ?, ?, ?, ?)`),
			f.Site, f.Cabin, f.Name, f.Value, store.Micros(f.At), store.Micros(f.Since)); err != nil {
			return fmt.Errorf("record %s of %s/%s: %w", f.Name, f.Site, f.Cabin, err)
		}
	}
	return nil
}

// putTimeline records timeline values with stmt, one of
// store.TimelineStatements, in the order given; the one writer connection
// keeps writers apart.
func putTimeline(ctx context.Context, tx *sql.Tx, stmt string, entries []store.TimelineEntry) error {
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, stmt, store.TimelineArgs(e)...); err != nil {
			return fmt.Errorf("record %s=%s of %s/%s in the timeline: %w", e.Name, e.Value, e.Site, e.Cabin, err)
		}
	}
	return nil
}

// Timeline implements store.Store.
func (s *Store) Timeline(ctx context.Context, site, cabin string, since, until time.Time) ([]store.TimelineEntry, error) {
	return store.QueryTimeline(ctx, reader{s.r}, "?", site, cabin, since, until)
}

// Facts implements store.Store.
func (s *Store) Facts(ctx context.Context, site, cabin string) ([]store.Fact, error) {
	const cols = `SELECT site, cabin, name, value, at_us, since_us FROM cabin_facts`
	if site == "" && cabin == "" {
		return store.QueryFacts(ctx, reader{s.r}, cols+` ORDER BY site, cabin, name`)
	}
	return store.QueryFacts(ctx, reader{s.r}, cols+` WHERE site = ? AND cabin = ? ORDER BY name`, site, cabin)
}

// AccountLost implements store.Store.
func (s *Store) AccountLost(ctx context.Context, k store.EpochKey, ranges []wire.Range, reason string, received time.Time) (store.Contiguous, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Contiguous{}, fmt.Errorf("account lost: begin: %w", err)
	}
	defer tx.Rollback()
	rus := store.Micros(received)
	for _, r := range ranges {
		if r[1] > store.MaxSeq {
			continue
		}
		if err := putLost(ctx, tx, k, store.LostRange{Range: r, Reason: reason}, rus); err != nil {
			return store.Contiguous{}, err
		}
	}
	c, err := advance(ctx, tx, k, rus)
	if err != nil {
		return c, err
	}
	var n uint64
	for _, r := range ranges {
		n += r.Len()
	}
	if err := putFacts(ctx, tx, []store.Fact{{Site: k.Site, Cabin: k.Cabin, Name: store.FactLoss,
		Value: strconv.FormatUint(n, 10), At: received, Since: received}}); err != nil {
		return c, err
	}
	if err := tx.Commit(); err != nil {
		return store.Contiguous{}, fmt.Errorf("account lost: commit: %w", err)
	}
	return c, nil
}

// StoredAbove implements store.Store.
func (s *Store) StoredAbove(ctx context.Context, k store.EpochKey, after uint64, maxRanges int) ([]wire.Range, error) {
	return store.QueryStoredAbove(ctx, reader{s.r},
		`SELECT seq FROM events WHERE site = ? AND cabin = ? AND epoch = ? AND seq > ? ORDER BY seq LIMIT ?`,
		lostAboveSQL, k, after, maxRanges)
}

const lostAboveSQL = `SELECT first_seq, last_seq FROM lost WHERE site = ? AND cabin = ? AND epoch = ? AND last_seq > ?`

// Epochs implements store.Store.
func (s *Store) Epochs(ctx context.Context, site, cabin string) ([]store.EpochSummary, error) {
	return store.QueryEpochs(ctx, reader{s.r}, store.EpochQueries{
		Epochs: `SELECT p.epoch, p.contiguous, p.last_seen_us,
				(SELECT count(*) FROM events e WHERE e.site = p.site AND e.cabin = p.cabin AND e.epoch = p.epoch),
				(SELECT COALESCE(max(seq), 0) FROM events e WHERE e.site = p.site AND e.cabin = p.cabin AND e.epoch = p.epoch)
			FROM epochs p WHERE p.site = ? AND p.cabin = ? ORDER BY p.last_seen_us DESC, p.epoch`,
		Lost: `SELECT epoch, first_seq, last_seq, reason, report_seq FROM lost WHERE site = ? AND cabin = ?`,
		InLost: `SELECT DISTINCT e.epoch, e.seq FROM lost l
			JOIN events e ON e.site = l.site AND e.cabin = l.cabin AND e.epoch = l.epoch AND e.seq BETWEEN l.first_seq AND l.last_seq
			WHERE l.site = ? AND l.cabin = ? ORDER BY e.epoch, e.seq`,
	}, site, cabin)
}

// advance moves an epoch's contiguous sequence over the sequences now
// stored or accounted for as lost right after it. The scan of events stops
// at the first gap, so it reads only what it advances over plus one row.
func advance(ctx context.Context, tx *sql.Tx, k store.EpochKey, rus int64) (store.Contiguous, error) {
	c := store.Contiguous{Site: k.Site, Cabin: k.Cabin, Epoch: k.Epoch}
	var cur int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO epochs (site, cabin, epoch, contiguous, last_seen_us) VALUES (?, ?, ?, 0, ?)
		ON CONFLICT (site, cabin, epoch) DO UPDATE SET last_seen_us = max(last_seen_us, excluded.last_seen_us)
		RETURNING contiguous`, k.Site, k.Cabin, k.Epoch, rus).Scan(&cur); err != nil {
		return c, fmt.Errorf("read contiguous %s/%s %s: %w", k.Site, k.Cabin, k.Epoch, err)
	}
	ranges, err := store.QueryLostRanges(ctx, txReader{tx}, lostAboveSQL, k, uint64(cur))
	if err != nil {
		return c, fmt.Errorf("read lost ranges %s/%s %s: %w", k.Site, k.Cabin, k.Epoch, err)
	}
	adv := store.NewAdvance(uint64(cur), ranges)
	rows, err := tx.QueryContext(ctx, `SELECT seq FROM events WHERE site = ? AND cabin = ? AND epoch = ? AND seq > ? ORDER BY seq`,
		k.Site, k.Cabin, k.Epoch, cur)
	if err != nil {
		return c, fmt.Errorf("scan sequences %s/%s %s: %w", k.Site, k.Cabin, k.Epoch, err)
	}
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return c, fmt.Errorf("scan sequences %s/%s %s: %w", k.Site, k.Cabin, k.Epoch, err)
		}
		if !adv.Offer(uint64(seq)) {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("scan sequences %s/%s %s: %w", k.Site, k.Cabin, k.Epoch, err)
	}
	next := int64(adv.Contiguous())
	c.Seq = uint64(next)
	if next != cur {
		c.Advanced = true
		if _, err := tx.ExecContext(ctx, `UPDATE epochs SET contiguous = ? WHERE site = ? AND cabin = ? AND epoch = ?`,
			next, k.Site, k.Cabin, k.Epoch); err != nil {
			return c, fmt.Errorf("store contiguous %s/%s %s: %w", k.Site, k.Cabin, k.Epoch, err)
		}
	}
	return c, nil
}

// UpdateState implements store.Store.
func (s *Store) UpdateState(ctx context.Context, st wire.State, received time.Time) error {
	t := store.Micros(st.Time)
	alarm := 0
	if st.Alarm {
		alarm = 1
	}
	// Each group of fields moves only forward in time: a retained snapshot
	// delivered late must not undo newer events.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update state %s/%s: begin: %w", st.Site, st.Cabin, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO cabins (site, cabin, last_seen_us, floor, floor_us, mode, mode_us, faults, alarm, state_us, counters, counters_us)
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
		st.Site, st.Cabin, store.Micros(received), st.Floor, t, st.Mode, t, store.FaultsJSON(st.Faults), alarm, t, store.CountersJSON(st.Counters), t)
	if err != nil {
		return fmt.Errorf("update state %s/%s: %w", st.Site, st.Cabin, err)
	}
	if err := putFacts(ctx, tx, store.FactsOfState(st)); err != nil {
		return err
	}
	_, change := store.TimelineStatements("?")
	if err := putTimeline(ctx, tx, change, store.TimelineOfState(st)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update state %s/%s: commit: %w", st.Site, st.Cabin, err)
	}
	return nil
}

// UpdateStatus implements store.Store.
func (s *Store) UpdateStatus(ctx context.Context, site, cabin string, online bool, received time.Time) error {
	on := 0
	if online {
		on = 1
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update status %s/%s: begin: %w", site, cabin, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO cabins (site, cabin, last_seen_us, online, status_us) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (site, cabin) DO UPDATE SET
			online = CASE WHEN status_us <= excluded.status_us THEN excluded.online ELSE online END,
			status_us = max(status_us, excluded.status_us),
			last_seen_us = max(last_seen_us, excluded.last_seen_us)`,
		site, cabin, store.Micros(received), on, store.Micros(received))
	if err != nil {
		return fmt.Errorf("update status %s/%s: %w", site, cabin, err)
	}
	_, change := store.TimelineStatements("?")
	if err := putTimeline(ctx, tx, change, []store.TimelineEntry{store.TimelineOfStatus(site, cabin, online, received)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update status %s/%s: commit: %w", site, cabin, err)
	}
	return nil
}

// cabinCols are the columns store.QueryCabins reads.
const cabinCols = `site, cabin, online, last_seen_us, floor, mode, faults, alarm, counters, events, max(floor_us, mode_us, state_us), agent_version, status_us`

// Cabins implements store.Store.
func (s *Store) Cabins(ctx context.Context) ([]store.Cabin, error) {
	return store.QueryCabins(ctx, reader{s.r}, `SELECT `+cabinCols+` FROM cabins ORDER BY site, cabin`)
}

// Cabin implements store.Store.
func (s *Store) Cabin(ctx context.Context, site, cabin string) (store.Cabin, error) {
	return store.QueryCabin(ctx, reader{s.r}, `SELECT `+cabinCols+` FROM cabins WHERE site = ? AND cabin = ?`, site, cabin)
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	return store.QueryEvents(ctx, reader{s.r}, q, eventsSQL)
}

// eventsSQL is the statement of one page of events.
func eventsSQL(f store.EventFilter) (string, []any) {
	where := []string{"site = ?", "cabin = ?"}
	args := []any{f.Site, f.Cabin}
	if f.Type != "" {
		where = append(where, "type = ?")
		args = append(args, f.Type)
	}
	if f.Since != nil {
		where = append(where, "time_us >= ?")
		args = append(args, *f.Since)
	}
	if f.Until != nil {
		where = append(where, "time_us < ?")
		args = append(args, *f.Until)
	}
	if f.After != nil {
		where = append(where, "(time_us > ? OR (time_us = ? AND id > ?))")
		args = append(args, f.After.TimeUS, f.After.TimeUS, f.After.ID)
	}
	return `SELECT id, epoch, seq, time_us, type, data, received_us FROM events WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY time_us, id LIMIT ?`, append(args, f.RowLimit())
}

// RecentAcks implements store.Store.
func (s *Store) RecentAcks(ctx context.Context, since time.Time) ([]store.Contiguous, error) {
	return store.QueryRecentAcks(ctx, reader{s.r}, `SELECT site, cabin, epoch, contiguous FROM epochs WHERE last_seen_us >= ?
		ORDER BY site, cabin, epoch`, since)
}

// NoticeSet implements store.Store.
func (s *Store) NoticeSet(ctx context.Context, site string) (wire.NoticeSet, error) {
	return store.QueryNoticeSet(ctx, reader{s.r}, `SELECT body FROM notice_sets WHERE site = ?`, site)
}

// NoticeSets implements store.Store.
func (s *Store) NoticeSets(ctx context.Context) ([]wire.NoticeSet, error) {
	return store.QueryNoticeSets(ctx, reader{s.r}, `SELECT body FROM notice_sets ORDER BY site`)
}

// txReader runs store.Querier statements in a write transaction.
type txReader struct{ tx *sql.Tx }

func (r txReader) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	rows, err := r.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// reader runs store.Querier statements on the read-only pool.
type reader struct{ db *sql.DB }

func (r reader) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err // not a nil *sql.Rows in a non-nil interface
	}
	return rows, nil
}

// PutNoticeSet implements store.Store.
func (s *Store) PutNoticeSet(ctx context.Context, set wire.NoticeSet) error {
	return store.PutNoticeSet(ctx, noticeWriter{s.w}, set, time.Now())
}

// noticeWriter runs PutNoticeSet's statements on the writer connection.
type noticeWriter struct{ db *sql.DB }

func (w noticeWriter) CreateNoticeSet(ctx context.Context, site, body string, updatedUS int64) (bool, error) {
	return changed(w.db.ExecContext(ctx, `INSERT INTO notice_sets (site, version, body, updated_us) VALUES (?, 1, ?, ?) ON CONFLICT (site) DO NOTHING`,
		site, body, updatedUS))
}

func (w noticeWriter) ReplaceNoticeSet(ctx context.Context, site string, version int64, body string, updatedUS int64) (bool, error) {
	return changed(w.db.ExecContext(ctx, `UPDATE notice_sets SET version = ?, body = ?, updated_us = ? WHERE site = ? AND version = ?`,
		version, body, updatedUS, site, version-1))
}

// changed says whether a statement changed a row.
func changed(r sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

// refused marks an error that the content caused (too big, a constraint, a
// type mismatch): retrying the same events cannot succeed.
func refused(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_RANGE:
			return fmt.Errorf("%w: %w", store.ErrRefused, err)
		}
	}
	return err
}
