package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Cursor is the position after which a page starts: the last event's time
// (Unix microseconds) and store id. It is opaque to clients.
type Cursor struct {
	TimeUS int64
	ID     int64
}

// Encode makes the opaque form of c.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.TimeUS, 10) + ":" + strconv.FormatInt(c.ID, 10)))
}

// DecodeCursor parses what Encode made.
func DecodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	ts, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return Cursor{}, fmt.Errorf("%w: no separator", ErrBadCursor)
	}
	var c Cursor
	if c.TimeUS, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return Cursor{}, fmt.Errorf("%w: bad time", ErrBadCursor)
	}
	if c.ID, err = strconv.ParseInt(id, 10, 64); err != nil || c.ID < 0 {
		return Cursor{}, fmt.Errorf("%w: bad id", ErrBadCursor)
	}
	return c, nil
}

// EventFilter is an EventQuery checked, in stored units: what an engine
// turns into the WHERE clause of its events query.
type EventFilter struct {
	Site, Cabin string
	Type        string  // empty: all types
	Since       *int64  // time_us >= *Since; nil: no bound
	Until       *int64  // time_us < *Until; nil: no bound
	After       *Cursor // (time_us, id) > (After.TimeUS, After.ID); nil: from the first event
	Limit       int     // events per page, 1..MaxLimit
}

// Filter checks q's limit and cursor and converts its bounds.
func (q EventQuery) Filter() (EventFilter, error) {
	f := EventFilter{Site: q.Site, Cabin: q.Cabin, Type: q.Type, Limit: q.Limit}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		return f, fmt.Errorf("limit %d (want 1..%d)", f.Limit, MaxLimit)
	}
	if !q.Since.IsZero() {
		v := Micros(q.Since)
		f.Since = &v
	}
	if !q.Until.IsZero() {
		v := Micros(q.Until)
		f.Until = &v
	}
	if q.Cursor != "" {
		c, err := DecodeCursor(q.Cursor)
		if err != nil {
			return f, err
		}
		f.After = &c
	}
	return f, nil
}

// RowLimit is the LIMIT of the events query: one row more than the page,
// which tells whether a next page exists.
func (f EventFilter) RowLimit() int { return f.Limit + 1 }

// QueryEvents returns the page q asks for. statement turns the checked
// query into the engine's statement and its arguments; it selects id,
// epoch, seq, time_us, type, data and received_us ordered by time_us then
// id, at most f.RowLimit() rows. The events of a page that fails part way
// are returned with the error.
func QueryEvents(ctx context.Context, db Querier, q EventQuery, statement func(f EventFilter) (string, []any)) (EventPage, error) {
	page := EventPage{Events: []StoredEvent{}}
	f, err := q.Filter()
	if err != nil {
		return page, fmt.Errorf("list events: %w", err)
	}
	query, args := statement(f)
	var last Cursor
	err = queryEach(ctx, db, query, args, func(rows Rows) error {
		if len(page.Events) == f.Limit { // the extra row: there is a next page
			page.Next = last.Encode()
			return nil
		}
		var (
			e               StoredEvent
			id, tu, ru, seq int64
			data            string
		)
		if err := rows.Scan(&id, &e.Epoch, &seq, &tu, &e.Type, &data, &ru); err != nil {
			return err
		}
		e.Site, e.Cabin, e.Seq = f.Site, f.Cabin, uint64(seq)
		e.Time, e.Received = FromMicros(tu), FromMicros(ru)
		e.Data = json.RawMessage(data)
		page.Events = append(page.Events, e)
		last = Cursor{TimeUS: tu, ID: id}
		return nil
	})
	if err != nil {
		return page, fmt.Errorf("list events: %w", err)
	}
	return page, nil
}
