package wire

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Notice limits: a notice set must stay small enough for a retained MQTT
// message and for a screen to show.
const (
	MaxNoticeSetBytes = 128 << 10
	MaxNotices        = 50
	MaxTitleLen       = 120
	MaxBodyLen        = 2000
	MaxMediaPerNotice = 4
)

// Languages the cabin screen shows.
const (
	LangFR = "fr"
	LangEN = "en"
	LangIT = "it"
)

// Notice categories.
const (
	CategoryWorks    = "works"
	CategoryWater    = "water"
	CategoryAssembly = "assembly"
	CategoryCleaning = "cleaning"
	CategoryGeneral  = "general"
)

// Notice priorities.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityUrgent = "urgent"
)

// Text is a string in each screen language; French is required, the others
// fall back to it.
type Text struct {
	FR string `json:"fr"`
	EN string `json:"en,omitempty"`
	IT string `json:"it,omitempty"`
}

// In returns the text in a language, falling back to French.
func (t Text) In(lang string) string {
	switch {
	case lang == LangEN && t.EN != "":
		return t.EN
	case lang == LangIT && t.IT != "":
		return t.IT
	}
	return t.FR
}

// Media references a file by URL and SHA-256; files never travel through NATS.
type Media struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Type   string `json:"type"` // MIME type, e.g. image/png
	Size   int64  `json:"size"`
}

// Notice is one message from the building's management to the passengers.
type Notice struct {
	ID         string     `json:"id"`
	Category   string     `json:"category"`
	Priority   string     `json:"priority"`
	Title      Text       `json:"title"`
	Body       Text       `json:"body"`
	ValidFrom  time.Time  `json:"valid_from"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	Media      []Media    `json:"media,omitempty"`
	// Schedule, when set, shows the notice only on some days and hours
	// within its validity window; nil shows it throughout. A screen older
	// than schedules refuses a set that carries one (strict decoding).
	Schedule *Schedule `json:"schedule,omitempty"`
}

// NoticeSet is the full set of a site's notices. It is always sent whole, with
// a version that grows with every change, so a lost message is repaired by
// the next one and an older set never replaces a newer one.
type NoticeSet struct {
	V       int      `json:"v"`
	Site    string   `json:"site"`
	Version uint64   `json:"version"`
	Notices []Notice `json:"notices"`
}

// DecodeNoticeSet decodes and validates a notice set.
func DecodeNoticeSet(b []byte) (NoticeSet, error) {
	var s NoticeSet
	if len(b) > MaxNoticeSetBytes {
		return s, fmt.Errorf("notice set of %d bytes (at most %d): %w", len(b), MaxNoticeSetBytes, ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return s, err
	}
	if err := decodeStrict(b, &s); err != nil {
		return NoticeSet{}, err
	}
	if err := s.Validate(); err != nil {
		return NoticeSet{}, err
	}
	return s, nil
}

// Validate checks a notice set field by field.
func (s *NoticeSet) Validate() error {
	if s.V != Version {
		return fieldErr("v", "unknown version %d (this build reads %d)", s.V, Version)
	}
	if err := ValidateID(s.Site); err != nil {
		return fieldErr("site", "%v", err)
	}
	if len(s.Notices) > MaxNotices {
		return fieldErr("notices", "%d notices (at most %d)", len(s.Notices), MaxNotices)
	}
	seen := make(map[string]bool, len(s.Notices))
	for i := range s.Notices {
		if err := s.Notices[i].Validate(); err != nil {
			fe, ok := err.(*FieldError)
			if !ok {
				return fmt.Errorf("notices[%d]: %w", i, err)
			}
			return fieldErr(fmt.Sprintf("notices[%d].%s", i, fe.Field), "%s", fe.Reason)
		}
		if seen[s.Notices[i].ID] {
			return fieldErr(fmt.Sprintf("notices[%d].id", i), "duplicate id %q", s.Notices[i].ID)
		}
		seen[s.Notices[i].ID] = true
	}
	return nil
}

// Validate checks one notice.
func (n *Notice) Validate() error {
	if err := ValidateID(n.ID); err != nil {
		return fieldErr("id", "%v", err)
	}
	switch n.Category {
	case CategoryWorks, CategoryWater, CategoryAssembly, CategoryCleaning, CategoryGeneral:
	default:
		return fieldErr("category", "unknown category %q (want works, water, assembly, cleaning or general)", n.Category)
	}
	switch n.Priority {
	case PriorityLow, PriorityNormal, PriorityUrgent:
	default:
		return fieldErr("priority", "unknown priority %q (want low, normal or urgent)", n.Priority)
	}
	if err := n.Title.validate(MaxTitleLen); err != nil {
		return fieldErr("title."+err.Field, "%s", err.Reason)
	}
	if err := n.Body.validate(MaxBodyLen); err != nil {
		return fieldErr("body."+err.Field, "%s", err.Reason)
	}
	if n.ValidFrom.IsZero() {
		return fieldErr("valid_from", "missing")
	}
	if n.ValidUntil != nil && !n.ValidUntil.After(n.ValidFrom) {
		return fieldErr("valid_until", "%s is not after valid_from %s", n.ValidUntil.Format(time.RFC3339), n.ValidFrom.Format(time.RFC3339))
	}
	if len(n.Media) > MaxMediaPerNotice {
		return fieldErr("media", "%d items (at most %d)", len(n.Media), MaxMediaPerNotice)
	}
	for i, m := range n.Media {
		if err := m.validate(); err != nil {
			return fieldErr(fmt.Sprintf("media[%d].%s", i, err.Field), "%s", err.Reason)
		}
	}
	if n.Schedule != nil {
		if err := n.Schedule.validate(); err != nil {
			field := "schedule"
			if err.Field != "" {
				field += "." + err.Field
			}
			return fieldErr(field, "%s", err.Reason)
		}
	}
	return nil
}

// Active reports whether t is within the notice's validity window; ShownAt
// also applies its schedule.
func (n *Notice) Active(t time.Time) bool {
	return !t.Before(n.ValidFrom) && (n.ValidUntil == nil || t.Before(*n.ValidUntil))
}

func (t Text) validate(max int) *FieldError {
	if t.FR == "" {
		return &FieldError{Field: "fr", Reason: "missing (French is required; en and it fall back to it)"}
	}
	for _, l := range [...]struct{ lang, s string }{{LangFR, t.FR}, {LangEN, t.EN}, {LangIT, t.IT}} {
		if n := utf8.RuneCountInString(l.s); n > max {
			return &FieldError{Field: l.lang, Reason: fmt.Sprintf("%d characters (at most %d)", n, max)}
		}
	}
	return nil
}

func (m Media) validate() *FieldError {
	if len(m.URL) < 8 || (m.URL[:7] != "http://" && (len(m.URL) < 9 || m.URL[:8] != "https://")) {
		return &FieldError{Field: "url", Reason: fmt.Sprintf("%q is not an http(s) URL", m.URL)}
	}
	if len(m.SHA256) != 64 {
		return &FieldError{Field: "sha256", Reason: fmt.Sprintf("%d characters (want 64 hex digits)", len(m.SHA256))}
	}
	for _, c := range m.SHA256 {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return &FieldError{Field: "sha256", Reason: fmt.Sprintf("%q is not lower-case hex", c)}
		}
	}
	if m.Size <= 0 {
		return &FieldError{Field: "size", Reason: "missing or not positive"}
	}
	return nil
}
