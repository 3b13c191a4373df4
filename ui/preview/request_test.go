package preview_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/goldens"
	"github.com/palier-lifts/palier/ui/preview"
	"github.com/palier-lifts/palier/wire"
)

const example = `{"layout":"800x480","orientation":"landscape","language":"fr",
 "building":"Résidence Les Pins","time_zone":"Europe/Monaco","at":"2026-11-24T14:07:00Z",
 "floor":0,"floor_label":"RDC","notices":[
  {"id":"facade","category":"works","priority":"normal","title":{"fr":"Ravalement","it":"Facciata"},
   "body":{"fr":"Échafaudage jusqu'à fin décembre."},"valid_from":"2026-11-23T00:00:00Z"},
  {"id":"velo","category":"general","priority":"low","title":{"fr":"Local à vélos"},
   "body":{"fr":"Au sous-sol."},"valid_from":"2026-11-20T00:00:00Z",
   "media":[{"url":"https://syndic.example/v.png","sha256":"` + "abababababababababababababababababababababababababababababababab" + `","type":"image/png","size":1234}]}]}`

var never = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) // a default now that no test wants

func view(t *testing.T, p preview.Preview) ui.View {
	t.Helper()
	m, err := ui.NewModel(p.Config)
	if err != nil {
		t.Fatalf("a decoded preview does not build a model: %v", err)
	}
	return m.View(p.Input)
}

// edit decodes the example, lets f change it as a map, and encodes it again.
func edit(t *testing.T, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(example), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMapsToTheScreensView(t *testing.T) {
	p, err := preview.Decode([]byte(example), never)
	if err != nil {
		t.Fatal(err)
	}
	v := view(t, p)
	if v.Width != 800 || v.Height != 480 || v.Portrait {
		t.Errorf("size %dx%d portrait %v, want 800x480 landscape", v.Width, v.Height, v.Portrait)
	}
	if v.Lang != "fr" || v.Building != "Résidence Les Pins" || v.Clock != "15:07" || v.Floor != "RDC" {
		t.Errorf("lang %q building %q clock %q floor %q, want fr, the building, 15:07 in Monaco, RDC", v.Lang, v.Building, v.Clock, v.Floor)
	}
	if !v.HasState || v.Moving || v.Direction != wire.DirectionNone || v.Stale || v.Overlay.Kind != ui.OverlayNone {
		t.Errorf("cabin %+v, want standing still, in service, fresh", v)
	}
	if !v.Conn.Agent || !v.Conn.Controller || !v.Conn.Uplink || v.ShiftX != 0 || v.ShiftY != 0 || v.Dim {
		t.Errorf("connectivity %+v shift %d,%d dim %v: want all links up, no shift, daylight", v.Conn, v.ShiftX, v.ShiftY, v.Dim)
	}
	// The first of the rotation by default (newest first at equal priority).
	if v.Notice.ID != "facade" || v.Notice.Title != "Ravalement" || v.NoticeCount != 2 {
		t.Errorf("notice %+v of %d, want facade of 2", v.Notice, v.NoticeCount)
	}

	// Another layout, language and notice.
	p, err = preview.Decode(edit(t, func(m map[string]any) {
		m["layout"], m["orientation"], m["language"], m["notice"], m["direction"] = "1024x600", "portrait", "it", "velo", "up"
	}), never)
	if err != nil {
		t.Fatal(err)
	}
	v = view(t, p)
	if v.Width != 600 || v.Height != 1024 || !v.Portrait || v.Lang != "it" || v.Clock != "15:07" {
		t.Errorf("%dx%d portrait %v lang %q clock %q, want 600x1024 portrait it 15:07", v.Width, v.Height, v.Portrait, v.Lang, v.Clock)
	}
	if v.Notice.ID != "velo" || v.Notice.Title != "Local à vélos" || v.Notice.Media != strings.Repeat("ab", 32) {
		t.Errorf("notice %+v, want velo in French (no Italian given) with its picture", v.Notice)
	}
	if !v.Moving || v.Direction != wire.DirectionUp {
		t.Errorf("moving %v direction %q, want going up", v.Moving, v.Direction)
	}

	// No time given: now; no notices: none shown.
	now := time.Date(2026, 7, 1, 10, 30, 0, 0, time.UTC)
	p, err = preview.Decode([]byte(`{"layout":"1920x1080","orientation":"landscape","language":"en","floor":-2,"notices":[]}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if v = view(t, p); v.Clock != "12:30" || v.Floor != "-2" || v.NoticeCount != 0 || v.Width != 1920 {
		t.Errorf("clock %q floor %q notices %d width %d, want 12:30 (summer in Monaco), -2, none, 1920", v.Clock, v.Floor, v.NoticeCount, v.Width)
	}
}

// TestEachNoticeOfTheRotationCanBeShown: whichever notice is asked for is
// the one drawn, at the requested minute.
func TestEachNoticeOfTheRotationCanBeShown(t *testing.T) {
	ns := goldens.Notices(true)
	for i := range 5 {
		n := ns.Notices[0]
		n.ID = string(rune('a'+i)) + "-extra"
		ns.Notices = append(ns.Notices, n)
	}
	for _, at := range []string{"2026-11-24T14:07:00Z", "2026-11-24T14:07:59.999Z", "2026-11-24T14:08:31.5Z"} {
		for _, n := range ns.Notices {
			r := preview.Request{Layout: "800x480", Orientation: "landscape", Language: "en", At: at, Notice: n.ID}
			for _, n := range ns.Notices {
				b, _ := json.Marshal(n)
				r.Notices = append(r.Notices, b)
			}
			p, err := r.Preview(never)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := time.Parse(time.RFC3339Nano, at)
			if v := view(t, p); v.Notice.ID != n.ID || p.Input.Now.Truncate(time.Minute) != want.Truncate(time.Minute) || p.Input.Now.Nanosecond() != want.Nanosecond() {
				t.Errorf("at %s asked %s: shown %s at %s", at, n.ID, v.Notice.ID, p.Input.Now)
			}
		}
	}
}

// TestGoldenRequestsDrawTheGoldenViews: the request made from a golden
// case gives the very View the golden image was drawn from, so the
// browser's drawing of it can be compared with that image.
func TestGoldenRequestsDrawTheGoldenViews(t *testing.T) {
	n := 0
	for _, c := range goldens.Cases() {
		r, ok := goldens.Request(c)
		if !ok {
			continue
		}
		n++
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p, err := preview.Decode(b, never)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		m, err := ui.NewModel(c.Config())
		if err != nil {
			t.Fatal(err)
		}
		want, got := m.View(c.In), view(t, p)
		// The count and place in the rotation are not drawn... unless
		// they are: compare whole Views.
		if got != want {
			t.Errorf("%s: preview view\n%+v\nwant the golden's\n%+v", c.Name, got, want)
		}
	}
	if n != 11 { // 8 main layouts, urgent, media, media-missing
		t.Errorf("%d golden cases a preview can draw, want 11", n)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(map[string]any)
		field string
	}{
		{"layout", func(m map[string]any) { m["layout"] = "640x480" }, "layout"},
		{"no layout", func(m map[string]any) { delete(m, "layout") }, "layout"},
		{"orientation", func(m map[string]any) { m["orientation"] = "sideways" }, "orientation"},
		{"language", func(m map[string]any) { m["language"] = "de" }, "language"},
		{"no language", func(m map[string]any) { delete(m, "language") }, "language"},
		{"time zone", func(m map[string]any) { m["time_zone"] = "Mars/Olympus" }, "time_zone"},
		{"building", func(m map[string]any) { m["building"] = strings.Repeat("b", 81) }, "building"},
		{"floor label", func(m map[string]any) { m["floor_label"] = "ROOFTOP" }, "floor_label"},
		{"floor type", func(m map[string]any) { m["floor"] = "ground" }, "floor"},
		{"floor range", func(m map[string]any) { m["floor"] = 5000 }, "floor"},
		{"direction", func(m map[string]any) { m["direction"] = "sideways" }, "direction"},
		{"at", func(m map[string]any) { m["at"] = "tomorrow" }, "at"},
		{"at in another century", func(m map[string]any) { m["at"] = "1969-12-31T23:59:00Z" }, "at"},
		{"at before every notice", func(m map[string]any) { m["at"] = "2020-01-01T00:00:00Z" }, "at"},
		{"unknown field", func(m map[string]any) { m["colour"] = "red" }, "colour"},
		{"notice not active", func(m map[string]any) { m["notice"] = "nope" }, "notice"},
		{"notice title", func(m map[string]any) {
			m["notices"].([]any)[1].(map[string]any)["title"] = map[string]any{"en": "no French"}
		}, "notices[1].title.fr"},
		{"notice unknown field", func(m map[string]any) { m["notices"].([]any)[0].(map[string]any)["colour"] = "red" }, "notices[0].colour"},
		{"notice field type", func(m map[string]any) { m["notices"].([]any)[0].(map[string]any)["priority"] = 3 }, "notices[0].priority"},
		{"duplicate notice", func(m map[string]any) {
			m["notices"].([]any)[1].(map[string]any)["id"] = "facade"
		}, "notices[1].id"},
		{"media hash", func(m map[string]any) {
			m["notices"].([]any)[1].(map[string]any)["media"].([]any)[0].(map[string]any)["sha256"] = "AB"
		}, "notices[1].media[0].sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := preview.Decode(edit(t, tc.edit), never)
			var fe *wire.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want one naming %s", err, tc.field)
			}
			if fe.Reason == "" {
				t.Fatal("no reason given")
			}
		})
	}
	for name, b := range map[string][]byte{
		"too large":     []byte(`{"building":"` + strings.Repeat("x", preview.MaxRequestBytes) + `"}`),
		"trailing data": []byte(example + `{}`),
		"not JSON":      []byte(`layout=800x480`),
	} {
		if _, err := preview.Decode(b, never); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
