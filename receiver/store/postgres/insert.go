package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// epochWork is what one InsertBatches call does to one epoch.
type epochWork struct {
	key     store.EpochKey
	events  []*wire.Event // of the batches, sorted by seq
	current int64         // contiguous when locked
	stored  []int64       // sequences above current already stored, sorted
	lost    []wire.Range  // ranges accounted for as lost ending above current
}

// SQL of InsertBatches. Each takes column arrays (unnest) so that a call
// costs the same number of statements whatever its size.
const (
	// Locks the epochs in array order, which the caller sorts: every
	// writer takes its locks in one order, so none deadlocks.
	lockEpochsSQL = `INSERT INTO epochs (site, cabin, epoch, contiguous, last_seen_us)
		SELECT site, cabin, epoch, 0, $4
		FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(site, cabin, epoch, n)
		ORDER BY n
		ON CONFLICT (site, cabin, epoch) DO UPDATE SET last_seen_us = GREATEST(epochs.last_seen_us, excluded.last_seen_us)
		RETURNING site, cabin, epoch, contiguous`
	// Run after the lock, so it sees what every earlier writer committed.
	storedAboveSQL = `SELECT e.site, e.cabin, e.epoch, e.seq
		FROM unnest($1::text[], $2::text[], $3::text[]) AS k(site, cabin, epoch)
		JOIN epochs p ON p.site = k.site AND p.cabin = k.cabin AND p.epoch = k.epoch
		JOIN events e ON e.site = k.site AND e.cabin = k.cabin AND e.epoch = k.epoch AND e.seq > p.contiguous`
	// The lost ranges ending above the contiguous sequence (they move
	// it) or at or above the lowest sequence of the batches (a late event
	// they cover is stored, not dropped as a duplicate).
	lostAboveBatchSQL = `SELECT l.site, l.cabin, l.epoch, l.first_seq, l.last_seq
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS k(site, cabin, epoch, lowest)
		JOIN epochs p ON p.site = k.site AND p.cabin = k.cabin AND p.epoch = k.epoch
		JOIN lost l ON l.site = k.site AND l.cabin = k.cabin AND l.epoch = k.epoch AND l.last_seq >= LEAST(k.lowest, p.contiguous + 1)`
	// Events at or below the contiguous sequence within a lost range:
	// late arrivals, which may or may not be stored already.
	insertLateSQL = `INSERT INTO events (site, cabin, epoch, seq, time_us, type, data, received_us)
		SELECT site, cabin, epoch, seq, time_us, type, data, $8
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS u(site, cabin, epoch, seq, time_us, type, data)
		ON CONFLICT (site, cabin, epoch, seq) DO NOTHING
		RETURNING site, cabin`
	insertLostSQL = `INSERT INTO lost (site, cabin, epoch, first_seq, last_seq, reason, report_seq, received_us)
		SELECT site, cabin, epoch, first_seq, last_seq, reason, report_seq, $8
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[])
			AS u(site, cabin, epoch, first_seq, last_seq, reason, report_seq)
		ON CONFLICT DO NOTHING`
	// Sequence 0 is never covered by contiguous: checked apart, only when
	// a batch holds one (the receiver rejects them before).
	storedZeroSQL = `SELECT e.site, e.cabin, e.epoch
		FROM unnest($1::text[], $2::text[], $3::text[]) AS k(site, cabin, epoch)
		JOIN events e ON e.site = k.site AND e.cabin = k.cabin AND e.epoch = k.epoch AND e.seq = 0`
	// No ON CONFLICT: the rows are known new (the epochs are locked and
	// were read), and a plain insert costs a third less per row. Should
	// that ever be wrong, the unique key fails the transaction instead of
	// storing a duplicate.
	insertEventsSQL = `INSERT INTO events (site, cabin, epoch, seq, time_us, type, data, received_us)
		SELECT site, cabin, epoch, seq, time_us, type, data, $8
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS u(site, cabin, epoch, seq, time_us, type, data)`
	// One row per cabin, in sorted order. A NULL floor or counters, or an
	// empty mode, means the batches did not change it; each moves only
	// forward in time, as in UpdateState.
	upsertCabinsSQL = `INSERT INTO cabins AS c (site, cabin, last_seen_us, events, floor, floor_us, mode, mode_us)
		SELECT site, cabin, $3, events, floor, COALESCE(floor_us, 0), mode, COALESCE(mode_us, 0)
		FROM unnest($1::text[], $2::text[], $4::bigint[], $5::int[], $6::bigint[], $7::text[], $8::bigint[]) WITH ORDINALITY
			AS u(site, cabin, events, floor, floor_us, mode, mode_us, n)
		ORDER BY n
		ON CONFLICT (site, cabin) DO UPDATE SET
			last_seen_us = GREATEST(c.last_seen_us, excluded.last_seen_us),
			events   = c.events + excluded.events,
			floor    = CASE WHEN excluded.floor IS NOT NULL AND c.floor_us <= excluded.floor_us THEN excluded.floor    ELSE c.floor    END,
			floor_us = CASE WHEN excluded.floor IS NOT NULL AND c.floor_us <= excluded.floor_us THEN excluded.floor_us ELSE c.floor_us END,
			mode     = CASE WHEN excluded.mode <> '' AND c.mode_us <= excluded.mode_us THEN excluded.mode    ELSE c.mode    END,
			mode_us  = CASE WHEN excluded.mode <> '' AND c.mode_us <= excluded.mode_us THEN excluded.mode_us ELSE c.mode_us END`
	// After upsertCabinsSQL (which locked the rows), for the cabins whose
	// batches held a heartbeat.
	updateCountersSQL = `UPDATE cabins AS c SET counters = u.counters, counters_us = u.counters_us
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(site, cabin, counters, counters_us)
		WHERE c.site = u.site AND c.cabin = u.cabin AND c.counters_us <= u.counters_us`
	// The same, for the cabins whose batches held a health event naming
	// the agent's version.
	updateVersionsSQL = `UPDATE cabins AS c SET agent_version = u.version, version_us = u.version_us
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(site, cabin, version, version_us)
		WHERE c.site = u.site AND c.cabin = u.cabin AND c.version_us <= u.version_us`
	advanceEpochsSQL = `UPDATE epochs SET contiguous = u.contiguous
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(site, cabin, epoch, contiguous)
		WHERE epochs.site = u.site AND epochs.cabin = u.cabin AND epochs.epoch = u.epoch`
)

// copyMin is the number of new events from which COPY beats one more
// statement in the pipeline despite its own round trip.
const copyMin = 64

var eventColumns = []string{"site", "cabin", "epoch", "seq", "time_us", "type", "data", "received_us"}

// InsertBatches implements store.Store.
//
// It costs two pipelined round trips inside the transaction: the first
// locks the epochs touched and reads which of their events above the
// contiguous sequence are stored; the second inserts only the new events,
// updates the cabins and stores the contiguous sequences computed here.
func (s *Store) InsertBatches(ctx context.Context, batches []wire.Batch, received time.Time) (store.InsertResult, error) {
	rus := store.Micros(received)
	// Sorted by key: the epochs' lock order.
	groups, err := store.GroupByEpoch(batches)
	if err != nil {
		return store.InsertResult{}, fmt.Errorf("insert events: %w", err)
	}
	total := 0
	zero := false
	byKey := make(map[store.EpochKey]*epochWork, len(groups))
	work := make([]*epochWork, len(groups))
	ks, kc, ke := make([]string, len(groups)), make([]string, len(groups)), make([]string, len(groups))
	lowest := make([]int64, len(groups))
	for i, g := range groups {
		w := &epochWork{key: g.Key, events: g.Events}
		byKey[g.Key], work[i] = w, w
		ks[i], kc[i], ke[i] = g.Key.Site, g.Key.Cabin, g.Key.Epoch
		if len(g.Events) > 0 {
			lowest[i] = int64(g.Events[0].Seq)
		}
		for _, e := range g.Events {
			zero = zero || e.Seq == 0
		}
		total += len(g.Events)
	}
	updates := store.Summarize(batches, received)

	var res store.InsertResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = store.InsertResult{}
		zeros := map[store.EpochKey]bool{}
		read := &pgx.Batch{}
		read.Queue(lockEpochsSQL, ks, kc, ke, rus).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k store.EpochKey
				var cur int64
				if err := rows.Scan(&k.Site, &k.Cabin, &k.Epoch, &cur); err != nil {
					return err
				}
				if w := byKey[k]; w != nil {
					w.current = cur
				}
			}
			return rows.Err()
		})
		read.Queue(storedAboveSQL, ks, kc, ke).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k store.EpochKey
				var seq int64
				if err := rows.Scan(&k.Site, &k.Cabin, &k.Epoch, &seq); err != nil {
					return err
				}
				if w := byKey[k]; w != nil {
					w.stored = append(w.stored, seq)
				}
			}
			return rows.Err()
		})
		read.Queue(lostAboveBatchSQL, ks, kc, ke, lowest).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k store.EpochKey
				var f, l int64
				if err := rows.Scan(&k.Site, &k.Cabin, &k.Epoch, &f, &l); err != nil {
					return err
				}
				if w := byKey[k]; w != nil {
					w.lost = append(w.lost, wire.Range{uint64(f), uint64(l)})
				}
			}
			return rows.Err()
		})
		if zero {
			read.Queue(storedZeroSQL, ks, kc, ke).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var k store.EpochKey
					if err := rows.Scan(&k.Site, &k.Cabin, &k.Epoch); err != nil {
						return err
					}
					zeros[k] = true
				}
				return rows.Err()
			})
		}
		if err := tx.SendBatch(ctx, read).Close(); err != nil {
			return fmt.Errorf("lock epochs: %w", err)
		}

		var (
			sites, cabins, epochs, types, datas []string
			seqs, times                         []int64
			as, ac, ae                          []string
			acont                               []int64
			lost                                lostRows
			late                                eventRows
			dups                                eventRows // already stored: compared for conflicts
		)
		perCabin := map[[2]string]int64{}
		res.Contiguous = make([]store.Contiguous, len(work))
		for i, w := range work {
			slices.Sort(w.stored)
			fresh := make([]int64, 0, len(w.events))
			last, si := int64(-1), 0
			for _, e := range w.events {
				seq := int64(e.Seq)
				if seq == last {
					continue // twice in these batches
				}
				last = seq
				if seq == 0 && zeros[w.key] {
					dups.add(w.key, e)
					continue
				}
				if seq != 0 && seq <= w.current {
					if slices.ContainsFunc(w.lost, func(r wire.Range) bool { return r.Contains(uint64(seq)) }) {
						late.add(w.key, e)
					} else {
						dups.add(w.key, e)
					}
					continue
				}
				for si < len(w.stored) && w.stored[si] < seq {
					si++
				}
				if si < len(w.stored) && w.stored[si] == seq {
					dups.add(w.key, e)
					continue
				}
				fresh = append(fresh, seq)
				sites, cabins, epochs = append(sites, w.key.Site), append(cabins, w.key.Cabin), append(epochs, w.key.Epoch)
				seqs, times = append(seqs, seq), append(times, store.Micros(e.Time))
				types, datas = append(types, e.Type), append(datas, string(e.Data))
			}
			res.Inserted += len(fresh)
			perCabin[[2]string{w.key.Site, w.key.Cabin}] += int64(len(fresh))
			accounted := store.LostOf(w.events)
			ranges := slices.Clone(w.lost)
			for _, l := range accounted {
				ranges = append(ranges, l.Range)
				lost.add(w.key, l)
			}
			next := contiguousAfter(w.current, w.stored, fresh, ranges)
			res.Contiguous[i] = store.Contiguous{Site: w.key.Site, Cabin: w.key.Cabin, Epoch: w.key.Epoch, Seq: uint64(next), Advanced: next != w.current}
			if next != w.current {
				as, ac, ae, acont = append(as, w.key.Site), append(ac, w.key.Cabin), append(ae, w.key.Epoch), append(acont, next)
			}
		}

		if len(dups.seqs) > 0 {
			conflicts, err := findConflicts(ctx, tx, &dups)
			if err != nil {
				return err
			}
			res.Conflicts = conflicts
		}
		write := &pgx.Batch{}
		if len(late.seqs) > 0 {
			write.Queue(insertLateSQL, late.sites, late.cabins, late.epochs, late.seqs, late.times, late.types, late.datas, rus).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var site, cabin string
					if err := rows.Scan(&site, &cabin); err != nil {
						return err
					}
					res.Inserted++
					perCabin[[2]string{site, cabin}]++
				}
				return rows.Err()
			})
		}
		if len(seqs) >= copyMin {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns, pgx.CopyFromSlice(len(seqs), func(i int) ([]any, error) {
				return []any{sites[i], cabins[i], epochs[i], seqs[i], times[i], types[i], datas[i], rus}, nil
			}))
			if err != nil {
				return fmt.Errorf("copy events: %w", err)
			}
		} else if len(seqs) > 0 {
			write.Queue(insertEventsSQL, sites, cabins, epochs, seqs, times, types, datas, rus)
		}
		if len(lost.sites) > 0 {
			write.Queue(insertLostSQL, lost.sites, lost.cabins, lost.epochs, lost.firsts, lost.lasts, lost.reasons, lost.reports, rus)
		}
		if len(late.seqs) > 0 {
			// The late events' count is known only once they are in.
			if err := tx.SendBatch(ctx, write).Close(); err != nil {
				return fmt.Errorf("insert late events: %w", err)
			}
			write = &pgx.Batch{}
		}
		res.Duplicates = total - res.Inserted
		queueCabins(write, updates, perCabin, rus)
		var facts factRows
		for _, f := range store.FactsOf(batches, received) {
			facts.add(f)
		}
		facts.queue(write)
		for _, c := range store.AlarmChangesOf(batches, received) {
			for _, st := range store.AlarmStatements(c, received) {
				write.Queue(store.Numbered(st.SQL), st.Args...)
			}
		}
		for _, p := range store.PlaysOf(batches, received) {
			write.Queue(insertPlaySQL, store.PlayArgs(p)...)
		}
		event, _ := store.TimelineStatements("$")
		queueTimeline(write, event, store.TimelineOf(batches, received))
		if len(as) > 0 {
			write.Queue(advanceEpochsSQL, as, ac, ae, acont)
		}
		if err := tx.SendBatch(ctx, write).Close(); err != nil {
			return fmt.Errorf("insert events and update cabins: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.InsertResult{}, refused(err)
	}
	return res, nil
}

// refused marks an error that the content caused (SQLSTATE classes 22 data
// exception, 23 integrity violation, 54 program limit): retrying the same
// events cannot succeed.
func refused(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		switch pe.Code[:2] {
		case "22", "23", "54":
			return fmt.Errorf("%w: %w", store.ErrRefused, err)
		}
	}
	return err
}

// contiguousAfter returns the highest n such that current+1..n are all in
// stored or fresh, both sorted (fresh may start with 0, below current+1),
// or in one of the accounted ranges.
func contiguousAfter(current int64, stored, fresh []int64, ranges []wire.Range) int64 {
	adv := store.NewAdvance(uint64(current), ranges)
	i, j := 0, 0
	for i < len(stored) || j < len(fresh) {
		var s int64
		if j >= len(fresh) || i < len(stored) && stored[i] <= fresh[j] {
			s, i = stored[i], i+1
		} else {
			s, j = fresh[j], j+1
		}
		if s <= 0 {
			continue // sequence 0 is never covered by contiguous
		}
		if !adv.Offer(uint64(s)) {
			break
		}
	}
	return int64(adv.Contiguous())
}

// storedContentSQL reads the stored events under the keys of events
// received again.
const storedContentSQL = `SELECT e.site, e.cabin, e.epoch, e.seq, e.time_us, e.type, e.data
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS d(site, cabin, epoch, seq)
	JOIN events e ON e.site = d.site AND e.cabin = d.cabin AND e.epoch = d.epoch AND e.seq = d.seq`

// findConflicts compares events received again with what is stored under
// their keys: a resend stores nothing new, anything else is a conflict.
func findConflicts(ctx context.Context, tx pgx.Tx, dups *eventRows) ([]store.Conflict, error) {
	type key struct {
		k   store.EpochKey
		seq int64
	}
	type content struct {
		tus       int64
		typ, data string
	}
	stored := map[key]content{}
	rows, err := tx.Query(ctx, storedContentSQL, dups.sites, dups.cabins, dups.epochs, dups.seqs)
	if err != nil {
		return nil, fmt.Errorf("read stored duplicates: %w", err)
	}
	for rows.Next() {
		var k key
		var c content
		if err := rows.Scan(&k.k.Site, &k.k.Cabin, &k.k.Epoch, &k.seq, &c.tus, &c.typ, &c.data); err != nil {
			rows.Close()
			return nil, err
		}
		stored[k] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored duplicates: %w", err)
	}
	var out []store.Conflict
	for i, e := range dups.events {
		k := key{store.EpochKey{Site: dups.sites[i], Cabin: dups.cabins[i], Epoch: dups.epochs[i]}, dups.seqs[i]}
		if c, ok := stored[k]; ok && !store.SameContent(e, c.tus, c.typ, c.data) {
			out = append(out, store.Conflict{Key: k.k, Event: *e})
		}
	}
	return out, nil
}

// eventRows are events as column arrays.
type eventRows struct {
	sites, cabins, epochs, types, datas []string
	seqs, times                         []int64
	events                              []*wire.Event
}

func (r *eventRows) add(k store.EpochKey, e *wire.Event) {
	r.events = append(r.events, e)
	r.sites, r.cabins, r.epochs = append(r.sites, k.Site), append(r.cabins, k.Cabin), append(r.epochs, k.Epoch)
	r.seqs, r.times = append(r.seqs, int64(e.Seq)), append(r.times, store.Micros(e.Time))
	r.types, r.datas = append(r.types, e.Type), append(r.datas, string(e.Data))
}

// factRows are facts as column arrays for one store.FactsUpsert.
type factRows struct {
	sites, cabins, names, values []string
	at, since                    []int64
}

func (r *factRows) add(f store.Fact) {
	r.sites, r.cabins, r.names, r.values = append(r.sites, f.Site), append(r.cabins, f.Cabin), append(r.names, f.Name), append(r.values, f.Value)
	r.at, r.since = append(r.at, store.Micros(f.At)), append(r.since, store.Micros(f.Since))
}

// queue adds the upsert of the facts to b, if there are any.
func (r *factRows) queue(b *pgx.Batch) {
	if len(r.sites) == 0 {
		return
	}
	b.Queue(store.FactsUpsert(`SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])`),
		r.sites, r.cabins, r.names, r.values, r.at, r.since)
}

// queueTimeline adds to b the recording of timeline values with stmt, one
// of store.TimelineStatements, in the order given. b must lock the cabins'
// rows in cabins first (queueCabins, the upsert of UpdateState or
// UpdateStatus): holding them, no other writer records values of the same
// cabin until this transaction ends, so a change is compared with every
// row committed before it.
func queueTimeline(b *pgx.Batch, stmt string, entries []store.TimelineEntry) {
	for _, e := range entries {
		b.Queue(stmt, store.TimelineArgs(e)...)
	}
}

// lostRows are lost ranges as column arrays for insertLostSQL.
type lostRows struct {
	sites, cabins, epochs, reasons []string
	firsts, lasts, reports         []int64
}

func (r *lostRows) add(k store.EpochKey, l store.LostRange) {
	r.sites, r.cabins, r.epochs = append(r.sites, k.Site), append(r.cabins, k.Cabin), append(r.epochs, k.Epoch)
	r.firsts, r.lasts = append(r.firsts, int64(l.Range[0])), append(r.lasts, int64(l.Range[1]))
	r.reasons, r.reports = append(r.reasons, l.Reason), append(r.reports, int64(l.Report))
}

// queueCabins queues one statement updating every cabin of the batches,
// in sorted order (the lock order of the cabins rows).
func queueCabins(q *pgx.Batch, updates map[[2]string]*store.CabinUpdate, perCabin map[[2]string]int64, rus int64) {
	keys := make([][2]string, 0, len(updates))
	for k := range updates {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	n := len(keys)
	var (
		sites, cabins, modes = make([]string, n), make([]string, n), make([]string, n)
		events               = make([]int64, n)
		floors               = make([]*int32, n)
		floorUS, modeUS      = make([]*int64, n), make([]*int64, n)
		cs, cc, cnt          []string
		cntUS                []int64
		vs, vc, ver          []string
		verUS                []int64
	)
	for i, k := range keys {
		u := updates[k]
		sites[i], cabins[i], events[i] = k[0], k[1], perCabin[k]
		// A time before 1970 never beats a stored one (times start at 0),
		// as in the statements of UpdateState.
		if u.Floor != nil && store.Micros(u.FloorTime) >= 0 {
			f, t := int32(*u.Floor), store.Micros(u.FloorTime)
			floors[i], floorUS[i] = &f, &t
		}
		if u.Mode != "" && store.Micros(u.ModeTime) >= 0 {
			t := store.Micros(u.ModeTime)
			modes[i], modeUS[i] = u.Mode, &t
		}
		if u.Counters != nil {
			cs, cc, cnt, cntUS = append(cs, k[0]), append(cc, k[1]), append(cnt, store.CountersJSON(*u.Counters)), append(cntUS, store.Micros(u.CountersAt))
		}
		if u.Version != "" {
			vs, vc, ver, verUS = append(vs, k[0]), append(vc, k[1]), append(ver, u.Version), append(verUS, store.Micros(u.VersionAt))
		}
	}
	q.Queue(upsertCabinsSQL, sites, cabins, rus, events, floors, floorUS, modes, modeUS)
	if len(cs) > 0 {
		q.Queue(updateCountersSQL, cs, cc, cnt, cntUS)
	}
	if len(vs) > 0 {
		q.Queue(updateVersionsSQL, vs, vc, ver, verUS)
	}
}

// AccountLost implements store.Store.
func (s *Store) AccountLost(ctx context.Context, k store.EpochKey, ranges []wire.Range, reason string, received time.Time) (store.Contiguous, error) {
	rus := store.Micros(received)
	c := store.Contiguous{Site: k.Site, Cabin: k.Cabin, Epoch: k.Epoch}
	var lost lostRows
	for _, r := range ranges {
		if r[1] <= store.MaxSeq {
			lost.add(k, store.LostRange{Range: r, Reason: reason})
		}
	}
	ks, kc, ke := []string{k.Site}, []string{k.Cabin}, []string{k.Epoch}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur int64
		if err := tx.QueryRow(ctx, lockEpochsSQL, ks, kc, ke, rus).Scan(&k.Site, &k.Cabin, &k.Epoch, &cur); err != nil {
			return fmt.Errorf("lock epoch: %w", err)
		}
		if len(lost.sites) > 0 {
			if _, err := tx.Exec(ctx, insertLostSQL, lost.sites, lost.cabins, lost.epochs, lost.firsts, lost.lasts, lost.reasons, lost.reports, rus); err != nil {
				return fmt.Errorf("record lost ranges: %w", err)
			}
		}
		var stored []int64
		var accounted []wire.Range
		rows, err := tx.Query(ctx, storedAboveSQL, ks, kc, ke)
		if err != nil {
			return fmt.Errorf("read stored sequences: %w", err)
		}
		for rows.Next() {
			var k2 store.EpochKey
			var seq int64
			if err := rows.Scan(&k2.Site, &k2.Cabin, &k2.Epoch, &seq); err != nil {
				rows.Close()
				return err
			}
			stored = append(stored, seq)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read stored sequences: %w", err)
		}
		rows, err = tx.Query(ctx, lostAboveBatchSQL, ks, kc, ke, []int64{cur + 1})
		if err != nil {
			return fmt.Errorf("read lost ranges: %w", err)
		}
		for rows.Next() {
			var k2 store.EpochKey
			var f, l int64
			if err := rows.Scan(&k2.Site, &k2.Cabin, &k2.Epoch, &f, &l); err != nil {
				rows.Close()
				return err
			}
			accounted = append(accounted, wire.Range{uint64(f), uint64(l)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read lost ranges: %w", err)
		}
		var n uint64
		for _, r := range ranges {
			n += r.Len()
		}
		loss := factRows{}
		loss.add(store.Fact{Site: k.Site, Cabin: k.Cabin, Name: store.FactLoss, Value: strconv.FormatUint(n, 10), At: received, Since: received})
		fb := &pgx.Batch{}
		loss.queue(fb)
		if err := tx.SendBatch(ctx, fb).Close(); err != nil {
			return fmt.Errorf("record the loss: %w", err)
		}
		slices.Sort(stored)
		next := contiguousAfter(cur, stored, nil, accounted)
		c.Seq, c.Advanced = uint64(next), next != cur
		if next != cur {
			if _, err := tx.Exec(ctx, advanceEpochsSQL, ks, kc, ke, []int64{next}); err != nil {
				return fmt.Errorf("store contiguous: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return store.Contiguous{}, fmt.Errorf("account lost %s/%s %s: %w", k.Site, k.Cabin, k.Epoch, refused(err))
	}
	return c, nil
}

// StoredAbove implements store.Store.
func (s *Store) StoredAbove(ctx context.Context, k store.EpochKey, after uint64, maxRanges int) ([]wire.Range, error) {
	return store.QueryStoredAbove(ctx, reader{s.pool},
		`SELECT seq FROM events WHERE site = $1 AND cabin = $2 AND epoch = $3 AND seq > $4 ORDER BY seq LIMIT $5`,
		`SELECT first_seq, last_seq FROM lost WHERE site = $1 AND cabin = $2 AND epoch = $3 AND last_seq > $4`,
		k, after, maxRanges)
}

// Epochs implements store.Store.
func (s *Store) Epochs(ctx context.Context, site, cabin string) ([]store.EpochSummary, error) {
	return store.QueryEpochs(ctx, reader{s.pool}, store.EpochQueries{
		Epochs: `SELECT p.epoch, p.contiguous, p.last_seen_us,
				(SELECT count(*) FROM events e WHERE e.site = p.site AND e.cabin = p.cabin AND e.epoch = p.epoch),
				(SELECT COALESCE(max(seq), 0) FROM events e WHERE e.site = p.site AND e.cabin = p.cabin AND e.epoch = p.epoch)
			FROM epochs p WHERE p.site = $1 AND p.cabin = $2 ORDER BY p.last_seen_us DESC, p.epoch` + byteOrder,
		Lost: `SELECT epoch, first_seq, last_seq, reason, report_seq FROM lost WHERE site = $1 AND cabin = $2`,
		InLost: `SELECT DISTINCT e.epoch` + byteOrder + `, e.seq FROM lost l
			JOIN events e ON e.site = l.site AND e.cabin = l.cabin AND e.epoch = l.epoch AND e.seq BETWEEN l.first_seq AND l.last_seq
			WHERE l.site = $1 AND l.cabin = $2 ORDER BY 1, 2`,
	}, site, cabin)
}
