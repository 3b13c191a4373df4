package store

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Errors callers branch on.
var (
	// ErrNotFound is returned when the cabin or notice set asked for is not stored.
	ErrNotFound = errors.New("not found")
	// ErrVersionConflict is returned by PutNoticeSet and PutDesiredConfig
	// when the stored version is not the one the caller read: another
	// change came first.
	ErrVersionConflict = errors.New("notice set version conflict")
	// ErrBadCursor is returned for a cursor this store did not produce.
	ErrBadCursor = errors.New("bad cursor")
	// ErrRefused wraps a failure caused by the content given, not by the
	// database's health: the same input fails again. The receiver
	// dead-letters such a batch alone instead of retrying it with others.
	ErrRefused = errors.New("refused by the store")
)

// Store is what the receiver needs from a database. Every method is safe for
// concurrent use.
//
// Every list it returns has a fixed order, the same in every engine. Ids
// compare as bytes (Go's string order, SQL's "C" collation) and column by
// column, never as joined strings: site "a" sorts before "a-b", and "a-c"
// before "ab".
type Store interface {
	// InsertBatches stores the events of the batches in one transaction,
	// dropping duplicates by (site, cabin, epoch, seq), records the ranges
	// their lost events account for, updates the cabins they come from
	// and returns the contiguous sequence of every epoch touched, ordered
	// by site, cabin then epoch. When it returns nil, the events are
	// committed.
	InsertBatches(ctx context.Context, batches []wire.Batch, received time.Time) (InsertResult, error)
	// UpdateState records a cabin's state snapshot unless a newer one is
	// stored, and the facts and timeline values it brings.
	UpdateState(ctx context.Context, s wire.State, received time.Time) error
	// UpdateStatus records whether a cabin's agent is connected, and
	// the presence in its timeline at received.
	UpdateStatus(ctx context.Context, site, cabin string, online bool, received time.Time) error
	// Cabins lists every known cabin ordered by site then cabin.
	Cabins(ctx context.Context) ([]Cabin, error)
	// Cabin returns one cabin or ErrNotFound.
	Cabin(ctx context.Context, site, cabin string) (Cabin, error)
	// Events returns one page of a cabin's events ordered by event time,
	// then by the order the store took them in: the events of one
	// InsertBatches call by epoch then sequence, after those of every call
	// that returned before it began. Page.Next is empty on the last page.
	Events(ctx context.Context, q EventQuery) (EventPage, error)
	// RecentAcks returns the contiguous sequence of every epoch that received
	// events at or after since, so that lost acks can be sent again, ordered
	// by site, cabin then epoch.
	RecentAcks(ctx context.Context, since time.Time) ([]Contiguous, error)
	// AccountLost records ranges of an epoch as lost for reason (the
	// store refused the batch that carried them) in one transaction, and
	// returns the epoch's contiguous sequence, moved over them.
	AccountLost(ctx context.Context, k EpochKey, ranges []wire.Range, reason string, received time.Time) (Contiguous, error)
	// StoredAbove returns the ranges above after that are stored or
	// accounted for, merged, ascending, at most maxRanges: what an
	// acknowledgement with ranges carries.
	StoredAbove(ctx context.Context, k EpochKey, after uint64, maxRanges int) ([]wire.Range, error)
	// Epochs lists a cabin's epochs, newest first (by last batch, then
	// epoch), with what is stored and accounted for as lost in each, or
	// returns ErrNotFound.
	Epochs(ctx context.Context, site, cabin string) ([]EpochSummary, error)
	// Facts returns the facts of one cabin, or of every cabin when site
	// and cabin are empty, ordered by site, cabin then name.
	Facts(ctx context.Context, site, cabin string) ([]Fact, error)
	// Alarms lists a cabin's alarms, or every cabin's when site and cabin
	// are empty, only the open ones when open is set, newest first (by
	// raising time, then site, cabin and raising event), at most limit.
	Alarms(ctx context.Context, site, cabin string, open bool, limit int) ([]Alarm, error)
	// AlarmsRaised lists a cabin's alarms raised in [since, until),
	// oldest first (by raising time, then raising event), at most limit:
	// a period's alarms however many other periods hold.
	AlarmsRaised(ctx context.Context, site, cabin string, since, until time.Time, limit int) ([]Alarm, error)
	// AcknowledgeAlarms records an operator's acknowledgement of every
	// open alarm of a cabin and returns them, or ErrNoOpenAlarm.
	AcknowledgeAlarms(ctx context.Context, site, cabin, by, message string, at time.Time) ([]Alarm, error)
	// CloseAlarm closes an open alarm for an operator and returns it, or
	// ErrNotFound, or ErrAlarmClosed when it was closed already.
	CloseAlarm(ctx context.Context, site, cabin string, id wire.AlarmRef, by, reason string, at time.Time) (Alarm, error)
	// Timeline returns a cabin's timeline over [since, until) with the
	// last entry of each name before since (the state when the period
	// begins), ordered by time then name; empty for a cabin never heard
	// of. Each entry differs from the entry of its name just before it.
	Timeline(ctx context.Context, site, cabin string, since, until time.Time) ([]TimelineEntry, error)
	// NoticeSet returns a site's notice set or ErrNotFound.
	NoticeSet(ctx context.Context, site string) (wire.NoticeSet, error)
	// NoticeSets returns every site's notice set, ordered by site.
	NoticeSets(ctx context.Context) ([]wire.NoticeSet, error)
	// PutNoticeSet stores set if the stored version is set.Version-1 (0 when
	// none is stored), else returns ErrVersionConflict.
	PutNoticeSet(ctx context.Context, set wire.NoticeSet) error
	// DesiredConfig returns the newest desired configuration of a cabin,
	// or of a site when cabin is empty, or ErrNotFound.
	DesiredConfig(ctx context.Context, site, cabin string) (wire.DesiredConfig, error)
	// DesiredConfigs returns the newest desired configuration of every
	// site and cabin that has one, ordered by site then cabin (a site's
	// own first).
	DesiredConfigs(ctx context.Context) ([]wire.DesiredConfig, error)
	// DesiredConfigHistory returns the versions of a cabin's (or, cabin
	// empty, a site's) desired configuration, newest first, at most limit.
	DesiredConfigHistory(ctx context.Context, site, cabin string, limit int) ([]wire.DesiredConfig, error)
	// PutDesiredConfig stores d, a new version of its scope, if the newest
	// stored is d.Version-1 (none for 1), else returns ErrVersionConflict.
	PutDesiredConfig(ctx context.Context, d wire.DesiredConfig) error
	// NoticePlays sums where and how long a site's notices were shown
	// (notice_shown events) per notice, cabin and language, over records
	// that start in [since, until); notice "" means every notice. Ordered
	// by notice, cabin then language.
	NoticePlays(ctx context.Context, site, notice string, since, until time.Time) ([]NoticePlays, error)
	// Close releases the database.
	Close() error
}

// InsertResult says what InsertBatches did.
type InsertResult struct {
	Inserted   int // events newly stored
	Duplicates int // events already stored, dropped
	// Conflicts are the duplicates whose content (time, type or data)
	// differs from what is stored under their key: not a resend, but two
	// events under one sequence (an outbox file rolled back, a bug, a
	// forgery). The stored one is kept; these are for the record.
	Conflicts  []Conflict
	Contiguous []Contiguous // one per (site, cabin, epoch) in the batches, ordered by site, cabin then epoch
}

// Conflict is an event received under the key of a stored one with other
// content.
type Conflict struct {
	Key   EpochKey
	Event wire.Event // as received
}

// SameContent says whether a stored event (time in Micros, type, data as
// stored) is e: a resend stores nothing new, anything else is a conflict.
func SameContent(e *wire.Event, timeUS int64, typ, data string) bool {
	return Micros(e.Time) == timeUS && e.Type == typ && string(e.Data) == data
}

// Contiguous is the highest sequence n of an epoch such that 1..n are all stored
// or accounted for as lost (0 when sequence 1 is neither yet). Advanced says whether the call that
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
	Site   string `json:"site"`
	Cabin  string `json:"cabin"`
	Online bool   `json:"online"`
	// Stale is set by the API, not the store: online, yet nothing heard
	// for longer than a few presence intervals (a will that was lost).
	Stale    bool      `json:"stale"`
	LastSeen time.Time `json:"last_seen"`
	// StatusTime is when the newest status message (online, offline)
	// was taken: with Online false, since when the cabin is offline.
	StatusTime time.Time     `json:"status_time"`
	Floor      *int          `json:"floor"` // nil until known
	Mode       string        `json:"mode"`
	Faults     []int         `json:"faults"` // as the newest snapshot listed them
	Alarm      bool          `json:"alarm"`
	Counters   wire.Counters `json:"counters"`
	Events     int64         `json:"events"` // events stored
	// AgentVersion is the version the cabin's newest health event named
	// ("" until one did).
	AgentVersion string     `json:"agent_version"`
	StateTime    *time.Time `json:"state_time"` // time of the newest snapshot or event applied to floor and mode
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
