package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Version is the schema version this package writes and the only one it reads.
const Version = 1

// MaxBatchBytes bounds an encoded batch: well under NATS's 1 MB payload limit.
const MaxBatchBytes = 256 << 10

// MaxBatchEvents bounds the number of events in one batch.
const MaxBatchEvents = 1000

// Event is one elevator event as it travels: its sequence in the outbox epoch
// it came from, when it happened, its type and the type's data.
type Event struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Batch is what the agent publishes on a cabin's events topic: events of one
// outbox epoch, in no particular sequence order (safety events drain first).
type Batch struct {
	V      int     `json:"v"`
	Site   string  `json:"site"`
	Cabin  string  `json:"cabin"`
	Epoch  string  `json:"epoch"`
	Events []Event `json:"events"`
}

// FieldError says which field of a message is wrong and why.
type FieldError struct {
	Field  string // a JSON path such as "events[3].type"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrTooLarge is returned for a message larger than the schema allows.
var ErrTooLarge = errors.New("message too large")

// decodeStrict decodes JSON refusing unknown fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fieldErr(te.Field, "has JSON %s, want %s", te.Value, te.Type)
		}
		return fmt.Errorf("decode JSON: %w", err)
	}
	if dec.More() {
		return errors.New("decode JSON: trailing data after the message")
	}
	return nil
}

// checkEnvelope refuses a message that is not UTF-8 (JSON is; a store or a
// browser further on refuses the bytes, and one device's batch must not
// hold back the fleet's), then reads only "v", so that a message of another
// version is refused by its version, not by whichever field changed.
func checkEnvelope(b []byte) error {
	if err := checkUTF8(b); err != nil {
		return err
	}
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	if head.V == nil {
		return fieldErr("v", "missing (want %d)", Version)
	}
	if *head.V != Version {
		return fieldErr("v", "unknown version %d (this build reads %d)", *head.V, Version)
	}
	return nil
}

// checkUTF8 names the offset of the first byte that is not UTF-8.
func checkUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("not valid UTF-8 at byte %d", i)
		}
		i += n
	}
	return errors.New("not valid UTF-8")
}

// DecodeBatch decodes and validates an event batch.
func DecodeBatch(b []byte) (Batch, error) {
	var batch Batch
	if len(b) > MaxBatchBytes {
		return batch, fmt.Errorf("batch of %d bytes (at most %d): %w", len(b), MaxBatchBytes, ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return batch, err
	}
	if err := decodeStrict(b, &batch); err != nil {
		return Batch{}, err
	}
	return batch, batch.Validate()
}

// Validate checks a batch field by field.
func (b *Batch) Validate() error {
	if b.V != Version {
		return fieldErr("v", "unknown version %d (this build reads %d)", b.V, Version)
	}
	if err := ValidateID(b.Site); err != nil {
		return fieldErr("site", "%v", err)
	}
	if err := ValidateID(b.Cabin); err != nil {
		return fieldErr("cabin", "%v", err)
	}
	if err := ValidateEpoch(b.Epoch); err != nil {
		return fieldErr("epoch", "%v", err)
	}
	if len(b.Events) == 0 {
		return fieldErr("events", "empty (a batch carries at least one event)")
	}
	if len(b.Events) > MaxBatchEvents {
		return fieldErr("events", "%d events (at most %d)", len(b.Events), MaxBatchEvents)
	}
	for i := range b.Events {
		if err := b.Events[i].Validate(); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return fieldErr(fmt.Sprintf("events[%d].%s", i, fe.Field), "%s", fe.Reason)
			}
			return fmt.Errorf("events[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate checks one event: a sequence, a time, a known type and data that
// decodes as that type's data.
func (e *Event) Validate() error {
	if e.Seq == 0 {
		return fieldErr("seq", "missing or zero (sequences start at 1)")
	}
	if e.Time.IsZero() {
		return fieldErr("time", "missing")
	}
	data := newData(e.Type)
	if data == nil {
		if e.Type == "" {
			return fieldErr("type", "missing")
		}
		return fieldErr("type", "unknown event type %q", e.Type)
	}
	if len(e.Data) == 0 || bytes.Equal(e.Data, []byte("null")) {
		return fieldErr("data", "missing for type %q", e.Type)
	}
	// Data travels and is stored as it came: it must be UTF-8 itself.
	if err := checkUTF8(e.Data); err != nil {
		return fieldErr("data", "%v", err)
	}
	if err := decodeStrict(e.Data, data); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return fieldErr("data."+fe.Field, "%s", fe.Reason)
		}
		return fieldErr("data", "%v", err)
	}
	return nil
}

// NewEvent builds an event of the given type from its data; the sequence is
// left for the outbox to assign.
func NewEvent(t time.Time, typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s data: %w", typ, err)
	}
	return Event{Time: t.UTC(), Type: typ, Data: raw}, nil
}

// ValidateEpoch checks an outbox epoch: 1 to 64 characters of [a-z0-9-].
func ValidateEpoch(epoch string) error { return ValidateID(epoch) }
