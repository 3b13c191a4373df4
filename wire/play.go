package wire

import (
	"fmt"
	"time"
)

// TypeNoticeShown: the cabin screen showed a notice (NoticeShownData). It is
// telemetry: the first to be evicted from a full outbox, since a lost play
// only makes a report say a notice was shown a little less than it was.
const TypeNoticeShown = "notice_shown"

// Bounds of a play record.
const (
	// MaxPlayWindow is the longest span one record covers: the display and
	// the agent aggregate per minute, so an hour leaves room and refuses
	// nonsense.
	MaxPlayWindow = time.Hour
	// MaxPlayTimes bounds how many times one record says a notice came on
	// screen: at most once a second over MaxPlayWindow.
	MaxPlayTimes = 3600
	// MaxLayoutLen bounds the layout name ("1920x1080").
	MaxLayoutLen = 16
)

// Screen orientations a play names.
const (
	OrientationLandscape = "landscape"
	OrientationPortrait  = "portrait"
)

// NoticeShownData says a notice of a notice set version was on a cabin's
// screen, in one language at one layout, for ShownMS milliseconds in all
// between From and To, coming on screen Times times.
type NoticeShownData struct {
	Notice      string    `json:"notice"`
	Version     uint64    `json:"version"`
	Lang        string    `json:"lang"`
	Layout      string    `json:"layout"`
	Orientation string    `json:"orientation"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	ShownMS     int64     `json:"shown_ms"`
	Times       int       `json:"times"`
}

// Validate checks a play record field by field.
func (d *NoticeShownData) Validate() error { return d.check(0, false) }

func (d *NoticeShownData) check(uint64, bool) error {
	if err := ValidateID(d.Notice); err != nil {
		return fieldErr("notice", "%v", err)
	}
	if d.Version == 0 {
		return fieldErr("version", "missing or zero (notice set versions start at 1)")
	}
	switch d.Lang {
	case LangFR, LangEN, LangIT:
	default:
		return fieldErr("lang", "%q: want fr, en or it", d.Lang)
	}
	if err := checkLayout(d.Layout); err != nil {
		return fieldErr("layout", "%v", err)
	}
	switch d.Orientation {
	case OrientationLandscape, OrientationPortrait:
	default:
		return fieldErr("orientation", "%q: want landscape or portrait", d.Orientation)
	}
	if d.From.IsZero() {
		return fieldErr("from", "missing")
	}
	if d.To.IsZero() {
		return fieldErr("to", "missing")
	}
	span := d.To.Sub(d.From)
	if span <= 0 {
		return fieldErr("to", "%s is not after from %s", d.To.Format(time.RFC3339Nano), d.From.Format(time.RFC3339Nano))
	}
	if span > MaxPlayWindow {
		return fieldErr("to", "%s after from (a record covers at most %s)", span, MaxPlayWindow)
	}
	if d.ShownMS <= 0 || d.ShownMS > span.Milliseconds() {
		return fieldErr("shown_ms", "%d: want 1 to %d (the span from..to)", d.ShownMS, span.Milliseconds())
	}
	if d.Times < 1 || d.Times > MaxPlayTimes {
		return fieldErr("times", "%d: want 1 to %d", d.Times, MaxPlayTimes)
	}
	return nil
}

// checkLayout accepts WIDTHxHEIGHT in pixels, as the display's layouts are
// named.
func checkLayout(s string) error {
	if s == "" || len(s) > MaxLayoutLen {
		return fmt.Errorf("%q: want WIDTHxHEIGHT such as 1024x600", s)
	}
	var w, h int
	var rest string
	if n, _ := fmt.Sscanf(s, "%dx%d%s", &w, &h, &rest); n != 2 || w <= 0 || h <= 0 || fmt.Sprintf("%dx%d", w, h) != s {
		return fmt.Errorf("%q: want WIDTHxHEIGHT such as 1024x600", s)
	}
	return nil
}

// MaxNoticeShownBytes bounds one encoded play record; a real one is under
// 300 bytes.
const MaxNoticeShownBytes = 1 << 10

// DecodeNoticeShown decodes and validates one play record strictly: unknown
// fields, trailing data and bad values are refused.
func DecodeNoticeShown(b []byte) (NoticeShownData, error) {
	var d NoticeShownData
	if len(b) > MaxNoticeShownBytes {
		return d, fmt.Errorf("play record of %d bytes (at most %d): %w", len(b), MaxNoticeShownBytes, ErrTooLarge)
	}
	if err := checkUTF8(b); err != nil {
		return d, err
	}
	if err := decodeStrict(b, &d); err != nil {
		return NoticeShownData{}, err
	}
	if err := d.Validate(); err != nil {
		return NoticeShownData{}, err
	}
	return d, nil
}
