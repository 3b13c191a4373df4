package outbox

import (
	"context"
	"fmt"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// appendReq is one Append waiting for the next group commit.
type appendReq struct {
	class    Class
	payload  []byte
	appState []byte         // nil: leave the stored one
	done     chan appendRes // capacity 1
}

type appendRes struct {
	seq uint64
	err error
}

// Append stores payload durably and returns its sequence. It returns only once
// the transaction holding it is fsync'd; concurrent Appends share that
// transaction. ctx is checked before the entry is queued: once queued, Append
// waits for the commit, so an error never hides an entry that was stored.
// A telemetry or event entry that cannot fit in Options.MaxBytes returns
// ErrFull; a safety entry is always stored.
func (o *Outbox) Append(ctx context.Context, class Class, payload []byte) (uint64, error) {
	return o.AppendWithState(ctx, class, payload, nil)
}

// AppendWithState is Append that also stores appState, the caller's own
// state after this entry (the agent's counters), in the same transaction:
// after a crash, AppState never lags the entries that were stored. Of
// several appends committed together, the last one's state is kept.
func (o *Outbox) AppendWithState(ctx context.Context, class Class, payload, appState []byte) (uint64, error) {
	if class >= numClasses {
		return 0, fmt.Errorf("append: unknown class %d", class)
	}
	if err := ctxErr(ctx); err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	req := &appendReq{class: class, payload: payload, appState: appState, done: make(chan appendRes, 1)}
	o.qmu.Lock()
	if o.qclosed {
		o.qmu.Unlock()
		return 0, fmt.Errorf("append: %w", ErrClosed)
	}
	o.queue = append(o.queue, req)
	o.qmu.Unlock()
	select {
	case o.qsig <- struct{}{}:
	default: // a signal is already pending
	}
	res := <-req.done
	return res.seq, res.err
}

// commitLoop is the single group committer: it takes every queued Append and
// commits them in one transaction. Appends arriving during the commit form the
// next batch.
func (o *Outbox) commitLoop() {
	defer close(o.done)
	for {
		select {
		case <-o.qsig:
			o.commitQueued()
		case <-o.quit:
			// Close refuses new Appends before quit; commit what was queued.
			o.commitQueued()
			return
		}
	}
}

// commitQueued takes every queued Append and commits them together.
func (o *Outbox) commitQueued() {
	o.qmu.Lock()
	batch := o.queue
	o.queue = nil
	o.qmu.Unlock()
	if len(batch) > 0 {
		o.commitAppends(batch)
	}
}

// commitAppends writes a batch in one transaction and answers every
// caller. The file system's last SafetyReserve bytes, and the file's room
// beyond MaxFileBytes, are for safety entries: when free space is below
// the reserve, other entries are refused; when a commit fails (the disk or
// the file bound is full), the batch's safety entries are tried again
// alone, as a smaller transaction may still fit.
func (o *Outbox) commitAppends(batch []*appendReq) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if free, ok := freeBytes(filepath.Dir(o.path)); ok && free < uint64(o.opts.SafetyReserve) {
		var kept []*appendReq
		for _, req := range batch {
			if req.class == ClassSafety {
				kept = append(kept, req)
				continue
			}
			o.st.dropped[req.class]++
			req.done <- appendRes{err: fmt.Errorf("append %d bytes of %s: %d bytes free on the file system, the last %d are kept for safety events: %w",
				len(req.payload), req.class, free, o.opts.SafetyReserve, ErrFull)}
		}
		batch = kept
	}
	if len(batch) == 0 {
		return
	}
	err := o.commitLocked(batch)
	if err == nil {
		return
	}
	var safety, others []*appendReq
	for _, req := range batch {
		if req.class == ClassSafety {
			safety = append(safety, req)
		} else {
			others = append(others, req)
		}
	}
	if len(safety) > 0 && len(others) > 0 {
		o.failLocked(others, err)
		if err = o.commitLocked(safety); err == nil {
			return
		}
		batch = safety
	}
	o.failLocked(batch, err)
}

// failLocked answers every request of a batch that could not be stored
// with err, and counts them as dropped: in memory now and in the file with
// the next commit that succeeds, so the loss is on record, not only in a
// log line. o.mu must be held.
func (o *Outbox) failLocked(batch []*appendReq, err error) {
	for _, req := range batch {
		o.st.dropped[req.class]++
	}
	err = fmt.Errorf("append: commit %d entries: %w", len(batch), err)
	for _, req := range batch {
		req.done <- appendRes{err: err}
	}
}

// commitLocked writes a batch in one transaction; on success it answers
// every caller, on failure it answers none and returns why. o.mu must be
// held.
func (o *Outbox) commitLocked(batch []*appendReq) error {
	now := o.opts.Now().UnixNano()
	st := o.st // changed copy, installed only if the commit succeeds
	res := make([]appendRes, len(batch))
	var evictedSeqs []uint64
	stored := 0
	err := o.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		for i, req := range batch {
			size := int64(len(req.payload))
			ok, ev, err := o.makeRoom(tx, &st, req.class, size)
			if err != nil {
				return err
			}
			evictedSeqs = append(evictedSeqs, ev...)
			if !ok {
				st.dropped[req.class]++
				res[i] = appendRes{err: fmt.Errorf("append %d bytes of %s: %w", size, req.class, ErrFull)}
				continue
			}
			st.lastSeq++
			r := record{class: req.class, appended: now, payload: req.payload}
			b := tx.Bucket(bucketPending[req.class])
			b.FillPercent = appendFill
			if err := b.Put(seqKey(st.lastSeq), r.encode()); err != nil {
				return err
			}
			st.count[req.class][stagePending]++
			st.bytes[req.class][stagePending] += size
			res[i] = appendRes{seq: st.lastSeq}
			stored++
		}
		if err := meta.Put(keyLastSeq, u64(st.lastSeq)); err != nil {
			return err
		}
		for i := len(batch) - 1; i >= 0; i-- {
			if batch[i].appState != nil {
				if err := meta.Put(keyAppState, batch[i].appState); err != nil {
					return err
				}
				st.appState = batch[i].appState
				break
			}
		}
		if err := o.putCounters(meta, &st); err != nil {
			return err
		}
		if st.resetStored && stored > 0 {
			// The first event of the new epoch reports the reset: once it is
			// stored, a later Open must not report the reset again.
			if err := meta.Delete(keyReset); err != nil {
				return err
			}
			st.resetStored = false
		}
		return nil
	})
	if err != nil {
		return err // nothing of the batch is stored (the disk may be full)
	}
	o.hook(HookAppendCommitted)
	o.st = st
	o.commits++
	o.appends += uint64(stored)
	for _, seq := range evictedSeqs {
		delete(o.leased, seq)
	}
	if stored > 0 {
		o.notifyLocked()
	}
	for i, req := range batch {
		req.done <- res[i]
	}
	return nil
}

func (o *Outbox) putCounters(meta *bolt.Bucket, st *state) error {
	for c := range Class(numClasses) {
		if err := meta.Put(keyEvicted[c], u64(st.evicted[c])); err != nil {
			return err
		}
		if err := meta.Put(keyDropped[c], u64(st.dropped[c])); err != nil {
			return err
		}
	}
	return meta.Put(keyQuarantined, u64(st.quarantined))
}

// appendFill packs pages fuller than bbolt's default of one half: keys only
// grow, so a split page never receives keys in its left half again.
const appendFill = 0.95

// evictable lists, for a new entry of class c, the classes it may push out,
// in eviction order: telemetry before events, never safety, and never a class
// more important than the newcomer.
func evictable(c Class) []Class {
	if c == ClassTelemetry {
		return []Class{ClassTelemetry}
	}
	return []Class{ClassTelemetry, ClassEvents}
}

// over says by how many bytes st would exceed the bounds with an entry of
// size more: stored payload against MaxBytes, and with MaxFileBytes set,
// payload plus overhead against its share of the file. 0 if it fits.
func (o *Outbox) over(st *state, size int64) int64 {
	need := st.totalBytes() + size - o.opts.MaxBytes
	if o.opts.MaxFileBytes > 0 {
		need = max(need, st.costBytes()+size+entryOverhead-o.opts.MaxFileBytes/fileShare)
	}
	return max(need, 0)
}

// makeRoom evicts entries until size more bytes fit under the bounds. It
// reports false, without evicting anything, when a non-safety entry
// cannot fit; a safety entry is always admitted, even past the bounds.
func (o *Outbox) makeRoom(tx *bolt.Tx, st *state, c Class, size int64) (bool, []uint64, error) {
	need := o.over(st, size)
	if need == 0 {
		return true, nil, nil
	}
	// Would it fit with every evictable entry gone? If not, evict nothing.
	bare := *st
	for _, v := range evictable(c) {
		bare.count[v], bare.bytes[v] = [numStages]int{}, [numStages]int64{}
	}
	if o.over(&bare, size) > 0 && c != ClassSafety {
		return false, nil, nil
	}
	var evicted []uint64
	for _, v := range evictable(c) {
		for o.over(st, size) > 0 && st.count[v][stagePending]+st.count[v][stageSent] > 0 {
			seq, _, err := evictOldest(tx, v, st)
			if err != nil {
				return false, nil, err
			}
			evicted = append(evicted, seq)
		}
	}
	return true, evicted, nil
}

// evictOldest deletes the lowest sequence of class c, pending or sent.
func evictOldest(tx *bolt.Tx, c Class, st *state) (uint64, int64, error) {
	pk, pv := tx.Bucket(bucketPending[c]).Cursor().First()
	sk, sv := tx.Bucket(bucketSent[c]).Cursor().First()
	stage, k, v := stagePending, pk, pv
	if pk == nil || (sk != nil && keySeq(sk) < keySeq(pk)) {
		stage, k, v = stageSent, sk, sv
	}
	if k == nil {
		return 0, 0, fmt.Errorf("evict %s: counters say entries exist but buckets are empty", c)
	}
	seq := keySeq(k)
	r, err := decodeRecord(v)
	if err != nil {
		return 0, 0, fmt.Errorf("evict %s seq %d: %w", c, seq, err)
	}
	n := int64(len(r.payload))
	if stage == stageSent {
		if err := tx.Bucket(bucketSentIdx).Delete(sentIdxKey(r.sentAt, seq)); err != nil {
			return 0, 0, err
		}
		if err := tx.Bucket(bucketSent[c]).Delete(seqKey(seq)); err != nil {
			return 0, 0, err
		}
	} else if err := tx.Bucket(bucketPending[c]).Delete(seqKey(seq)); err != nil {
		return 0, 0, err
	}
	st.count[c][stage]--
	st.bytes[c][stage] -= n
	st.evicted[c]++
	l := lossRecord{first: seq, last: seq, reason: lossEvicted, bytes: uint64(n)}
	l.classes[c] = 1
	if err := recordLoss(tx, st, l); err != nil {
		return 0, 0, fmt.Errorf("evict %s seq %d: record the loss: %w", c, seq, err)
	}
	return seq, n, nil
}
