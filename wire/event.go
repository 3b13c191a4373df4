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
	// AckRanges says the agent understands acknowledgements that carry
	// Ack.Stored; a receiver sends them to no other agent, since agents
	// before it refuse an ack with a field they do not know.
	AckRanges bool `json:"ack_ranges,omitempty"`
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
func decodeStrict(b []byte, v any) error { return decodeJSON(b, v, true) }

// decodeKnown decodes JSON ignoring fields it does not know (a newer
// writer's), refusing trailing data and known fields of the wrong type.
func decodeKnown(b []byte, v any) error { return decodeJSON(b, v, false) }

func decodeJSON(b []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
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
func DecodeBatch(b []byte) (Batch, error) { return decodeBatch(b, false) }

// DecodeBatchForward decodes a batch as a receiver must, so that agents
// and receivers can be upgraded in either order within a major version:
// fields it does not know (added by a newer agent) are ignored in the
// envelope and kept in event data, which is stored as it came; an event
// of a type it does not know is accepted with its type and raw data (the
// type a name of [a-z0-9_] and the data a JSON object). Everything it
// knows is checked as strictly as DecodeBatch does, and what keys an event
// (site, cabin, epoch, sequence, time) must be valid.
func DecodeBatchForward(b []byte) (Batch, error) { return decodeBatch(b, true) }

func decodeBatch(b []byte, forward bool) (Batch, error) {
	var batch Batch
	if len(b) > MaxBatchBytes {
		return batch, fmt.Errorf("batch of %d bytes (at most %d): %w", len(b), MaxBatchBytes, ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return batch, err
	}
	decode := decodeStrict
	if forward {
		decode = decodeLenient
	}
	if err := decode(b, &batch); err != nil {
		return Batch{}, err
	}
	return batch, batch.validate(forward)
}

// decodeLenient decodes JSON allowing unknown fields, naming a field of the
// wrong type.
func decodeLenient(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fieldErr(te.Field, "has JSON %s, want %s", te.Value, te.Type)
		}
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}

// Validate checks a batch field by field.
func (b *Batch) Validate() error { return b.validate(false) }

func (b *Batch) validate(forward bool) error {
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
		if err := b.Events[i].validate(forward); err != nil {
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
func (e *Event) Validate() error { return e.validate(false) }

// MaxTypeLength bounds an event type's name.
const MaxTypeLength = 40

func (e *Event) validate(forward bool) error {
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
		if !forward {
			return fieldErr("type", "unknown event type %q", e.Type)
		}
		return e.validateUnknown()
	}
	if len(e.Data) == 0 || bytes.Equal(e.Data, []byte("null")) {
		return fieldErr("data", "missing for type %q", e.Type)
	}
	// Data travels and is stored as it came: it must be UTF-8 itself.
	if err := checkUTF8(e.Data); err != nil {
		return fieldErr("data", "%v", err)
	}
	decode := decodeStrict
	if forward {
		decode = decodeLenient // a newer agent's added fields are kept, not refused
	}
	if err := decode(e.Data, data); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return fieldErr("data."+fe.Field, "%s", fe.Reason)
		}
		return fieldErr("data", "%v", err)
	}
	if c, ok := data.(checker); ok {
		if err := c.check(e.Seq, forward); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return fieldErr("data."+fe.Field, "%s", fe.Reason)
			}
			return fieldErr("data", "%v", err)
		}
	}
	return nil
}

// checker is data with rules beyond its JSON types. seq is the event's own
// sequence; forward relaxes what a newer agent may extend.
type checker interface {
	check(seq uint64, forward bool) error
}

func (d *LostData) check(seq uint64, forward bool) error {
	switch d.Reason {
	case LostEvicted, LostMissing:
	default:
		if !forward || !validName(d.Reason) {
			return fieldErr("reason", "%q: want %q or %q", d.Reason, LostEvicted, LostMissing)
		}
	}
	if len(d.Ranges) == 0 {
		return fieldErr("ranges", "empty (a report accounts for at least one sequence)")
	}
	// Lost sequences came before the report about them.
	n, err := checkRanges("ranges", d.Ranges, seq)
	if err != nil {
		return err
	}
	if n != d.Count {
		return fieldErr("count", "%d, but the ranges hold %d sequences", d.Count, n)
	}
	if n > MaxLostPerReport {
		return fieldErr("count", "%d sequences (at most %d per report)", n, MaxLostPerReport)
	}
	return nil
}

// validName reports whether s could be a type or reason name: [a-z0-9_],
// 1 to MaxTypeLength characters.
func validName(s string) bool {
	if s == "" || len(s) > MaxTypeLength {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// validateUnknown checks an event of a type this build does not know: a
// name that could be a type, and data that is a JSON object in UTF-8.
func (e *Event) validateUnknown() error {
	if len(e.Type) > MaxTypeLength {
		return fieldErr("type", "%d characters (at most %d)", len(e.Type), MaxTypeLength)
	}
	if !validName(e.Type) {
		return fieldErr("type", "%q: want [a-z0-9_]", e.Type)
	}
	if err := checkUTF8(e.Data); err != nil {
		return fieldErr("data", "%v", err)
	}
	if len(e.Data) > 0 && !bytes.Equal(e.Data, []byte("null")) {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(e.Data, &obj); err != nil {
			return fieldErr("data", "not a JSON object: %v", err)
		}
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
