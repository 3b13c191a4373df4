package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Querier runs an engine's read statements. Both engines adapt their
// driver to it in a few lines; the Query functions below do the rest once.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Rows is a result set, as database/sql's *sql.Rows gives it (pgx's Rows
// differs only by a Close without a result).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// scanner is one row of Rows.
type scanner interface {
	Scan(dest ...any) error
}

// Micros is a time as the stores keep it: Unix microseconds in an integer
// column, which every engine compares, indexes and returns alike.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the time a Micros value stands for, in UTC. 0, the
// columns' default, stands for "never": the zero time.
func FromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// FaultsJSON is the stored form of a snapshot's faults: never null, so
// that a cabin read back lists none as [].
func FaultsJSON(faults []int) string {
	if faults == nil {
		faults = []int{}
	}
	b, _ := json.Marshal(faults) // a slice of ints always encodes
	return string(b)
}

// CountersJSON is the stored form of a cabin's counters.
func CountersJSON(c wire.Counters) string {
	b, _ := json.Marshal(c) // plain numbers always encode
	return string(b)
}

// scanCabin reads a cabin from a row of the columns QueryCabins describes.
func scanCabin(row scanner) (Cabin, error) {
	var (
		c              Cabin
		lastSeen, stUS int64
		statusUS       int64
		floor          *int64
		faults, cnt    string
	)
	if err := row.Scan(&c.Site, &c.Cabin, &c.Online, &lastSeen, &floor, &c.Mode, &faults, &c.Alarm, &cnt, &c.Events, &stUS, &c.AgentVersion, &statusUS); err != nil {
		return c, err
	}
	c.LastSeen = FromMicros(lastSeen)
	c.StatusTime = FromMicros(statusUS)
	if floor != nil {
		f := int(*floor)
		c.Floor = &f
	}
	if stUS != 0 {
		t := FromMicros(stUS)
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

// QueryCabins runs query, which selects the columns site, cabin, online,
// last_seen_us, floor (NULL until known), mode, faults, alarm, counters,
// events, the newest of floor_us, mode_us and state_us, agent_version and
// status_us, ordered by site then cabin. The list is never nil, so that no cabins encode as [].
func QueryCabins(ctx context.Context, db Querier, query string, args ...any) ([]Cabin, error) {
	out := []Cabin{}
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		c, err := scanCabin(rows)
		out = append(out, c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list cabins: %w", err)
	}
	return out, nil
}

// QueryCabin runs query, which selects the columns of QueryCabins for the
// cabin site/cabin (its two arguments), or returns ErrNotFound.
func QueryCabin(ctx context.Context, db Querier, query, site, cabin string) (Cabin, error) {
	var c Cabin
	err := queryOne(ctx, db, query, []any{site, cabin}, func(rows Rows) (err error) {
		c, err = scanCabin(rows)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("cabin %s/%s: %w", site, cabin, err)
	}
	return c, nil
}

// QueryRecentAcks runs query, which selects the columns site, cabin, epoch
// and contiguous of the epochs seen at or after its one argument, since
// (Micros), ordered by site, cabin then epoch.
func QueryRecentAcks(ctx context.Context, db Querier, query string, since time.Time) ([]Contiguous, error) {
	var out []Contiguous
	err := queryEach(ctx, db, query, []any{Micros(since)}, func(rows Rows) error {
		var c Contiguous
		var seq int64
		if err := rows.Scan(&c.Site, &c.Cabin, &c.Epoch, &seq); err != nil {
			return err
		}
		c.Seq = uint64(seq)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recent acks: %w", err)
	}
	return out, nil
}

// queryOne runs query and calls row for its first row, or returns
// ErrNotFound when it has none.
func queryOne(ctx context.Context, db Querier, query string, args []any, row func(Rows) error) error {
	found := false
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		if found {
			return nil
		}
		found = true
		return row(rows)
	})
	if err == nil && !found {
		return ErrNotFound
	}
	return err
}

// queryEach runs query and calls row for each row until it fails.
func queryEach(ctx context.Context, db Querier, query string, args []any, row func(Rows) error) error {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
