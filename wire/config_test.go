package wire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/wire"
)

const goodDesired = `{"v":1,"site":"les-pins","cabin":"a","version":3,"at":"2026-12-01T09:00:00Z","by":"Chiara",` +
	`"config":{"events":{"trip_too_long":"2m","min_floor":-2,"floor_levels_mm":[0,3000]},"controller":{"poll_interval":"250ms"},` +
	`"outbox":{"max_bytes":33554432},"uplink":{"rate_limit":50},"log_level":"debug"}}`

func TestDecodeDesiredConfigNamesTheWrongField(t *testing.T) {
	d, err := wire.DecodeDesiredConfig([]byte(goodDesired))
	if err != nil {
		t.Fatal(err)
	}
	if d.Scope() != wire.ConfigScopeCabin || *d.Config.Events.TripTooLong != "2m" || *d.Config.Uplink.RateLimit != 50 {
		t.Fatalf("decoded %+v", d)
	}
	site := strings.Replace(goodDesired, `"cabin":"a",`, ``, 1)
	if d, err := wire.DecodeDesiredConfig([]byte(site)); err != nil || d.Scope() != wire.ConfigScopeSite {
		t.Fatalf("a site's configuration: %+v, %v", d, err)
	}
	bad := map[string]string{
		"v":                                strings.Replace(goodDesired, `"v":1`, `"v":2`, 1),
		"version":                          strings.Replace(goodDesired, `"version":3`, `"version":0`, 1),
		"site":                             strings.Replace(goodDesired, `"les-pins"`, `"Les Pins"`, 1),
		"cabin":                            strings.Replace(goodDesired, `"cabin":"a"`, `"cabin":"A/1"`, 1),
		"at":                               strings.Replace(goodDesired, `"at":"2026-12-01T09:00:00Z",`, ``, 1),
		"config.events.trip_too_long":      strings.Replace(goodDesired, `"2m"`, `"2 minutes"`, 1),
		"config.controller.poll_interval":  strings.Replace(goodDesired, `"250ms"`, `"250"`, 1),
		"config.controller.profile":        strings.Replace(goodDesired, `"poll_interval":"250ms"`, `"profile":""`, 1),
		"config.events.max_floors_per_sec": strings.Replace(goodDesired, `"min_floor":-2`, `"max_floors_per_sec":2`, 1),
		"config.events.min_floor":          strings.Replace(goodDesired, `"min_floor":-2`, `"min_floor":"-2"`, 1),
	}
	for field, msg := range bad {
		_, err := wire.DecodeDesiredConfig([]byte(msg))
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(field, "config.events.")) {
			t.Errorf("%s: got %v, want an error naming %s", msg, err, field)
		}
	}
	huge := strings.Replace(goodDesired, `"poll_interval":"250ms"`, `"profile":"`+strings.Repeat("x", wire.MaxDesiredConfigBytes)+`"`, 1)
	if _, err := wire.DecodeDesiredConfig([]byte(huge)); !errors.Is(err, wire.ErrTooLarge) {
		t.Errorf("a configuration over %d bytes: %v", wire.MaxDesiredConfigBytes, err)
	}
	big := strings.Replace(goodDesired, `"poll_interval":"250ms"`, `"profile":"`+strings.Repeat("x", wire.MaxProfileBytes+1)+`"`, 1)
	if _, err := wire.DecodeDesiredConfig([]byte(big)); err == nil || !strings.HasPrefix(err.Error(), "config.controller.profile:") {
		t.Errorf("a profile over %d bytes: %v", wire.MaxProfileBytes, err)
	}
}

func TestConfigTopics(t *testing.T) {
	tp := wire.TopicsFor("les-pins", "a")
	if tp.Config != "palier/v1/les-pins/a/config" || tp.SiteConfig != "palier/v1/les-pins/config" {
		t.Fatalf("topics %+v", tp)
	}
	if wire.ConfigSubject("les-pins", "a") != "palier.v1.les-pins.a.config" || wire.SiteConfigSubject("les-pins") != "palier.v1.les-pins.config" {
		t.Fatal("subjects")
	}
}

// FuzzDecodeDesiredConfig: what the agent takes from its config topics (a
// retained message) is well formed, validates and round-trips.
func FuzzDecodeDesiredConfig(f *testing.F) {
	f.Add([]byte(goodDesired))
	f.Add([]byte(`{"v":1,"site":"s","version":1,"at":"2026-12-01T09:00:00Z","config":{}}`))
	f.Add([]byte(`{"v":1,"site":"s","version":1,"at":"2026-12-01T09:00:00Z","config":{"controller":{"profile":"name: x\nsignals: {}\n"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := wire.DecodeDesiredConfig(b)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("decoded configuration does not validate: %v", err)
		}
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) <= wire.MaxDesiredConfigBytes {
			if _, err := wire.DecodeDesiredConfig(again); err != nil {
				t.Fatalf("re-encoded configuration refused: %v\n%s", err, again)
			}
		}
	})
}
