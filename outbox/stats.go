package outbox

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/palier-lifts/palier/wire"
)

// Stats is a snapshot for metrics and health events. Arrays are indexed by
// Class. Evicted, Dropped and Quarantined count since the file was created.
type Stats struct {
	Epoch          string
	LastSeq        uint64
	Pending        [numClasses]int    // entries waiting to be sent, per class
	Sent           [numClasses]int    // entries the broker took, awaiting confirmation
	Leased         int                // pending entries handed out by Lease and not yet settled
	Bytes          int64              // stored payload bytes, pending and sent
	MaxBytes       int64              // the bound on Bytes (safety entries may exceed it)
	OldestPending  time.Duration      // age of the oldest pending entry; 0 if none
	Evicted        uint64             // entries pushed out to respect MaxBytes, all classes
	EvictedByClass [numClasses]uint64 // the same per class (safety is always 0)
	Dropped        uint64             // Appends refused (ErrFull, or a commit that failed: a full disk), all classes
	DroppedByClass [numClasses]uint64
	Quarantined    uint64
	Commits        uint64 // append transactions since Open (each is one bbolt commit)
	Appends        uint64 // entries appended since Open
	FileBytes      int64  // size of the bbolt file
	// AcksBeyondSent counts acknowledgements since Open that claimed
	// entries never sent (forged, or from a restored older file); those
	// entries were kept.
	AcksBeyondSent uint64
	// UnreportedLost counts lost sequences (evicted, missing) not yet in a
	// loss report; LossRuns the runs of lost sequences the file keeps,
	// reported or not, until the receiver holds their report.
	UnreportedLost uint64
	LossRuns       int
}

// Depth is the number of entries not yet confirmed.
func (s Stats) Depth() uint64 {
	var n uint64
	for c := range Class(numClasses) {
		n += uint64(s.Pending[c] + s.Sent[c])
	}
	return n
}

// Stats returns a snapshot of the queue.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{
		Epoch:          o.epoch,
		LastSeq:        o.st.lastSeq,
		Leased:         len(o.leased),
		Bytes:          o.st.totalBytes(),
		MaxBytes:       o.opts.MaxBytes,
		EvictedByClass: o.st.evicted,
		DroppedByClass: o.st.dropped,
		Quarantined:    o.st.quarantined,
		Commits:        o.commits,
		Appends:        o.appends,
		AcksBeyondSent: o.acksBeyondSent,
		UnreportedLost: o.st.unreported,
		LossRuns:       o.st.lossRecords,
	}
	for c := range Class(numClasses) {
		s.Evicted += o.st.evicted[c]
		s.Dropped += o.st.dropped[c]
		s.Pending[c] = o.st.count[c][stagePending]
		s.Sent[c] = o.st.count[c][stageSent]
	}
	if o.closed {
		return s
	}
	now := o.opts.Now()
	_ = o.db.View(func(tx *bolt.Tx) error {
		s.FileBytes = tx.Size()
		// The first key of each pending bucket is its oldest entry.
		for c := range Class(numClasses) {
			_, v := tx.Bucket(bucketPending[c]).Cursor().First()
			if v == nil {
				continue
			}
			r, err := decodeRecord(v)
			if err != nil {
				continue
			}
			if age := now.Sub(time.Unix(0, r.appended)); age > s.OldestPending {
				s.OldestPending = age
			}
		}
		return nil
	})
	return s
}

// Health is what a health event says of the outbox and the controller's
// polling (the agent's, the fleet generator's); the caller adds its
// version.
func (s Stats) Health(uptime time.Duration, polls, pollErrors uint64) wire.HealthData {
	rate := 0.0
	if polls > 0 {
		rate = float64(pollErrors) / float64(polls)
	}
	return wire.HealthData{
		UptimeSeconds:     uint64(uptime.Seconds()),
		PollErrorRate:     rate,
		OutboxDepth:       s.Depth(),
		OldestPendingAgeS: s.OldestPending.Seconds(),
		Evictions:         s.Evicted,
		Quarantined:       s.Quarantined,
	}
}
