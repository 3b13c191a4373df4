package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/palier-lifts/palier/wire"
)

// Class orders entries for draining and eviction.
type Class uint8

const (
	ClassSafety    Class = iota // alarm, entrapment, faults, out of service: drained first, never evicted
	ClassEvents                 // ordinary elevator events
	ClassTelemetry              // heartbeats, health: evicted first
)

const numClasses = 3

// ClassOf is the class of an event of type typ (wire's classes): what
// the agent and the fleet generator append under.
func ClassOf(typ string) Class {
	switch {
	case wire.Safety(typ):
		return ClassSafety
	case wire.Telemetry(typ):
		return ClassTelemetry
	}
	return ClassEvents
}

// String names the class as it appears in logs and metrics.
func (c Class) String() string {
	switch c {
	case ClassSafety:
		return "safety"
	case ClassEvents:
		return "events"
	case ClassTelemetry:
		return "telemetry"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Internal crash points passed to Options.TestHook.
const (
	// HookAppendCommitted: a group commit is durable, no Append caller is told yet.
	HookAppendCommitted = "append-committed"
	// HookMarkedSent: a MarkSent transaction is durable, the caller is not told yet.
	HookMarkedSent = "marked-sent"
	// HookCompactCopied: the compacted copy is synced, not yet renamed over the file.
	HookCompactCopied = "compact-copied"
	// HookCompactRenamed: the compacted copy was renamed over the file, the directory is not synced yet.
	HookCompactRenamed = "compact-renamed"
	// HookResetCreated: the new file is created beside the damaged one, which is still in place.
	HookResetCreated = "reset-created"
	// HookResetMovedAside: the damaged file is moved aside, the new file is not in place yet.
	HookResetMovedAside = "reset-moved-aside"
)

// Options configure an outbox. The zero value is usable.
type Options struct {
	// MaxBytes bounds the stored payload bytes (pending and sent); 0 means 64 MiB.
	MaxBytes int64
	// MaxFileBytes, if set, bounds the file on disk. Entries other than
	// safety ones are kept, with a per-entry overhead, within a quarter
	// of it: the pages of a queue that churns are half empty and more
	// (measured: a file 3 to 3.7 times the counted bytes, for 100- to
	// 2,000-byte entries; see TestFileStaysWithinMaxFileBytes), and the
	// file grows in small steps instead of to the next power of two.
	// bbolt refuses to grow the file beyond MaxFileBytes + SafetyReserve;
	// that last room is for safety entries.
	MaxFileBytes int64
	// SafetyReserve is the room only safety entries may take: beyond
	// MaxFileBytes, and of the file system's free space (below it, other
	// entries are refused and counted as dropped). 0 means 1 MiB.
	SafetyReserve int64
	// ResendAfter is how long a sent entry may stay unconfirmed before it becomes
	// pending again; 0 means 2 minutes.
	ResendAfter time.Duration
	// MissingAfter is how long the receiver's acknowledgements must go on
	// lacking a sequence this file no longer holds before it is recorded
	// as lost (missing); 0 means 1 minute, two of the receiver's ack
	// re-sends. One ack older than one applied already (two receivers
	// share the stream; a read before another's commit) lacks what the
	// newer one confirmed, and must not turn stored sequences into lost
	// ones; a receiver that really lost them (its store restored from a
	// backup) says so in every ack after.
	MissingAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings about resets, compaction and odd acks; nil discards.
	Logger *slog.Logger
	// CompactMinBytes is the file size below which Open never compacts; 0 means 1 MiB.
	CompactMinBytes int64
	// TestHook, if set, is called at the internal points named by the Hook*
	// constants. It exists for crash tests, which exit abruptly from it; it must
	// not call back into the outbox. Leave it nil in production.
	TestHook func(point string)
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.ResendAfter <= 0 {
		o.ResendAfter = 2 * time.Minute
	}
	if o.MissingAfter <= 0 {
		o.MissingAfter = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CompactMinBytes <= 0 {
		o.CompactMinBytes = 1 << 20
	}
	if o.SafetyReserve <= 0 {
		o.SafetyReserve = 1 << 20
	}
	return o
}

// entryOverhead is what an entry costs on disk beyond its payload, as
// counted against MaxFileBytes: its record header and key, its page
// element, its share of the sent index.
const entryOverhead = recordHeader + 8 + 16 + 16

// fileShare is the part of MaxFileBytes that entries' counted bytes may
// fill (one in fileShare).
const fileShare = 4

// allocStep is how much bbolt grows the file by once it is past it,
// instead of its default 16 MiB or the next power of two; with
// MaxFileBytes set, at most a sixteenth of it.
const allocStep = 256 << 10

// Entry is one queued payload as handed out by Lease.
type Entry struct {
	Seq      uint64
	Class    Class
	Payload  []byte
	Appended time.Time
	Attempts int // how many times it was marked sent
}

// Reset says why a damaged file was set aside and where it went.
type Reset struct{ Reason, MovedTo, PrevEpoch string }

const (
	stagePending = 0
	stageSent    = 1
	numStages    = 2
)

// state is the in-memory mirror of the file's counters. It is recomputed by
// scanning the file at Open and changed only after a transaction commits.
type state struct {
	lastSeq     uint64
	count       [numClasses][numStages]int
	bytes       [numClasses][numStages]int64
	evicted     [numClasses]uint64
	dropped     [numClasses]uint64
	quarantined uint64
	unreported  uint64 // lost sequences not yet in a report
	lossRecords int    // runs in the losses bucket, reported or not
	resetStored bool   // the file still carries the reset record
	appState    []byte // the caller's state stored with the last append that had one
}

func (s *state) classBytes(c Class) int64 { return s.bytes[c][stagePending] + s.bytes[c][stageSent] }

func (s *state) totalBytes() int64 {
	var n int64
	for c := range Class(numClasses) {
		n += s.classBytes(c)
	}
	return n
}

// costBytes is the payload with every entry's overhead: what is counted
// against MaxFileBytes.
func (s *state) costBytes() int64 {
	n := s.totalBytes()
	for c := range Class(numClasses) {
		n += int64(s.count[c][stagePending]+s.count[c][stageSent]) * entryOverhead
	}
	return n
}

// Outbox is a durable queue of payloads in one bbolt file. Its methods are
// safe for concurrent use.
type Outbox struct {
	db    *bolt.DB
	path  string
	opts  Options
	log   *slog.Logger
	epoch string // guarded by mu: Rotate changes it
	reset *Reset

	// The append queue: Appends gather here while a commit is being synced.
	qmu     sync.Mutex
	queue   []*appendReq
	qclosed bool
	qsig    chan struct{} // capacity 1: "the queue is not empty"
	quit    chan struct{}
	done    chan struct{}

	// mu guards everything below and is held across every write transaction,
	// so the in-memory state always matches the last commit.
	mu      sync.Mutex
	st      state
	leased  map[uint64]struct{}
	changed chan struct{} // closed and replaced when pending entries may have appeared
	closed  bool
	commits uint64
	appends uint64
	// acknowledgements that claimed entries never sent, since Open
	acksBeyondSent uint64
	// suspects are the sequences an ack of epoch suspectEpoch lacked that
	// the file no longer holds, each since it was first seen lacking: not
	// lost until the acks still lack them MissingAfter later. In memory
	// only: after a restart the wait begins again.
	suspects     []suspect
	suspectEpoch string
	// the highest sequence of each class handed out by Lease since Open
	leasedHigh [numClasses]uint64
}

// Epoch returns the random id of the file's sequences, made when the file
// was created or last rotated: [a-z0-9-].
func (o *Outbox) Epoch() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch
}

// Reset is non-nil when Open had to set a damaged file aside. The file keeps
// the record until the first Append commits, so a crash before the agent has
// reported the reset reports it again at the next Open.
func (o *Outbox) Reset() *Reset {
	if o.reset == nil {
		return nil
	}
	r := *o.reset
	return &r
}

// AppState returns the state stored by the last AppendWithState that
// committed (nil if none): what the caller had reached when the newest
// stored entries were appended.
func (o *Outbox) AppState() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.st.appState == nil {
		return nil
	}
	return append([]byte(nil), o.st.appState...)
}

// Path returns the file the outbox lives in.
func (o *Outbox) Path() string { return o.path }

// Close waits for Appends already queued to commit, wakes blocked Leases with
// ErrClosed, and closes the file.
func (o *Outbox) Close() error {
	o.qmu.Lock()
	if o.qclosed {
		o.qmu.Unlock()
		return nil
	}
	o.qclosed = true
	o.qmu.Unlock()
	close(o.quit)
	<-o.done

	o.mu.Lock()
	o.closed = true
	o.notifyLocked()
	err := o.db.Close()
	o.mu.Unlock()
	if err != nil {
		return fmt.Errorf("close outbox %s: %w", o.path, err)
	}
	return nil
}

// notifyLocked wakes every blocked Lease. o.mu must be held.
func (o *Outbox) notifyLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

func (o *Outbox) hook(point string) {
	if o.opts.TestHook != nil {
		o.opts.TestHook(point)
	}
}

// ctxErr reports a done context without blocking.
func ctxErr(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}
