package wire

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// AlarmAck is an operator's acknowledgement of a cabin's alarm or
// entrapment: a person has seen it and help is on the way. The receiver
// publishes it retained on the cabin's alarm_ack topic (AlarmAckTopic), so
// that an agent that reconnects still gets it. Alarms names the events
// that raised what was acknowledged, by epoch and sequence: the agent
// shows the acknowledgement only while one of them is its current alarm,
// so an old retained one never speaks for a new alarm.
type AlarmAck struct {
	V      int        `json:"v"`
	Site   string     `json:"site"`
	Cabin  string     `json:"cabin"`
	Alarms []AlarmRef `json:"alarms"`
	// By is who acknowledged (an operator's name), Message their words for
	// the record; the screen shows fixed, translated wording, never these.
	By      string    `json:"by"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
}

// AlarmRef names the event that raised an alarm or entrapment.
type AlarmRef struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

// Bounds of an acknowledgement.
const (
	MaxAlarmRefs     = 16  // open alarms of one cabin acknowledged at once
	MaxAckByLen      = 64  // characters of an operator's name
	MaxAckMessageLen = 280 // characters of their message
	MaxAlarmAckBytes = 4 << 10
)

// Alarm progress, as the agent knows it and the screen tells passengers
// (State.AlarmProgress): only what is true.
const (
	// AlarmRegistered: the cabin has the alarm; nobody else may know yet.
	AlarmRegistered = "registered"
	// AlarmDelivered: the receiver stored it (the end-to-end ack covers it).
	AlarmDelivered = "delivered"
	// AlarmAcknowledged: an operator acknowledged it.
	AlarmAcknowledged = "acknowledged"
)

// DecodeAlarmAck decodes and validates an acknowledgement.
func DecodeAlarmAck(b []byte) (AlarmAck, error) {
	var a AlarmAck
	if len(b) > MaxAlarmAckBytes {
		return a, fmt.Errorf("alarm acknowledgement of %d bytes: %w", len(b), ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return a, err
	}
	if err := decodeStrict(b, &a); err != nil {
		return AlarmAck{}, err
	}
	if err := a.Validate(); err != nil {
		return AlarmAck{}, err
	}
	return a, nil
}

// Validate checks an acknowledgement, naming the first wrong field.
func (a *AlarmAck) Validate() error {
	if err := ValidateID(a.Site); err != nil {
		return fieldErr("site", "%v", err)
	}
	if err := ValidateID(a.Cabin); err != nil {
		return fieldErr("cabin", "%v", err)
	}
	if len(a.Alarms) == 0 || len(a.Alarms) > MaxAlarmRefs {
		return fieldErr("alarms", "%d alarms (want 1 to %d)", len(a.Alarms), MaxAlarmRefs)
	}
	for i, r := range a.Alarms {
		if err := ValidateEpoch(r.Epoch); err != nil {
			return fieldErr(fmt.Sprintf("alarms[%d].epoch", i), "%v", err)
		}
		if r.Seq == 0 {
			return fieldErr(fmt.Sprintf("alarms[%d].seq", i), "0 (sequences start at 1)")
		}
	}
	if err := CheckPersonText(a.By, MaxAckByLen); err != nil || a.By == "" {
		if err == nil {
			err = fmt.Errorf("missing (say who acknowledges)")
		}
		return fieldErr("by", "%v", err)
	}
	if err := CheckPersonText(a.Message, MaxAckMessageLen); err != nil {
		return fieldErr("message", "%v", err)
	}
	if a.At.IsZero() {
		return fieldErr("at", "missing")
	}
	return nil
}

// CheckPersonText checks text a person typed: valid UTF-8, at most limit
// characters, no control characters (a line break is allowed).
func CheckPersonText(s string, limit int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return fmt.Errorf("%d characters (at most %d)", n, limit)
	}
	for i, r := range s {
		if unicode.IsControl(r) && r != '\n' {
			return fmt.Errorf("control character %U at byte %d", r, i)
		}
	}
	return nil
}

// Covers reports whether the acknowledgement names the alarm raised by
// event seq of epoch.
func (a *AlarmAck) Covers(epoch string, seq uint64) bool {
	for _, r := range a.Alarms {
		if r.Epoch == epoch && r.Seq == seq {
			return true
		}
	}
	return false
}

// AlarmAcknowledgedData: the cabin received an operator's acknowledgement
// of its alarm raised by event Seq of Epoch, and shows it to passengers.
type AlarmAcknowledgedData struct {
	Epoch string    `json:"epoch"`
	Seq   uint64    `json:"seq"`
	By    string    `json:"by"`
	At    time.Time `json:"at"` // when the operator acknowledged
}

func (d *AlarmAcknowledgedData) check(uint64, bool) error {
	if err := ValidateEpoch(d.Epoch); err != nil {
		return fieldErr("epoch", "%v", err)
	}
	if d.Seq == 0 {
		return fieldErr("seq", "0 (sequences start at 1)")
	}
	if err := CheckPersonText(d.By, MaxAckByLen); err != nil {
		return fieldErr("by", "%v", err)
	}
	return nil
}
