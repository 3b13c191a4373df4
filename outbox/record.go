package outbox

import (
	"encoding/binary"
	"fmt"
)

// Bucket layout. Pending and sent entries live in one bucket per (stage,
// class) keyed by the big-endian sequence, so a cursor walks one class in
// FIFO order without skipping other stages. sentIdx orders sent entries by
// the time they were sent, so the next one due for resend is its first key.
var (
	bucketMeta       = []byte("meta")
	bucketPending    = [numClasses][]byte{[]byte("pending-safety"), []byte("pending-events"), []byte("pending-telemetry")}
	bucketSent       = [numClasses][]byte{[]byte("sent-safety"), []byte("sent-events"), []byte("sent-telemetry")}
	bucketSentIdx    = []byte("sent-by-time")
	bucketQuarantine = []byte("quarantine")

	keyFormat      = []byte("format")
	keyEpoch       = []byte("epoch")
	keyLastSeq     = []byte("last-seq")
	keyReset       = []byte("reset")
	keyAppState    = []byte("app-state")
	keyQuarantined = []byte("quarantined")
	keyEvicted     = [numClasses][]byte{[]byte("evicted-safety"), []byte("evicted-events"), []byte("evicted-telemetry")}
	keyDropped     = [numClasses][]byte{[]byte("dropped-safety"), []byte("dropped-events"), []byte("dropped-telemetry")}
)

// formatVersion is stored in the meta bucket; a file of another format is
// treated as damaged rather than misread.
const formatVersion = "1"

// recordHeader is class(1) attempts(4) appended(8) sentAt(8), all big-endian.
const recordHeader = 21

// record is one stored entry.
type record struct {
	class    Class
	attempts uint32
	appended int64 // unix nanoseconds
	sentAt   int64 // unix nanoseconds; 0 if never sent
	payload  []byte
}

func (r *record) encode() []byte {
	b := make([]byte, recordHeader+len(r.payload))
	b[0] = byte(r.class)
	binary.BigEndian.PutUint32(b[1:], r.attempts)
	binary.BigEndian.PutUint64(b[5:], uint64(r.appended))
	binary.BigEndian.PutUint64(b[13:], uint64(r.sentAt))
	copy(b[recordHeader:], r.payload)
	return b
}

// decodeRecord decodes a stored entry. The payload aliases b: callers that
// keep it beyond a bbolt transaction must copy it.
func decodeRecord(b []byte) (record, error) {
	if len(b) < recordHeader {
		return record{}, fmt.Errorf("decode record of %d bytes: %w", len(b), ErrBadRecord)
	}
	r := record{
		class:    Class(b[0]),
		attempts: binary.BigEndian.Uint32(b[1:]),
		appended: int64(binary.BigEndian.Uint64(b[5:])),
		sentAt:   int64(binary.BigEndian.Uint64(b[13:])),
		payload:  b[recordHeader:],
	}
	if r.class >= numClasses {
		return record{}, fmt.Errorf("decode record: class %d: %w", r.class, ErrBadRecord)
	}
	return r, nil
}

// encodeQuarantine prefixes a record with why it was set apart.
func encodeQuarantine(reason string, r *record) []byte {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	rb := r.encode()
	b := make([]byte, 2+len(reason)+len(rb))
	binary.BigEndian.PutUint16(b, uint16(len(reason)))
	copy(b[2:], reason)
	copy(b[2+len(reason):], rb)
	return b
}

func decodeQuarantine(b []byte) (string, record, error) {
	if len(b) < 2 {
		return "", record{}, fmt.Errorf("decode quarantined record of %d bytes: %w", len(b), ErrBadRecord)
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", record{}, fmt.Errorf("decode quarantined record: reason of %d bytes in %d: %w", n, len(b), ErrBadRecord)
	}
	r, err := decodeRecord(b[2+n:])
	if err != nil {
		return "", record{}, err
	}
	return string(b[2 : 2+n]), r, nil
}

// sentIdxKey orders sent entries by send time, then sequence.
func sentIdxKey(sentAt int64, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(sentAt))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func keySeq(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

func u64(v uint64) []byte { return seqKey(v) }

// getU64 reads a counter from the meta bucket; a missing key is 0.
func getU64(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("counter of %d bytes: %w", len(v), ErrBadRecord)
	}
	return binary.BigEndian.Uint64(v), nil
}
