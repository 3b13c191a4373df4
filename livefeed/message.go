package livefeed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Message types.
const (
	TypeState     = "state"
	TypeNotices   = "notices"
	TypeKeepalive = "keepalive"
	// TypePlayed goes the other way, display to agent: a notice was shown
	// (proof of play). Only a server reads it.
	TypePlayed = "played"
)

// MaxClientLineBytes bounds a line a client sends: one play record and its
// envelope. A longer line ends the client's connection.
const MaxClientLineBytes = wire.MaxNoticeShownBytes + 256

// MaxLineBytes bounds one line: the largest notice set plus its envelope.
const MaxLineBytes = wire.MaxNoticeSetBytes + 4<<10

// ErrUnknownType is returned for a line whose type this build does not know;
// a newer agent may send types an older display skips.
var ErrUnknownType = errors.New("unknown message type")

// Message is one line of the feed. Exactly one of State and Notices is set
// for the types that carry them; Time is set for keep-alives; Played for a
// client's play record.
type Message struct {
	Type    string
	State   *wire.State
	Notices *wire.NoticeSet
	Time    time.Time
	Played  *wire.NoticeShownData
}

// envelope is the JSON form of a Message. Payloads stay raw so they are
// validated by the wire decoders, not by a second, laxer schema.
type envelope struct {
	Type    string          `json:"type"`
	State   json.RawMessage `json:"state,omitempty"`
	Notices json.RawMessage `json:"notices,omitempty"`
	Time    *time.Time      `json:"time,omitempty"`
	Played  json.RawMessage `json:"played,omitempty"`
}

// EncodeMessage returns the line for m, with its trailing newline.
func EncodeMessage(m Message) ([]byte, error) {
	env := envelope{Type: m.Type}
	var err error
	switch m.Type {
	case TypeState:
		if m.State == nil {
			return nil, errors.New("encode state message: no state")
		}
		if env.State, err = json.Marshal(m.State); err != nil {
			return nil, fmt.Errorf("encode state message: %w", err)
		}
	case TypeNotices:
		if m.Notices == nil {
			return nil, errors.New("encode notices message: no notices")
		}
		if env.Notices, err = json.Marshal(m.Notices); err != nil {
			return nil, fmt.Errorf("encode notices message: %w", err)
		}
	case TypeKeepalive:
		t := m.Time.UTC()
		env.Time = &t
	case TypePlayed:
		if m.Played == nil {
			return nil, errors.New("encode played message: no play record")
		}
		if err := m.Played.Validate(); err != nil {
			return nil, fmt.Errorf("encode played message: %w", err)
		}
		if env.Played, err = json.Marshal(m.Played); err != nil {
			return nil, fmt.Errorf("encode played message: %w", err)
		}
	default:
		return nil, fmt.Errorf("encode message of type %q: %w", m.Type, ErrUnknownType)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	if len(b) >= MaxLineBytes {
		return nil, fmt.Errorf("encode %s message of %d bytes: %w", m.Type, len(b), wire.ErrTooLarge)
	}
	return append(b, '\n'), nil
}

// DecodeMessage decodes and validates one line (with or without its
// newline). The envelope tolerates unknown fields so that a newer agent can
// add some; the payloads go through wire.DecodeState and
// wire.DecodeNoticeSet, which are strict.
func DecodeMessage(line []byte) (Message, error) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > MaxLineBytes {
		return Message{}, fmt.Errorf("decode line of %d bytes: %w", len(line), wire.ErrTooLarge)
	}
	var env envelope
	if err := json.Unmarshal(line, &env); err != nil {
		return Message{}, fmt.Errorf("decode line: %w", err)
	}
	switch env.Type {
	case TypeState:
		if len(env.State) == 0 {
			return Message{}, errors.New("decode state message: no \"state\"")
		}
		s, err := wire.DecodeState(env.State)
		if err != nil {
			return Message{}, fmt.Errorf("decode state message: %w", err)
		}
		return Message{Type: TypeState, State: &s}, nil
	case TypeNotices:
		if len(env.Notices) == 0 {
			return Message{}, errors.New("decode notices message: no \"notices\"")
		}
		n, err := wire.DecodeNoticeSet(env.Notices)
		if err != nil {
			return Message{}, fmt.Errorf("decode notices message: %w", err)
		}
		return Message{Type: TypeNotices, Notices: &n}, nil
	case TypeKeepalive:
		m := Message{Type: TypeKeepalive}
		if env.Time != nil {
			m.Time = *env.Time
		}
		return m, nil
	case TypePlayed:
		if len(line) > MaxClientLineBytes {
			return Message{}, fmt.Errorf("decode played message of %d bytes (at most %d): %w", len(line), MaxClientLineBytes, wire.ErrTooLarge)
		}
		if len(env.Played) == 0 {
			return Message{}, errors.New("decode played message: no \"played\"")
		}
		p, err := wire.DecodeNoticeShown(env.Played)
		if err != nil {
			return Message{}, fmt.Errorf("decode played message: %w", err)
		}
		return Message{Type: TypePlayed, Played: &p}, nil
	}
	return Message{}, fmt.Errorf("decode message of type %q: %w", env.Type, ErrUnknownType)
}
