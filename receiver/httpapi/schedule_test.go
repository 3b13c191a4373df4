package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestNoticeSchedules: a notice's schedule is stored, returned and
// published as sent; a bad one is refused with a 400 naming the field, and
// nothing is stored or published.
func TestNoticeSchedules(t *testing.T) {
	f := newFixture(t, nil)
	const schedule = `{"days":["mon","tue","wed","thu","fri"],"hours":[{"from":"08:00","to":"10:00"},{"from":"17:00","to":"19:00"}]}`
	n := `{"id":"cleaning","category":"cleaning","priority":"normal","title":{"fr":"Nettoyage du hall"},"body":{"fr":"Sol mouillé."},"valid_from":"2026-12-01T00:00:00Z","valid_until":"2026-12-15T00:00:00Z","schedule":` + schedule + `}`
	if code, b, _ := f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", []byte(n)); code != 201 || !bytes.Contains(b, []byte(`"schedule":`+schedule)) {
		t.Fatalf("create: %d %s", code, b)
	}
	code, b, _ := f.do(t, "GET", "/api/v1/sites/s1/notices", "", nil)
	if code != 200 || !bytes.Contains(b, []byte(`"schedule":`+schedule)) {
		t.Fatalf("GET: %d %s, want the schedule as sent", code, b)
	}
	pub := f.pub.last()
	if s := pub.Notices[0].Schedule; s == nil || len(s.Days) != 5 || len(s.Hours) != 2 || s.Hours[1].To != "19:00" {
		t.Fatalf("published schedule %+v", s)
	}

	for _, tc := range []struct {
		name, schedule, param, says string
	}{
		{"unknown day", `{"days":["mon","tue","Wed"]}`, "schedule.days[2]", `"Wed"`},
		{"day twice", `{"days":["mon","mon"]}`, "schedule.days[1]", "already"},
		{"to before from", `{"hours":[{"from":"08:00","to":"10:00"},{"from":"12:00","to":"11:00"}]}`, "schedule.hours[1].to", "not after"},
		{"across midnight", `{"hours":[{"from":"22:00","to":"02:00"}]}`, "schedule.hours[0].to", "two windows"},
		{"overlap", `{"hours":[{"from":"08:00","to":"10:00"},{"from":"09:00","to":"11:00"}]}`, "schedule.hours[1]", "overlaps"},
		{"no minutes", `{"hours":[{"from":"8","to":"10:00"}]}`, "schedule.hours[0].from", "HH:MM"},
		{"empty", `{}`, "schedule", "omit schedule"},
		{"days as a string", `{"days":"mon"}`, "schedule.days", "want []string"},
		{"an unknown field", `{"days":["mon"],"weeks":[1]}`, "weeks", `unknown field "weeks"`},
	} {
		body := strings.Replace(n, schedule, tc.schedule, 1)
		body = strings.Replace(body, `"id":"cleaning"`, `"id":"other"`, 1)
		code, b, _ := f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", []byte(body))
		var e APIError
		json.Unmarshal(b, &e)
		if code != 400 || e.Param != tc.param || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s: %d %+v, want 400 naming %s and saying %q", tc.name, code, e, tc.param, tc.says)
		}
	}
	if s := f.pub.last(); s.Version != 1 {
		t.Fatalf("a refused schedule changed the set: version %d", s.Version)
	}

	// Editing without the schedule removes it: the notice shows throughout.
	plain := strings.Replace(n, `,"schedule":`+schedule, ``, 1)
	if code, b, _ := f.do(t, "PUT", "/api/v1/sites/s1/notices/cleaning", "application/json", []byte(plain)); code != 200 || bytes.Contains(b, []byte(`"schedule"`)) {
		t.Fatalf("PUT without schedule: %d %s", code, b)
	}
	if code, b, _ := f.do(t, "GET", "/api/v1/sites/s1/notices", "", nil); code != 200 || bytes.Contains(b, []byte(`"schedule"`)) {
		t.Fatalf("GET after removing the schedule: %d %s", code, b)
	}
}
