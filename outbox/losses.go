package outbox

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/palier-lifts/palier/wire"
)

// Losses: every sequence of an epoch must end up stored by the receiver or
// accounted for as lost, or its cumulative acknowledgement stops at the
// first gap for good. The outbox records what it loses (an entry evicted
// for space; a sequence the receiver lacks that the file no longer holds)
// in the same transaction that loses it, as runs of sequences in the
// losses bucket. ReportLosses turns the unreported runs into safety
// entries (drained first, never evicted) in one transaction; the runs stay,
// keyed by the report's sequence, until the report itself is confirmed, so
// that a gap they cover is never mistaken for a missing sequence.

var bucketLosses = []byte("losses")

// Loss reasons as stored (one byte); their names are wire's.
const (
	lossEvicted uint8 = 1
	lossMissing uint8 = 2
)

func lossReasonName(r uint8) string {
	switch r {
	case lossEvicted:
		return wire.LostEvicted
	case lossMissing:
		return wire.LostMissing
	}
	return fmt.Sprintf("reason(%d)", r)
}

// lossRecord is a run of lost sequences [first, last] with one reason.
// Key: report(8) first(8). Value: last(8) reason(1) bytes(8) classes(3×8).
type lossRecord struct {
	report      uint64 // sequence of the entry that reports it; 0 until reported
	first, last uint64
	reason      uint8
	bytes       uint64             // payload bytes lost, when known
	classes     [numClasses]uint64 // sequences lost per class, when known
}

const lossValueLen = 8 + 1 + 8 + numClasses*8

func lossKey(report, first uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, report)
	binary.BigEndian.PutUint64(k[8:], first)
	return k
}

func (l *lossRecord) key() []byte { return lossKey(l.report, l.first) }

func (l *lossRecord) value() []byte {
	v := make([]byte, lossValueLen)
	binary.BigEndian.PutUint64(v, l.last)
	v[8] = l.reason
	binary.BigEndian.PutUint64(v[9:], l.bytes)
	for c := range numClasses {
		binary.BigEndian.PutUint64(v[17+8*c:], l.classes[c])
	}
	return v
}

func decodeLoss(k, v []byte) (lossRecord, error) {
	if len(k) != 16 || len(v) != lossValueLen {
		return lossRecord{}, fmt.Errorf("loss record: key of %d bytes, value of %d: %w", len(k), len(v), ErrBadRecord)
	}
	l := lossRecord{
		report: binary.BigEndian.Uint64(k),
		first:  binary.BigEndian.Uint64(k[8:]),
		last:   binary.BigEndian.Uint64(v),
		reason: v[8],
		bytes:  binary.BigEndian.Uint64(v[9:]),
	}
	for c := range numClasses {
		l.classes[c] = binary.BigEndian.Uint64(v[17+8*c:])
	}
	if l.first == 0 || l.first > l.last {
		return lossRecord{}, fmt.Errorf("loss record [%d,%d]: %w", l.first, l.last, ErrBadRecord)
	}
	return l, nil
}

func (l *lossRecord) count() uint64 { return l.last - l.first + 1 }

// recordLoss adds l (unreported) to the losses bucket, merged with the
// unreported run of the same reason right before or after it.
func recordLoss(tx *bolt.Tx, st *state, l lossRecord) error {
	b := tx.Bucket(bucketLosses)
	l.report = 0
	st.unreported += l.count()
	cur := b.Cursor()
	// The run after: the first unreported key at or above l.first.
	if k, v := cur.Seek(lossKey(0, l.first)); k != nil && binary.BigEndian.Uint64(k) == 0 {
		next, err := decodeLoss(k, v)
		if err != nil {
			return err
		}
		if next.first == l.last+1 && next.reason == l.reason {
			if err := b.Delete(k); err != nil {
				return err
			}
			st.lossRecords--
			l.last = next.last
			l.bytes += next.bytes
			for c := range numClasses {
				l.classes[c] += next.classes[c]
			}
		}
	}
	// The run before: the last unreported key below l.first.
	var k, v []byte
	if k, _ = cur.Seek(lossKey(0, l.first)); k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	if k != nil && binary.BigEndian.Uint64(k) == 0 {
		prev, err := decodeLoss(k, v)
		if err != nil {
			return err
		}
		if prev.last+1 == l.first && prev.reason == l.reason {
			prev.last = l.last
			prev.bytes += l.bytes
			for c := range numClasses {
				prev.classes[c] += l.classes[c]
			}
			return b.Put(prev.key(), prev.value())
		}
	}
	st.lossRecords++
	return b.Put(l.key(), l.value())
}

// Loss is what one loss report accounts for: sequences lost for one reason.
type Loss struct {
	Reason  string       // wire.LostEvicted or wire.LostMissing
	Ranges  []wire.Range // ascending, disjoint
	Count   uint64       // sequences in Ranges
	Bytes   uint64       // payload bytes lost, when known
	Classes [numClasses]uint64
}

// LossEncoder turns a Loss into the payload of the safety entry that
// reports it.
type LossEncoder func(Loss) ([]byte, error)

// ReportLosses appends one safety entry per batch of unreported losses
// (at most maxRanges ranges, capped at wire.MaxRanges, and
// wire.MaxLostPerReport sequences each), with the payload encode makes,
// and marks those losses reported, in one transaction. It returns how many reports it appended. The uplink
// calls it before it leases, so that losses gathered while the link was
// down go out first, in as few reports as they fit.
func (o *Outbox) ReportLosses(maxRanges int, encode LossEncoder) (int, error) {
	maxRanges = min(max(maxRanges, 1), wire.MaxRanges)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, fmt.Errorf("report losses: %w", ErrClosed)
	}
	if o.st.unreported == 0 {
		return 0, nil
	}
	var runs []lossRecord
	if err := o.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketLosses).Cursor()
		for k, v := cur.First(); k != nil && binary.BigEndian.Uint64(k) == 0; k, v = cur.Next() {
			l, err := decodeLoss(k, v)
			if err != nil {
				return err
			}
			runs = append(runs, l)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("report losses: %w", err)
	}

	// Group by reason, cut into reports that fit the wire's bounds.
	type report struct {
		loss Loss
		runs []lossRecord
	}
	var reports []*report
	open := map[uint8]*report{}
	for _, l := range runs {
		for l.first <= l.last {
			r := open[l.reason]
			if r == nil || len(r.loss.Ranges) == maxRanges || r.loss.Count == wire.MaxLostPerReport {
				r = &report{loss: Loss{Reason: lossReasonName(l.reason)}}
				open[l.reason] = r
				reports = append(reports, r)
			}
			part := l
			if room := wire.MaxLostPerReport - r.loss.Count; part.count() > room {
				// Split: bytes and classes stay with the first part.
				part.last = l.first + room - 1
				l.first = part.last + 1
				l.bytes, l.classes = 0, [numClasses]uint64{}
			} else {
				l.first = l.last + 1
			}
			r.runs = append(r.runs, part)
			r.loss.Ranges = append(r.loss.Ranges, wire.Range{part.first, part.last})
			r.loss.Count += part.count()
			r.loss.Bytes += part.bytes
			for c := range numClasses {
				r.loss.Classes[c] += part.classes[c]
			}
		}
	}
	payloads := make([][]byte, len(reports))
	for i, r := range reports {
		p, err := encode(r.loss)
		if err != nil {
			return 0, fmt.Errorf("report losses: encode: %w", err)
		}
		payloads[i] = p
	}

	now := o.opts.Now().UnixNano()
	st := o.st
	err := o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLosses)
		for _, l := range runs {
			if err := b.Delete(l.key()); err != nil {
				return err
			}
		}
		pending := tx.Bucket(bucketPending[ClassSafety])
		for i, r := range reports {
			st.lastSeq++
			rec := record{class: ClassSafety, appended: now, payload: payloads[i]}
			if err := pending.Put(seqKey(st.lastSeq), rec.encode()); err != nil {
				return err
			}
			st.count[ClassSafety][stagePending]++
			st.bytes[ClassSafety][stagePending] += int64(len(payloads[i]))
			for _, l := range r.runs {
				l.report = st.lastSeq
				if err := b.Put(l.key(), l.value()); err != nil {
					return err
				}
			}
		}
		st.lossRecords -= len(runs)
		for _, r := range reports {
			st.lossRecords += len(r.runs)
		}
		st.unreported = 0
		return tx.Bucket(bucketMeta).Put(keyLastSeq, u64(st.lastSeq))
	})
	if err != nil {
		return 0, fmt.Errorf("report losses: %w", err)
	}
	o.st = st
	o.notifyLocked()
	for _, r := range reports {
		o.log.Warn("outbox: reporting lost sequences", "reason", r.loss.Reason, "count", r.loss.Count, "ranges", len(r.loss.Ranges))
	}
	return len(reports), nil
}

// forgetReported deletes the loss runs reported by the entry seq, once
// the receiver holds that report.
func forgetReported(tx *bolt.Tx, st *state, seq uint64) error {
	b := tx.Bucket(bucketLosses)
	cur := b.Cursor()
	var keys [][]byte
	for k, _ := cur.Seek(lossKey(seq, 0)); k != nil && binary.BigEndian.Uint64(k) == seq; k, _ = cur.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
		st.lossRecords--
	}
	return nil
}

// lossRuns returns every loss run overlapping [first, last], reported or
// not. It scans the bucket: it runs only when an acknowledgement shows a
// gap, and the bucket holds runs, not sequences.
func lossRuns(tx *bolt.Tx, first, last uint64) ([]wire.Range, error) {
	var out []wire.Range
	err := tx.Bucket(bucketLosses).ForEach(func(k, v []byte) error {
		l, err := decodeLoss(k, v)
		if err != nil {
			return err
		}
		if l.last >= first && l.first <= last {
			out = append(out, wire.Range{l.first, l.last})
		}
		return nil
	})
	return out, err
}

// loadLosses counts the runs and the unreported sequences at Open.
func loadLosses(tx *bolt.Tx, st *state) error {
	b := tx.Bucket(bucketLosses)
	if b == nil {
		return nil // a file from before losses were recorded: Open adds it
	}
	return b.ForEach(func(k, v []byte) error {
		l, err := decodeLoss(k, v)
		if err != nil {
			return damaged("losses: %v", err)
		}
		if l.last > st.lastSeq {
			return damaged("losses: run [%d,%d] beyond the last sequence %d", l.first, l.last, st.lastSeq)
		}
		st.lossRecords++
		if l.report == 0 {
			st.unreported += l.count()
		}
		return nil
	})
}
