package outbox

import (
	"cmp"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// ResetEncoder turns a Reset into the payload of the safety entry that
// reports it as the first word of the new epoch.
type ResetEncoder func(Reset) ([]byte, error)

// Rotate starts a new epoch in the same file, after Confirm found it
// rolled back (ErrRolledBack): the receiver holds this epoch's sequences
// beyond the file's last, so new entries under it would be dropped as
// duplicates. Every entry still queued is kept, in its order and class,
// renumbered from 1 under a new random epoch and pending again; then a
// safety entry with the payload encode makes reports the rotation. Loss
// runs of the old epoch that no report carried yet are dropped (their
// count is in the reset's reason). It all commits in one transaction.
//
// The caller must have settled every lease first (the uplink ends its
// session): a batch leased before would carry the old numbers.
func (o *Outbox) Rotate(reason string, encode ResetEncoder) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("rotate: %w", ErrClosed)
	}
	epoch, err := newEpoch(o.opts.Now())
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	if n := o.st.unreported; n > 0 {
		reason = fmt.Sprintf("%s; %d lost sequences of the old epoch were never reported", reason, n)
	}
	r := Reset{Reason: reason, PrevEpoch: o.epoch}
	payload, err := encode(r)
	if err != nil {
		return fmt.Errorf("rotate: encode the reset: %w", err)
	}
	now := o.opts.Now().UnixNano()
	err = o.db.Update(func(tx *bolt.Tx) error {
		type kept struct {
			seq uint64
			rec record
		}
		var all []kept
		for c := range Class(numClasses) {
			for _, name := range [][]byte{bucketPending[c], bucketSent[c]} {
				err := tx.Bucket(name).ForEach(func(k, v []byte) error {
					rec, err := decodeRecord(v)
					if err != nil {
						return fmt.Errorf("seq %d: %w", keySeq(k), err)
					}
					rec.payload = append([]byte(nil), rec.payload...)
					all = append(all, kept{keySeq(k), rec})
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		slices.SortFunc(all, func(a, b kept) int { return cmp.Compare(a.seq, b.seq) })
		// Empty the queue's buckets by making them again.
		names := [][]byte{bucketSentIdx, bucketLosses}
		for c := range Class(numClasses) {
			names = append(names, bucketPending[c], bucketSent[c])
		}
		for _, name := range names {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		var seq uint64
		for _, k := range all {
			seq++
			k.rec.attempts, k.rec.sentAt = 0, 0
			b := tx.Bucket(bucketPending[k.rec.class])
			b.FillPercent = appendFill
			if err := b.Put(seqKey(seq), k.rec.encode()); err != nil {
				return err
			}
		}
		seq++
		rec := record{class: ClassSafety, appended: now, payload: payload}
		if err := tx.Bucket(bucketPending[ClassSafety]).Put(seqKey(seq), rec.encode()); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyEpoch, []byte(epoch)); err != nil {
			return err
		}
		return meta.Put(keyLastSeq, u64(seq))
	})
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	st, _, err := load(o.db)
	if err != nil {
		return fmt.Errorf("rotate: reload: %w", err)
	}
	o.log.Warn("outbox: new epoch", "reason", reason, "prev_epoch", o.epoch, "epoch", epoch, "entries", st.lastSeq)
	o.st = st
	o.epoch = epoch
	clear(o.leased)
	o.leasedHigh = [numClasses]uint64{}
	o.notifyLocked()
	return nil
}
