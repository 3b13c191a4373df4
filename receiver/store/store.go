package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Errors callers branch on.
var (
	// ErrNotFound is returned when the cabin or notice set asked for is not stored.
	ErrNotFound = errors.New("not found")
	// ErrVersionConflict is returned by PutNoticeSet when the stored version is
	// not the one the caller read: another change came first.
	ErrVersionConflict = errors.New("notice set version conflict")
	// ErrBadCursor is returned for a cursor this store did not produce.
	ErrBadCursor = errors.New("bad cursor")
)

// Store is what the receiver needs from a database. Every method is safe for
// concurrent use.
type Store interface {
	// InsertBatches stores the events of the batches in one transaction,
	// dropping duplicates by (site, cabin, epoch, seq), updates the cabins
	// they come from and returns the contiguous sequence of every epoch
	// touched. When it returns nil, the events are committed.
	InsertBatches(ctx context.Context, batches []wire.Batch, received time.Time) (InsertResult, error)
	// UpdateState records a cabin's state snapshot unless a newer one is stored.
	UpdateState(ctx context.Context, s wire.State, received time.Time) error
	// UpdateStatus records whether a cabin's agent is connected.
	UpdateStatus(ctx context.Context, site, cabin string, online bool, received time.Time) error
	// Cabins lists every known cabin ordered by site then cabin.
	Cabins(ctx context.Context) ([]Cabin, error)
	// Cabin returns one cabin or ErrNotFound.
	Cabin(ctx context.Context, site, cabin string) (Cabin, error)
	// Events returns one page of a cabin's events ordered by time then
	// arrival; Page.Next is empty on the last page.
	Events(ctx context.Context, q EventQuery) (EventPage, error)
	// RecentAcks returns the contiguous sequence of every epoch that received
	// events at or after since, so that lost acks can be sent again.
	RecentAcks(ctx context.Context, since time.Time) ([]Contiguous, error)
	// NoticeSet returns a site's notice set or ErrNotFound.
	NoticeSet(ctx context.Context, site string) (wire.NoticeSet, error)
	// NoticeSets returns every site's notice set, ordered by site.
	NoticeSets(ctx context.Context) ([]wire.NoticeSet, error)
	// PutNoticeSet stores set if the stored version is set.Version-1 (0 when
	// none is stored), else returns ErrVersionConflict.
	PutNoticeSet(ctx context.Context, set wire.NoticeSet) error
	// Close releases the database.
	Close() error
}

// InsertResult says what InsertBatches did.
type InsertResult struct {
	Inserted   int          // events newly stored
	Duplicates int          // events already stored, dropped
	Contiguous []Contiguous // one per (site, cabin, epoch) in the batches
}

// Contiguous is the highest sequence n of an epoch such that 1..n are all stored
// (0 when sequence 1 is not stored yet). Advanced says whether the call that
// returned it moved it forward.
type Contiguous struct {
	Site     string
	Cabin    string
	Epoch    string
	Seq      uint64
	Advanced bool
}

// Cabin is the fleet view of one cabin.
type Cabin struct {
	Site      string        `json:"site"`
	Cabin     string        `json:"cabin"`
	Online    bool          `json:"online"`
	LastSeen  time.Time     `json:"last_seen"`
	Floor     *int          `json:"floor"` // nil until known
	Mode      string        `json:"mode"`
	Faults    []int         `json:"faults"`
	Alarm     bool          `json:"alarm"`
	Counters  wire.Counters `json:"counters"`
	Events    int64         `json:"events"`     // events stored
	StateTime *time.Time    `json:"state_time"` // time of the newest snapshot or event applied to floor and mode
}

// StoredEvent is an event as stored, with where it came from.
type StoredEvent struct {
	Site     string          `json:"site"`
	Cabin    string          `json:"cabin"`
	Epoch    string          `json:"epoch"`
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Received time.Time       `json:"received"`
}

// EventQuery selects a page of one cabin's events.
type EventQuery struct {
	Site, Cabin string
	Type        string    // empty: all types
	Since       time.Time // inclusive; zero: no bound
	Until       time.Time // exclusive; zero: no bound
	Cursor      string    // from a previous page's Next
	Limit       int       // 1..MaxLimit; 0 means DefaultLimit
}

// MaxSeq is the largest sequence a store accepts: databases keep signed
// 64-bit integers. The receiver dead-letters a batch above it.
const MaxSeq = math.MaxInt64

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// EventPage is one page of events.
type EventPage struct {
	Events []StoredEvent `json:"events"`
	Next   string        `json:"next,omitempty"`
}

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

// CabinUpdate is what a batch of events changes in its cabin: computed once
// here so every engine applies the same rules.
type CabinUpdate struct {
	Site, Cabin string
	Floor       *int
	FloorTime   time.Time
	Mode        string
	ModeTime    time.Time
	Counters    *wire.Counters
	CountersAt  time.Time
	LastEvent   time.Time
}

// Summarize folds the events of batches into one update per cabin: the
// latest arrival floor, latest mode and latest heartbeat counters by event
// time (events arrive out of order, so the newest wins, not the last seen).
func Summarize(batches []wire.Batch) map[[2]string]*CabinUpdate {
	out := make(map[[2]string]*CabinUpdate)
	for i := range batches {
		b := &batches[i]
		k := [2]string{b.Site, b.Cabin}
		u := out[k]
		if u == nil {
			u = &CabinUpdate{Site: b.Site, Cabin: b.Cabin}
			out[k] = u
		}
		for j := range b.Events {
			e := &b.Events[j]
			if e.Time.After(u.LastEvent) {
				u.LastEvent = e.Time
			}
			switch e.Type {
			case wire.TypeArrival:
				var d wire.ArrivalData
				if json.Unmarshal(e.Data, &d) == nil && !e.Time.Before(u.FloorTime) {
					f := d.Floor
					u.Floor, u.FloorTime = &f, e.Time
				}
			case wire.TypeModeChange:
				var d wire.ModeChangeData
				if json.Unmarshal(e.Data, &d) == nil && !e.Time.Before(u.ModeTime) {
					u.Mode, u.ModeTime = d.To, e.Time
				}
			case wire.TypeHeartbeat:
				var d wire.HeartbeatData
				if json.Unmarshal(e.Data, &d) == nil && !e.Time.Before(u.CountersAt) {
					c := d.Counters
					u.Counters, u.CountersAt = &c, e.Time
				}
			}
		}
	}
	return out
}
