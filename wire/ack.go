package wire

import "fmt"

// Ack is the receiver's cumulative end-to-end acknowledgement to one cabin:
// every event of Epoch with a sequence up to and including Seq is stored.
// Acks are cumulative so that a lost one is repaired by the next.
type Ack struct {
	V     int    `json:"v"`
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
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
	return a, nil
}
