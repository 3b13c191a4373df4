package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// TestNoticePlays stores notice_shown events of two cabins in a real
// SQLite store and asks where and how long the notice was shown: per cabin
// and language, the window applied; a manager of another site is refused,
// the reader role too, and a bad query names its parameter.
func TestNoticePlays(t *testing.T) {
	f, clock := accountsFixture(t)
	ctx := context.Background()
	base := clock.now().Add(-3 * time.Hour)
	ev := func(seq uint64, lang string, minute, shownS, times int) wire.Event {
		from := base.Add(time.Duration(minute) * time.Minute)
		e, err := wire.NewEvent(from.Add(time.Minute), wire.TypeNoticeShown, wire.NoticeShownData{Notice: "n1", Version: 1, Lang: lang,
			Layout: "800x480", Orientation: wire.OrientationLandscape, From: from, To: from.Add(time.Minute), ShownMS: int64(shownS) * 1000, Times: times})
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = seq
		return e
	}
	for _, b := range []wire.Batch{
		{V: 1, Site: "les-pins", Cabin: "a", Epoch: "p1", Events: []wire.Event{ev(1, "fr", 0, 20, 2), ev(2, "it", 0, 10, 1), ev(3, "fr", 1, 20, 2)}},
		{V: 1, Site: "les-pins", Cabin: "b", Epoch: "p1", Events: []wire.Event{ev(1, "en", 0, 6, 1), ev(2, "en", 120, 6, 1)}},
	} {
		if _, err := f.st.InsertBatches(ctx, []wire.Batch{b}, clock.now()); err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v1/sites/les-pins/notices/n1/plays?since=" + base.Format(time.RFC3339) + "&until=" + base.Add(time.Hour).Format(time.RFC3339)
	code, b, _ := f.doWith(t, "GET", path, "", nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+managerToken) })
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	var got PlaysJSON
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Shown != 56 || got.Times != 6 || len(got.Cabins) != 2 {
		t.Fatalf("plays %s", b)
	}
	a, bb := got.Cabins[0], got.Cabins[1]
	if a.Cabin != "a" || a.Shown != 50 || len(a.Languages) != 2 || a.Languages[0].Lang != "fr" || a.Languages[0].Shown != 40 || a.Languages[0].Times != 4 ||
		a.Languages[1].Lang != "it" || a.Languages[1].Shown != 10 {
		t.Errorf("cabin a: %+v", a)
	}
	if bb.Cabin != "b" || bb.Shown != 6 || bb.Times != 1 {
		t.Errorf("cabin b (its second play is outside the window): %+v", bb)
	}

	// The default window is the week before now: it takes both of b's.
	code, b, _ = f.doWith(t, "GET", "/api/v1/sites/les-pins/notices/n1/plays", "", nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken) })
	if code != 200 || json.Unmarshal(b, &got) != nil || got.Shown != 62 {
		t.Fatalf("default window: %d %s", code, b)
	}
	for _, tc := range []struct {
		path, token string
		code        int
		param       string
	}{
		{"/api/v1/sites/other/notices/n1/plays", managerToken, 403, "site"},
		{"/api/v1/sites/les-pins/notices/n1/plays", readToken, 403, "Authorization"},
		{"/api/v1/sites/les-pins/notices/n1/plays?since=yesterday", managerToken, 400, "since"},
		{"/api/v1/sites/les-pins/notices/n1/plays?cabin=a", managerToken, 400, "cabin"},
		{"/api/v1/sites/les-pins/notices/N_1/plays", managerToken, 400, "id"},
	} {
		code, b, _ := f.doWith(t, "GET", tc.path, "", nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tc.token) })
		if code != tc.code || apiError(t, b).Param != tc.param {
			t.Errorf("GET %s: %d %s, want %d naming %s", tc.path, code, b, tc.code, tc.param)
		}
	}
}
