package outbox

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/palier-lifts/palier/wire"
)

// requeueBatch bounds how many due sent entries one Lease moves back to
// pending, so a long outage does not make one huge transaction.
const requeueBatch = 10000

// maxQuarantine bounds the quarantine bucket; older quarantined entries are
// dropped (they stay counted in Stats.Quarantined).
const maxQuarantine = 100

// maxQuarantinePayload bounds what is kept of a quarantined payload: entries
// are often quarantined for being too large, and the quarantine sits outside
// Options.MaxBytes.
const maxQuarantinePayload = 4 << 10

// Lease blocks until at least one pending, un-leased entry exists (or ctx is
// done, or the outbox closes) and returns up to maxCount entries totalling at
// most maxBytes payload bytes: safety first, then events, then telemetry, FIFO
// by sequence within a class. The first entry is returned even if it alone
// exceeds maxBytes, so that the caller can Quarantine it. maxCount <= 0 means
// 1; maxBytes <= 0 means no byte limit.
//
// Returned entries stay leased (hidden from other Lease calls) until MarkSent
// or Release. Sent entries unconfirmed for Options.ResendAfter become pending
// again here; a blocked Lease wakes when the first of them is due.
func (o *Outbox) Lease(ctx context.Context, maxCount, maxBytes int) ([]Entry, error) {
	if maxCount <= 0 {
		maxCount = 1
	}
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return nil, fmt.Errorf("lease: %w", ErrClosed)
		}
		nextDue, err := o.requeueDueLocked()
		if err != nil {
			o.mu.Unlock()
			return nil, fmt.Errorf("lease: %w", err)
		}
		entries, err := o.collectLocked(maxCount, maxBytes)
		if err != nil {
			o.mu.Unlock()
			return nil, fmt.Errorf("lease: %w", err)
		}
		if len(entries) > 0 {
			for _, e := range entries {
				o.leased[e.Seq] = struct{}{}
				o.leasedHigh[e.Class] = max(o.leasedHigh[e.Class], e.Seq)
			}
			o.mu.Unlock()
			return entries, nil
		}
		changed := o.changed
		o.mu.Unlock()

		var due <-chan time.Time
		var timer *time.Timer
		if !nextDue.IsZero() {
			// The injected clock says when; a real timer wakes us about then.
			timer = time.NewTimer(max(nextDue.Sub(o.opts.Now()), time.Millisecond))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("lease: %w", ctx.Err())
		case <-changed:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return nil, err
		}
	}
}

// requeueDueLocked makes sent entries whose resend time has come pending
// again, and returns when the next one will be due (zero if none is sent).
func (o *Outbox) requeueDueLocked() (time.Time, error) {
	cutoff := o.opts.Now().Add(-o.opts.ResendAfter).UnixNano()
	var first int64
	var any bool
	if err := o.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketSentIdx).Cursor().First()
		if k != nil {
			first, any = int64(keySeq(k[:8])), true
		}
		return nil
	}); err != nil {
		return time.Time{}, err
	}
	if !any {
		return time.Time{}, nil
	}
	if first > cutoff {
		return time.Unix(0, first).Add(o.opts.ResendAfter), nil
	}
	if _, err := o.requeueSentLocked(cutoff); err != nil {
		return time.Time{}, err
	}
	// More may be due: the caller loops through Lease, which checks again.
	return o.opts.Now(), nil
}

// ResendUnconfirmed makes every sent entry that the receiver has not
// confirmed pending again at once, and returns how many. The uplink calls
// it when a session begins: the broker may have acknowledged a batch and
// lost it (a leaf restarted under it), and the receiver's acknowledgement
// of one it stored may have been lost with the old session; either way
// sending it again now costs one duplicate, which the receiver stores once,
// where waiting for ResendAfter would leave a gap for minutes.
func (o *Outbox) ResendUnconfirmed() (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, fmt.Errorf("resend unconfirmed: %w", ErrClosed)
	}
	total := 0
	for {
		moved, err := o.requeueSentLocked(math.MaxInt64)
		if err != nil {
			return total, err
		}
		total += moved
		if moved < requeueBatch {
			break
		}
	}
	if total > 0 {
		o.notifyLocked()
	}
	return total, nil
}

// requeueSentLocked moves up to requeueBatch sent entries sent at or
// before cutoff (Unix nanoseconds) back to pending, oldest first.
func (o *Outbox) requeueSentLocked(cutoff int64) (int, error) {
	st := o.st
	moved := 0
	err := o.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketSentIdx)
		for moved < requeueBatch {
			k, _ := idx.Cursor().First()
			if k == nil || int64(keySeq(k[:8])) > cutoff {
				return nil
			}
			seq := keySeq(k[8:])
			if err := idx.Delete(sentIdxKey(int64(keySeq(k[:8])), seq)); err != nil {
				return err
			}
			for c := range Class(numClasses) {
				sent := tx.Bucket(bucketSent[c])
				v := sent.Get(seqKey(seq))
				if v == nil {
					continue
				}
				r, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("requeue seq %d: %w", seq, err)
				}
				if err := tx.Bucket(bucketPending[c]).Put(seqKey(seq), r.encode()); err != nil {
					return err
				}
				if err := sent.Delete(seqKey(seq)); err != nil {
					return err
				}
				n := int64(len(r.payload))
				st.count[c][stageSent]--
				st.bytes[c][stageSent] -= n
				st.count[c][stagePending]++
				st.bytes[c][stagePending] += n
				break
			}
			moved++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue unconfirmed entries: %w", err)
	}
	o.st = st
	if moved > 0 {
		o.log.Info("outbox: unconfirmed entries pending again", "count", moved)
	}
	return moved, nil
}

// collectLocked reads the entries the next Lease hands out.
func (o *Outbox) collectLocked(maxCount, maxBytes int) ([]Entry, error) {
	var out []Entry
	size := 0
	err := o.db.View(func(tx *bolt.Tx) error {
		for c := range Class(numClasses) {
			cur := tx.Bucket(bucketPending[c]).Cursor()
			for k, v := cur.First(); k != nil; k, v = cur.Next() {
				seq := keySeq(k)
				if _, ok := o.leased[seq]; ok {
					continue
				}
				r, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("read seq %d: %w", seq, err)
				}
				if len(out) > 0 && maxBytes > 0 && size+len(r.payload) > maxBytes {
					return nil // strict order: nothing may overtake an entry that did not fit
				}
				out = append(out, Entry{
					Seq:      seq,
					Class:    c,
					Payload:  append([]byte(nil), r.payload...),
					Appended: time.Unix(0, r.appended),
					Attempts: int(r.attempts),
				})
				size += len(r.payload)
				if len(out) >= maxCount {
					return nil
				}
			}
		}
		return nil
	})
	return out, err
}

// MarkSent records that the broker acknowledged these entries: they move to
// the sent stage with the send time, their attempt count grows and their
// lease is dropped. Sequences no longer in the queue (confirmed, evicted) are
// skipped.
func (o *Outbox) MarkSent(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("mark sent: %w", ErrClosed)
	}
	now := o.opts.Now().UnixNano()
	st := o.st
	err := o.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketSentIdx)
		idx.FillPercent = appendFill // keyed by send time: mostly increasing
		for _, seq := range seqs {
			key := seqKey(seq)
			for c := range Class(numClasses) {
				from, stage := tx.Bucket(bucketPending[c]), stagePending
				v := from.Get(key)
				if v == nil {
					from, stage = tx.Bucket(bucketSent[c]), stageSent
					if v = from.Get(key); v == nil {
						continue
					}
				}
				r, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("seq %d: %w", seq, err)
				}
				if stage == stageSent {
					if err := idx.Delete(sentIdxKey(r.sentAt, seq)); err != nil {
						return err
					}
				} else if err := from.Delete(key); err != nil {
					return err
				}
				r.attempts++
				r.sentAt = now
				if err := tx.Bucket(bucketSent[c]).Put(key, r.encode()); err != nil {
					return err
				}
				if err := idx.Put(sentIdxKey(now, seq), nil); err != nil {
					return err
				}
				if stage == stagePending {
					n := int64(len(r.payload))
					st.count[c][stagePending]--
					st.bytes[c][stagePending] -= n
					st.count[c][stageSent]++
					st.bytes[c][stageSent] += n
				}
				break
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d entries sent: %w", len(seqs), err)
	}
	o.hook(HookMarkedSent)
	o.st = st
	for _, seq := range seqs {
		delete(o.leased, seq)
	}
	return nil
}

// Release gives leased entries back: publishing failed, they are pending and
// will be leased again in their place in the order.
func (o *Outbox) Release(seqs []uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, seq := range seqs {
		delete(o.leased, seq)
	}
	if len(seqs) > 0 && !o.closed {
		o.notifyLocked()
	}
}

// Confirm applies an end-to-end acknowledgement: every entry of this epoch
// with a sequence up to upTo, or within one of the stored ranges (above
// upTo), that may have been published is deleted: one marked sent at least
// once, or leased since Open (handed out to be published; its PUBACK may
// have been lost with the link while the receiver stored it). It returns
// how many were deleted. An acknowledgement of another epoch (an outbox
// that was reset) is ignored and returns (0, nil).
//
// An entry never handed out is kept whatever the acknowledgement says: the
// receiver cannot have stored what the agent never published, so such an
// acknowledgement is forged or comes from another file's past (a restored
// copy). It is counted in Stats.AcksBeyondSent and logged, and the entries
// it claimed are sent as usual. Within a class Lease hands entries out in
// sequence order, so "leased since Open" is a sequence bound per class.
// An acknowledgement beyond the file's last sequence deletes nothing and
// returns ErrRolledBack: the caller settles its leases and calls Rotate.
//
// The gaps between upTo and the stored ranges are what the receiver lacks.
// A sequence there that the file no longer holds, and that no loss run
// covers, will never arrive: it is recorded as lost (missing), to be
// reported, so that the receiver's acknowledgement can move past it. A
// stale acknowledgement can make this claim about a sequence the receiver
// has since stored; the receiver keeps what it stored over such a claim.
func (o *Outbox) Confirm(epoch string, upTo uint64, stored ...wire.Range) (int, error) {
	if upTo == 0 && len(stored) == 0 {
		return 0, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, fmt.Errorf("confirm: %w", ErrClosed)
	}
	if epoch != o.epoch {
		return 0, nil
	}
	claimed := upTo
	if len(stored) > 0 {
		claimed = max(claimed, stored[len(stored)-1][1])
	}
	if claimed > o.st.lastSeq {
		// The receiver holds sequences this file never wrote: the file is
		// an older copy, and what it wrote since reuses numbers the
		// receiver already has. Nothing it says about this epoch can be
		// trusted to delete by: keep everything, for a new epoch.
		o.acksBeyondSent++
		o.log.Warn("outbox: acknowledgement beyond the last sequence; the file was rolled back",
			"epoch", epoch, "ack", claimed, "last", o.st.lastSeq)
		return 0, fmt.Errorf("confirm up to %d, last sequence %d: %w", claimed, o.st.lastSeq, ErrRolledBack)
	}
	spans := []wire.Range{{1, upTo}}
	if upTo == 0 {
		spans = spans[:0]
	}
	spans = append(spans, stored...)
	st := o.st
	var deleted []uint64
	var neverSent int
	var missing, waiting uint64
	now := o.opts.Now()
	suspects := o.suspects
	if o.suspectEpoch != epoch {
		suspects = nil
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketSentIdx)
		for c := range Class(numClasses) {
			for stage, name := range [][]byte{bucketPending[c], bucketSent[c]} {
				b := tx.Bucket(name)
				// Collect first, delete after: a bbolt cursor may skip a
				// key when the one under it is deleted.
				type victim struct {
					seq uint64
					r   record
				}
				var victims []victim
				cur := b.Cursor()
				for _, span := range spans {
					for k, v := cur.Seek(seqKey(span[0])); k != nil && keySeq(k) <= span[1]; k, v = cur.Next() {
						seq := keySeq(k)
						r, err := decodeRecord(v)
						if err != nil {
							return fmt.Errorf("seq %d: %w", seq, err)
						}
						if r.attempts == 0 && seq > o.leasedHigh[c] {
							neverSent++
							continue
						}
						victims = append(victims, victim{seq, r})
					}
				}
				for _, vi := range victims {
					if stage == stageSent {
						if err := idx.Delete(sentIdxKey(vi.r.sentAt, vi.seq)); err != nil {
							return err
						}
					}
					if err := b.Delete(seqKey(vi.seq)); err != nil {
						return err
					}
					if c == ClassSafety {
						// It may have been a loss report: its runs are now
						// the receiver's to remember.
						if err := forgetReported(tx, &st, vi.seq); err != nil {
							return err
						}
					}
					st.count[c][stage]--
					st.bytes[c][stage] -= int64(len(vi.r.payload))
					deleted = append(deleted, vi.seq)
				}
			}
		}
		lacking, err := lackingSequences(tx, spans)
		if err != nil {
			return err
		}
		var due []wire.Range
		due, suspects = settleMissing(suspects, lacking, now, o.opts.MissingAfter)
		for _, s := range suspects {
			waiting += s.r.Len()
		}
		for _, m := range due {
			if err := recordLoss(tx, &st, lossRecord{first: m[0], last: m[1], reason: lossMissing}); err != nil {
				return err
			}
			missing += m.Len()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("confirm up to %d: %w", upTo, err)
	}
	o.st = st
	o.suspects, o.suspectEpoch = suspects, epoch
	for _, seq := range deleted {
		delete(o.leased, seq)
	}
	if neverSent > 0 {
		o.acksBeyondSent++
		o.log.Warn("outbox: acknowledgement claims entries never sent; kept them",
			"epoch", epoch, "ack", claimed, "last", o.st.lastSeq, "never_sent", neverSent, "confirmed", len(deleted))
	}
	if missing > 0 {
		o.log.Warn("outbox: the receiver lacks sequences this file no longer holds; recorded them as lost",
			"epoch", epoch, "count", missing, "lacking_for", o.opts.MissingAfter)
	}
	if waiting > 0 {
		o.log.Debug("outbox: an acknowledgement lacks sequences this file no longer holds; lost only if later ones still lack them",
			"epoch", epoch, "count", waiting, "after", o.opts.MissingAfter)
	}
	return len(deleted), nil
}

// lackingSequences returns every sequence in the gaps between the spans an
// acknowledgement covers that no bucket holds and no loss run covers,
// ascending. spans ascend; the first may start at 1.
func lackingSequences(tx *bolt.Tx, spans []wire.Range) ([]wire.Range, error) {
	var gaps []wire.Range
	for i := 1; i < len(spans); i++ {
		if lo, hi := spans[i-1][1]+1, spans[i][0]-1; lo <= hi {
			gaps = append(gaps, wire.Range{lo, hi})
		}
	}
	if len(spans) > 0 && spans[0][0] > 1 {
		gaps = append([]wire.Range{{1, spans[0][0] - 1}}, gaps...)
	}
	var lacking []wire.Range
	for _, g := range gaps {
		// What covers part of the gap: entries still held, loss runs.
		held, err := lossRuns(tx, g[0], g[1])
		if err != nil {
			return nil, err
		}
		for c := range Class(numClasses) {
			for _, name := range [][]byte{bucketPending[c], bucketSent[c]} {
				cur := tx.Bucket(name).Cursor()
				for k, _ := cur.Seek(seqKey(g[0])); k != nil && keySeq(k) <= g[1]; k, _ = cur.Next() {
					held = append(held, wire.Range{keySeq(k), keySeq(k)})
				}
			}
		}
		lacking = append(lacking, subtract(g, held)...)
	}
	return lacking, nil
}

// suspect is a run of sequences acks lacked, and since when.
type suspect struct {
	r     wire.Range
	since time.Time
}

// settleMissing weighs the runs an ack lacks (ascending, disjoint) against
// those earlier acks lacked: the parts lacked since at least after ago are
// due to be recorded lost; the other parts lacked now are kept with the
// time first seen, or now; what this ack no longer lacks is forgotten (an
// older ack's word, now contradicted).
func settleMissing(prev []suspect, lacking []wire.Range, now time.Time, after time.Duration) (due []wire.Range, next []suspect) {
	for _, l := range lacking {
		var seen []wire.Range
		for _, s := range prev {
			lo, hi := max(l[0], s.r[0]), min(l[1], s.r[1])
			if lo > hi {
				continue
			}
			part := wire.Range{lo, hi}
			seen = append(seen, part)
			if now.Sub(s.since) >= after {
				due = append(due, part)
			} else {
				next = append(next, suspect{part, s.since})
			}
		}
		for _, part := range subtract(l, seen) {
			next = append(next, suspect{part, now})
		}
	}
	slices.SortFunc(next, func(a, b suspect) int { return cmp.Compare(a.r[0], b.r[0]) })
	return due, next
}

// subtract returns the parts of g that none of covers overlaps, ascending.
func subtract(g wire.Range, covers []wire.Range) []wire.Range {
	slices.SortFunc(covers, func(a, b wire.Range) int { return cmp.Compare(a[0], b[0]) })
	var out []wire.Range
	next := g[0]
	for _, c := range covers {
		if c[1] < next {
			continue
		}
		if c[0] > g[1] {
			break
		}
		if c[0] > next {
			out = append(out, wire.Range{next, c[0] - 1})
		}
		if c[1] >= g[1] {
			return out
		}
		next = c[1] + 1
	}
	if next <= g[1] {
		out = append(out, wire.Range{next, g[1]})
	}
	return out
}

// Quarantine moves an entry that can never be sent (too large, refused by the
// broker) out of the queue, so it never blocks it. The last 100 entries
// quarantined are kept in the file for inspection (their first 4 KiB, with
// the reason); every one is counted in Stats.
func (o *Outbox) Quarantine(seq uint64, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("quarantine %d: %w", seq, ErrClosed)
	}
	st := o.st
	found := false
	err := o.db.Update(func(tx *bolt.Tx) error {
		key := seqKey(seq)
		for c := range Class(numClasses) {
			for stage, name := range [][]byte{bucketPending[c], bucketSent[c]} {
				b := tx.Bucket(name)
				v := b.Get(key)
				if v == nil {
					continue
				}
				r, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("seq %d: %w", seq, err)
				}
				if stage == stageSent {
					if err := tx.Bucket(bucketSentIdx).Delete(sentIdxKey(r.sentAt, seq)); err != nil {
						return err
					}
				}
				q := tx.Bucket(bucketQuarantine)
				if len(r.payload) > maxQuarantinePayload {
					r.payload = r.payload[:maxQuarantinePayload] // enough to see what it was
				}
				if err := q.Put(key, encodeQuarantine(reason, &r)); err != nil {
					return err
				}
				if err := b.Delete(key); err != nil {
					return err
				}
				for q.Stats().KeyN > maxQuarantine {
					k, _ := q.Cursor().First()
					if err := q.Delete(append([]byte(nil), k...)); err != nil {
						return err
					}
				}
				st.count[c][stage]--
				st.bytes[c][stage] -= int64(len(r.payload))
				st.quarantined++
				found = true
				return tx.Bucket(bucketMeta).Put(keyQuarantined, u64(st.quarantined))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("quarantine %d: %w", seq, err)
	}
	if !found {
		return fmt.Errorf("quarantine %d: %w", seq, ErrNotFound)
	}
	o.st = st
	delete(o.leased, seq)
	o.log.Warn("outbox: entry quarantined", "seq", seq, "reason", reason)
	return nil
}
