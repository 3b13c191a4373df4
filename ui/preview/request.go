package preview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

// MaxRequestBytes bounds a request: a whole notice set and a few fields.
const MaxRequestBytes = wire.MaxNoticeSetBytes + 16<<10

// Request is what the manager's page asks to see.
type Request struct {
	// Layout and Orientation are one of the site's screens (ui.Config's
	// rules: 800x480, 1024x600, 1280x800 or 1920x1080; landscape or
	// portrait). Both required.
	Layout      string `json:"layout"`
	Orientation string `json:"orientation"`
	// Language is the one language shown: fr, en or it. Required.
	Language string `json:"language"`
	// Building is the name at the top of the screen (may be empty).
	Building string `json:"building"`
	// TimeZone is the site's IANA zone for the clock; default Europe/Monaco.
	TimeZone string `json:"time_zone"`
	// At is the time shown, RFC 3339; it also picks which notices are
	// active and which one the rotation shows. Default: now.
	At string `json:"at"`
	// Floor is where the cabin stands; FloorLabel what passengers read
	// there (1 to 4 characters; default the number).
	Floor      int    `json:"floor"`
	FloorLabel string `json:"floor_label"`
	// Direction is none (default: the cabin stands still), up or down
	// (the cabin moves).
	Direction string `json:"direction"`
	// Notices are the site's notices as the receiver sends them
	// (wire.Notice), the one being written among them.
	Notices []json.RawMessage `json:"notices"`
	// Notice is the id of the notice to show (it must be active at At);
	// default the first of the rotation, the most important.
	Notice string `json:"notice"`
}

// Preview is a checked request: the screen's configuration and input.
type Preview struct {
	Config ui.Config
	Input  ui.Input
}

// previewSite names the cabin and the notice set of a preview; it is never
// sent anywhere.
const previewSite = "preview"

// Decode reads a request strictly and checks it; now is the time shown when
// the request gives none. Errors are *wire.FieldError where a field is at
// fault.
func Decode(b []byte, now time.Time) (Preview, error) {
	if len(b) > MaxRequestBytes {
		return Preview{}, fmt.Errorf("preview request of %d bytes (at most %d): %w", len(b), MaxRequestBytes, wire.ErrTooLarge)
	}
	var r Request
	if err := decodeStrict(b, &r); err != nil {
		return Preview{}, err
	}
	return r.Preview(now)
}

// Preview checks the request and maps it to the screen's model.
func (r *Request) Preview(now time.Time) (Preview, error) {
	at := now
	if r.At != "" {
		t, err := time.Parse(time.RFC3339Nano, r.At)
		if err != nil {
			return Preview{}, fieldErr("at", "%q is not an RFC 3339 time (e.g. 2026-11-24T14:07:00Z)", r.At)
		}
		at = t
	}
	// The rotation's arithmetic (and any real notice) is after 1970; a
	// preview of another century is a typo.
	if at.Year() < 2000 || at.Year() > 9999 {
		return Preview{}, fieldErr("at", "%s: want a time from the year 2000 on", at.Format(time.RFC3339))
	}
	moving := false
	switch r.Direction {
	case "", wire.DirectionNone:
	case wire.DirectionUp, wire.DirectionDown:
		moving = true
	default:
		return Preview{}, fieldErr("direction", "%q: want none, up or down", r.Direction)
	}

	cfg := ui.DefaultConfig()
	cfg.Building = r.Building
	if r.TimeZone != "" {
		cfg.TimeZone = r.TimeZone
	}
	cfg.Layout, cfg.Orientation = r.Layout, r.Orientation
	cfg.Languages = []string{r.Language}
	zero := 0
	cfg.PixelShift = &zero // a preview stands still
	if r.FloorLabel != "" {
		cfg.FloorLabels = map[int]string{r.Floor: r.FloorLabel}
	}
	if r.Floor < -99 || r.Floor > 999 {
		return Preview{}, fieldErr("floor", "%d: want -99 to 999", r.Floor)
	}
	// ui.Config's own rules, so that a preview accepts exactly the
	// layouts, zones and languages a screen does.
	if err := cfg.Validate(); err != nil {
		return Preview{}, configError(err)
	}

	set := &wire.NoticeSet{V: wire.Version, Site: previewSite, Version: 1, Notices: make([]wire.Notice, 0, len(r.Notices))}
	if len(r.Notices) > wire.MaxNotices {
		return Preview{}, fieldErr("notices", "%d notices (at most %d)", len(r.Notices), wire.MaxNotices)
	}
	for i, raw := range r.Notices {
		var n wire.Notice
		if err := decodeStrict(raw, &n); err != nil {
			var fe *wire.FieldError
			if errors.As(err, &fe) {
				return Preview{}, fieldErr(fmt.Sprintf("notices[%d].%s", i, fe.Field), "%s", fe.Reason)
			}
			return Preview{}, fieldErr(fmt.Sprintf("notices[%d]", i), "%v", err)
		}
		set.Notices = append(set.Notices, n)
	}
	if err := set.Validate(); err != nil {
		return Preview{}, err
	}
	loc, err := time.LoadLocation(cfg.TimeZone) // valid: cfg.Validate checked it
	if err != nil {
		return Preview{}, fieldErr("time_zone", "%v", err)
	}
	now, err = showing(set, at, r.Notice, loc)
	if err != nil {
		return Preview{}, err
	}
	// One language for one second: the rotation then steps a notice a
	// second, and showing chose the second of the minute that shows the
	// wanted one.
	cfg.LanguagePeriod = time.Second

	dir := r.Direction
	if dir == "" {
		dir = wire.DirectionNone
	}
	st := &wire.State{V: wire.Version, Site: previewSite, Cabin: previewSite, Time: at, Floor: r.Floor,
		Direction: dir, Moving: moving, Doors: []string{wire.DoorClosed}, Mode: wire.ModeNormal,
		Faults: []int{}, Link: "ok", Uplink: true}
	return Preview{Config: cfg, Input: ui.Input{State: st, Notices: set, AgentUp: true, Now: now}}, nil
}

// showing returns the time, within at's minute and second fraction, at
// which a rotation of one language stepping each second shows the notice
// id (the first active one when id is empty): the screen shows the minute,
// not the second, so the picture is at's. It is at itself when no notice
// is given. Schedules are read on loc's clock, as the screen reads them.
func showing(set *wire.NoticeSet, at time.Time, id string, loc *time.Location) (time.Time, error) {
	if len(set.Notices) == 0 {
		if id != "" {
			return at, fieldErr("notice", "%q: there are no notices", id)
		}
		return at, nil
	}
	active := ui.ActiveNotices(set, at, loc)
	if len(active) == 0 {
		return at, fieldErr("at", "%s: no notice is shown then (choose a time within a notice's validity, days and hours)", at.Format(time.RFC3339))
	}
	i := 0
	if id != "" {
		i = slices.IndexFunc(active, func(n wire.Notice) bool { return n.ID == id })
		if i < 0 {
			return at, fieldErr("notice", "%q is not among the notices active at %s", id, at.Format(time.RFC3339))
		}
	}
	n := int64(len(active))
	minute := at.Truncate(time.Minute)
	k := ((int64(i)-minute.Unix())%n + n) % n // n <= wire.MaxNotices < 60
	t := minute.Add(time.Duration(k)*time.Second + time.Duration(at.Nanosecond()))
	// Validity is judged by the second: the set active then must be the
	// same for the rotation to land on the notice.
	if again := ui.ActiveNotices(set, t, loc); len(again) != len(active) || again[i].ID != active[i].ID {
		return at, fieldErr("at", "%s: a notice starts or ends within this minute; choose another minute", at.Format(time.RFC3339))
	}
	return t, nil
}

func fieldErr(field, format string, args ...any) error {
	return &wire.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// configError names, for the first problem ui.Config.Validate found, the
// request's field rather than the display config's.
func configError(err error) error {
	for _, e := range configfile.Each(errors.Unwrap(err)) {
		var fe *configfile.FieldError
		if !errors.As(e, &fe) {
			continue
		}
		field := fe.Field
		switch {
		case field == "languages":
			field = "language"
		case strings.HasPrefix(field, "floor_labels["):
			field = "floor_label"
		}
		return fieldErr(field, "%s", fe.Problem)
	}
	return fmt.Errorf("preview request: %w", err)
}

// decodeStrict decodes one JSON value, refusing unknown fields, trailing
// data and values of the wrong type, naming the field.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fieldErr(te.Field, "has JSON %s, want %s", te.Value, te.Type)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fieldErr(strings.Trim(name, `"`), "unknown field")
		}
		return fmt.Errorf("decode JSON: %w", err)
	}
	if dec.More() {
		return errors.New("decode JSON: trailing data after the request")
	}
	return nil
}
