package wire

import (
	"fmt"
	"math"
)

// Ack is the receiver's cumulative end-to-end acknowledgement to one cabin:
// every event of Epoch with a sequence up to and including Seq is stored
// or accounted for as lost. Acks are cumulative so that a lost one is
// repaired by the next.
//
// Stored, sent only to agents whose batches set Batch.AckRanges, lists
// the ranges above Seq that are stored or accounted for too (the first
// MaxRanges of them): the agent deletes those and sends again only what
// is missing, so a gap below them costs neither a resend of everything
// above it nor a stalled drain.
type Ack struct {
	V      int     `json:"v"`
	Epoch  string  `json:"epoch"`
	Seq    uint64  `json:"seq"`
	Stored []Range `json:"stored,omitempty"`
}

// DecodeAck decodes and validates an acknowledgement.
func DecodeAck(b []byte) (Ack, error) {
	var a Ack
	if len(b) > 4<<10 {
		return a, fmt.Errorf("ack of %d bytes: %w", len(b), ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return a, err
	}
	if err := decodeStrict(b, &a); err != nil {
		return Ack{}, err
	}
	if err := ValidateEpoch(a.Epoch); err != nil {
		return Ack{}, fieldErr("epoch", "%v", err)
	}
	if _, err := checkRanges("stored", a.Stored, 0); err != nil {
		return Ack{}, err
	}
	if len(a.Stored) > 0 && (a.Seq == math.MaxUint64 || a.Stored[0][0] <= a.Seq+1) {
		return Ack{}, fieldErr("stored[0]", "[%d,%d] does not lie above seq %d and the gap after it", a.Stored[0][0], a.Stored[0][1], a.Seq)
	}
	return a, nil
}
