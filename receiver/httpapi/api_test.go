package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palier-lifts/palier/receiver/media"
	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// recorder is a NoticePublisher that keeps what it was given, or fails.
type recorder struct {
	mu   sync.Mutex
	sets []wire.NoticeSet
	fail error
}

func (r *recorder) PublishNotices(_ context.Context, s wire.NoticeSet) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.sets = append(r.sets, s)
	return nil
}

func (r *recorder) last() wire.NoticeSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return wire.NoticeSet{}
	}
	return r.sets[len(r.sets)-1]
}

type fixture struct {
	srv   *httptest.Server
	api   *API // what srv serves, for tests that wrap it
	st    store.Store
	pub   *recorder
	media media.Store
	token string // sent as bearer when not empty
}

func newFixture(t testing.TB, tokens map[string]Role, tune ...func(*Options)) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	md, err := media.OpenDir(t.TempDir(), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pub := &recorder{}
	o := Options{Store: st, Notices: pub, Media: md, PublicURL: "https://palier.example", MaxUploadBytes: 4096,
		Tokens: tokens, Gatherer: reg, Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range tune {
		f(&o)
	}
	api, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, api: api, st: st, pub: pub, media: md}
}

func (f *fixture) do(t *testing.T, method, path, ctype string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	return f.doWith(t, method, path, ctype, body, func(*http.Request) {})
}

// doWith is do with a last change to the request (a header, the Host).
func (f *fixture) doWith(t *testing.T, method, path, ctype string, body []byte, edit func(*http.Request)) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	edit(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (f *fixture) get(t *testing.T, path string, v any) int {
	t.Helper()
	code, b, _ := f.do(t, "GET", path, "", nil)
	if v != nil && code == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
	return code
}

func TestCabinsAndEvents(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var bs []wire.Batch
	for i := uint64(1); i <= 250; i += 50 {
		var seqs []uint64
		for s := i; s < i+50; s++ {
			seqs = append(seqs, s)
		}
		bs = append(bs, storetest.Batch("s1", "c1", "e1", seqs...))
	}
	bs = append(bs, wire.Batch{V: 1, Site: "s1", Cabin: "c2", Epoch: "e1", Events: []wire.Event{
		storetest.Event(1, wire.TypeTrip, wire.TripData{From: 0, To: 3, Direction: "up", DurationMS: 9000}),
	}})
	if _, err := f.st.InsertBatches(ctx, bs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateStatus(ctx, "s1", "c1", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateState(ctx, wire.State{V: 1, Site: "s1", Cabin: "c1", Time: time.Now(), Floor: 3, Direction: "none",
		Mode: "normal", Faults: []int{7}, Counters: wire.Counters{Trips: 12}}, time.Now()); err != nil {
		t.Fatal(err)
	}

	var raw []map[string]any
	if code := f.get(t, "/api/v1/cabins", &raw); code != 200 || len(raw) != 2 {
		t.Fatalf("GET cabins: %d, %v", code, raw)
	}
	for _, k := range []string{"site", "cabin", "online", "floor", "mode", "faults", "last_seen", "events", "counters"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("cabin JSON lacks %q: %v", k, raw[0])
		}
	}
	var c store.Cabin
	if code := f.get(t, "/api/v1/cabins/s1/c1", &c); code != 200 || !c.Online || *c.Floor != 3 || c.Events != 250 || c.Counters.Trips != 12 || len(c.Faults) != 1 {
		t.Fatalf("GET cabin: %d, %+v", code, c)
	}
	if code := f.get(t, "/api/v1/cabins/s1/nope", nil); code != 404 {
		t.Fatalf("unknown cabin: %d, want 404", code)
	}

	seen := map[uint64]bool{}
	next, pages := "", 0
	for {
		var p store.EventPage
		path := "/api/v1/cabins/s1/c1/events?limit=60"
		if next != "" {
			path += "&cursor=" + url.QueryEscape(next)
		}
		if code := f.get(t, path, &p); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		pages++
		for _, e := range p.Events {
			if seen[e.Seq] {
				t.Fatalf("event %d on two pages", e.Seq)
			}
			seen[e.Seq] = true
		}
		if next = p.Next; next == "" {
			break
		}
	}
	if len(seen) != 250 || pages != 5 {
		t.Fatalf("%d events in %d pages, want 250 in 5", len(seen), pages)
	}
	var rep report.Report
	if code := f.get(t, "/api/v1/sites/s1/report?since=2026-03-01T00:00:00Z&until=2026-03-02T00:00:00Z&tz=Europe/Monaco", &rep); code != 200 ||
		len(rep.Cabins) != 2 || rep.Cabins[1].Trips != 1 || len(rep.Cabins[1].TripsPerDay) != 2 {
		t.Fatalf("report: %d, %+v; want c2 with 1 trip over 2 Monaco days", code, rep)
	}
	var p store.EventPage
	since := storetest.T0.Format(time.RFC3339)
	if code := f.get(t, "/api/v1/cabins/s1/c2/events?type=trip&since="+since, &p); code != 200 || len(p.Events) != 1 || p.Events[0].Type != "trip" {
		t.Fatalf("trips of c2: %d, %+v", code, p)
	}
}

func TestBadRequestsNameTheParameter(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		path  string
		code  int
		param string
	}{
		{"/api/v1/cabins/S1/c1", 400, "site"},
		{"/api/v1/cabins/s1/c%20/events", 400, "cabin"},
		{"/api/v1/cabins/s1/c1/events?limit=0", 400, "limit"},
		{"/api/v1/cabins/s1/c1/events?limit=5000", 400, "limit"},
		{"/api/v1/cabins/s1/c1/events?limit=ten", 400, "limit"},
		{"/api/v1/cabins/s1/c1/events?since=yesterday", 400, "since"},
		{"/api/v1/cabins/s1/c1/events?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", 400, "until"},
		{"/api/v1/cabins/s1/c1/events?type=levitation", 400, "type"},
		{"/api/v1/cabins/s1/c1/events?cursor=%21%21", 400, "cursor"},
		{"/api/v1/cabins/s1/c1/events?from=1", 400, "from"},
		{"/api/v1/nothing", 404, ""},
		{"/media/abc", 400, "sha256"},
		{"/api/v1/sites/s1/report?tz=Mars/Olympus", 400, "tz"},
		{"/api/v1/sites/s1/report?since=2020-01-01T00:00:00Z&until=2021-01-01T00:00:00Z", 400, "since"},
		{"/api/v1/sites/s1/report?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", 400, "until"},
		{"/api/v1/sites/s1/report?days=3", 400, "days"},
		{"/api/v1/cabins/s1/c1/timeline?since=yesterday", 400, "since"},
		{"/api/v1/cabins/s1/c1/timeline?until=2026-13-01T00:00:00Z", 400, "until"},
		{"/api/v1/cabins/s1/c1/timeline?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", 400, "until"},
		{"/api/v1/cabins/s1/c1/timeline?since=2020-01-01T00:00:00Z&until=2021-01-01T00:00:00Z", 400, "since"},
		{"/api/v1/cabins/s1/c1/timeline?since=2026-03-01T00:00:00Z&since=2026-03-02T00:00:00Z", 400, "since"},
		{"/api/v1/cabins/s1/c1/timeline?name=link", 400, "name"},
		{"/api/v1/cabins/s1/C1/timeline", 400, "cabin"},
		{"/media/" + strings.Repeat("0", 64), 404, "sha256"},
	} {
		code, body, hdr := f.do(t, "GET", tc.path, "", nil)
		var e APIError
		if err := json.Unmarshal(body, &e); err != nil || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: body %q is not a JSON error", tc.path, body)
			continue
		}
		if code != tc.code || e.Param != tc.param || e.Error == "" {
			t.Errorf("GET %s: %d %+v, want %d naming %q", tc.path, code, e, tc.code, tc.param)
		}
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, map[string]Role{"r-token": RoleRead, "a-token": RoleAdmin})
	notice := []byte(`{"id":"n1","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"Hall"},"valid_from":"2026-03-01T00:00:00Z"}`)
	if code, _, hdr := f.do(t, "GET", "/api/v1/cabins", "", nil); code != 401 || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d, want 401 with WWW-Authenticate", code)
	}
	if code, _, _ := f.do(t, "GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz without token: %d, want 200", code)
	}
	f.token = "wrong"
	if code, _, _ := f.do(t, "GET", "/api/v1/cabins", "", nil); code != 401 {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	f.token = "r-token"
	if code, _, _ := f.do(t, "GET", "/api/v1/cabins", "", nil); code != 200 {
		t.Fatalf("read token GET: %d, want 200", code)
	}
	if code, _, _ := f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", notice); code != 403 {
		t.Fatalf("read token POST: %d, want 403", code)
	}
	f.token = "a-token"
	if code, b, _ := f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", notice); code != 201 {
		t.Fatalf("admin token POST: %d %s, want 201", code, b)
	}
	f.token = "r-token"
	if code, b, _ := f.do(t, "GET", "/metrics", "", nil); code != 200 || !bytes.Contains(b, []byte("palier_receiver_http_requests_total")) {
		t.Fatalf("metrics: %d, without the HTTP request counter", code)
	}
}

func TestNoticesLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	n := `{"id":"water-1","category":"water","priority":"urgent","title":{"fr":"Coupure d'eau","en":"Water cut","it":"Interruzione"},"body":{"fr":"Mardi"},"valid_from":"2026-03-01T00:00:00Z","valid_until":"2026-03-02T00:00:00Z"}`
	code, b, _ := f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", []byte(n))
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	if s := f.pub.last(); s.Version != 1 || s.Site != "s1" || len(s.Notices) != 1 {
		t.Fatalf("published %+v, want version 1 with one notice", s)
	}
	if code, _, _ := f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", []byte(n)); code != 409 {
		t.Fatalf("create twice: %d, want 409", code)
	}
	// Without an id, one is made.
	code, b, _ = f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", []byte(strings.Replace(n, `"id":"water-1",`, "", 1)))
	var set wire.NoticeSet
	if json.Unmarshal(b, &set); code != 201 || set.Version != 2 || len(set.Notices) != 2 || set.Notices[1].ID == "" {
		t.Fatalf("create without id: %d %s", code, b)
	}
	changed := strings.Replace(n, `"priority":"urgent"`, `"priority":"normal"`, 1)
	if code, b, _ := f.do(t, "PUT", "/api/v1/sites/s1/notices/water-1", "application/json", []byte(changed)); code != 200 {
		t.Fatalf("update: %d %s", code, b)
	}
	if s := f.pub.last(); s.Version != 3 || s.Notices[0].Priority != "normal" {
		t.Fatalf("after update published %+v", s)
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		param              string
	}{
		{"POST", "/api/v1/sites/s1/notices", strings.Replace(n, `"water"`, `"party"`, 1), 400, "category"},
		{"POST", "/api/v1/sites/s1/notices", strings.Replace(n, `"fr":"Coupure d'eau",`, ``, 1), 400, "title.fr"},
		{"POST", "/api/v1/sites/s1/notices", strings.Replace(n, `"valid_until":"2026-03-02T00:00:00Z"`, `"valid_until":"2026-02-01T00:00:00Z"`, 1), 400, "valid_until"},
		{"POST", "/api/v1/sites/s1/notices", strings.Replace(n, `"category"`, `"colour":"red","category"`, 1), 400, "colour"},
		{"POST", "/api/v1/sites/s1/notices", `{"id":5}`, 400, "id"},
		{"POST", "/api/v1/sites/s1/notices", `{"id":"x","category":"works","priority":"low","title":{"fr":"t"},"body":{"fr":"b"},"valid_from":"2026-03-01T00:00:00Z","media":[{"url":"ftp://x","sha256":"00","size":1}]}`, 400, "media[0].url"},
		{"POST", "/api/v1/sites/Bad/notices", n, 400, "site"},
		{"PUT", "/api/v1/sites/s1/notices/other", n, 400, "id"},
		{"PUT", "/api/v1/sites/s1/notices/missing", strings.Replace(n, "water-1", "missing", 1), 404, "id"},
		{"DELETE", "/api/v1/sites/s1/notices/missing", "", 404, "id"},
	} {
		code, b, _ := f.do(t, tc.method, tc.path, "application/json", []byte(tc.body))
		var e APIError
		json.Unmarshal(b, &e)
		if code != tc.code || e.Param != tc.param || e.Error == "" {
			t.Errorf("%s %s %.40s: %d %+v, want %d naming %q", tc.method, tc.path, tc.body, code, e, tc.code, tc.param)
		}
	}
	if s := f.pub.last(); s.Version != 3 {
		t.Fatalf("a refused change was published: version %d", s.Version)
	}
	if code, _, _ := f.do(t, "DELETE", "/api/v1/sites/s1/notices/water-1", "", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if s := f.pub.last(); s.Version != 4 || len(s.Notices) != 1 {
		t.Fatalf("after delete published %+v", s)
	}
	f.pub.fail = errors.New("broker away")
	code, b, _ = f.do(t, "DELETE", "/api/v1/sites/s1/notices/"+set.Notices[1].ID, "", nil)
	if code != http.StatusBadGateway || !bytes.Contains(b, []byte("version 5")) {
		t.Fatalf("publish failure: %d %s, want 502 saying version 5 is stored", code, b)
	}
	var got wire.NoticeSet
	if f.get(t, "/api/v1/sites/s1/notices", &got); got.Version != 5 || len(got.Notices) != 0 {
		t.Fatalf("stored set %+v, want version 5 and empty", got)
	}
}

func TestMedia(t *testing.T) {
	f := newFixture(t, nil)
	png := smallPNG(t)
	code, b, _ := f.do(t, "POST", "/api/v1/media", "image/png", png)
	var m wire.Media
	if json.Unmarshal(b, &m); code != 201 {
		t.Fatalf("upload: %d %s", code, b)
	}
	sum := sha256.Sum256(png)
	if m.SHA256 != hex.EncodeToString(sum[:]) || m.URL != "https://palier.example/media/"+m.SHA256 || m.Size != int64(len(png)) || m.Type != "image/png" {
		t.Fatalf("media %+v", m)
	}
	code, got, hdr := f.do(t, "GET", "/media/"+m.SHA256, "", nil)
	if code != 200 || !bytes.Equal(got, png) || hdr.Get("Content-Type") != "image/png" {
		t.Fatalf("download: %d, %d bytes, %s", code, len(got), hdr.Get("Content-Type"))
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("download headers %v: want nosniff and a sandboxing CSP", hdr)
	}
	// What is declared must be what the file holds (issue 20, finding 6):
	// markup or a program sent as a picture is refused, naming why.
	for name, body := range map[string][]byte{
		"HTML as image/png":   []byte("<html><script>alert(document.domain)</script></html>"),
		"ELF as image/png":    append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 100)...),
		"PNG header and junk": append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 100)...),
	} {
		code, b, _ := f.do(t, "POST", "/api/v1/media", "image/png", body)
		if code != http.StatusUnsupportedMediaType || !bytes.Contains(b, []byte("not a file of an accepted type")) {
			t.Errorf("%s: %d %s, want 415 naming the type", name, code, b)
		}
	}
	if code, b, _ := f.do(t, "POST", "/api/v1/media", "image/jpeg", png); code != http.StatusUnsupportedMediaType || !bytes.Contains(b, []byte("declared image/jpeg, holds image/png")) {
		t.Errorf("PNG as image/jpeg: %d %s, want 415", code, b)
	}
	// A file stored before uploads were checked is only ever a download.
	html := []byte("<html><script>alert(1)</script></html>")
	old, _, err := f.media.Put(context.Background(), bytes.NewReader(html), media.Upload{Max: 4096})
	if err != nil {
		t.Fatal(err)
	}
	code, _, hdr = f.do(t, "GET", "/media/"+old, "", nil)
	if code != 200 || hdr.Get("Content-Type") != "application/octet-stream" || hdr.Get("Content-Disposition") != "attachment" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("legacy HTML file served as %d %v", code, hdr)
	}
	if code, _, _ := f.do(t, "POST", "/api/v1/media", "text/html", png); code != http.StatusUnsupportedMediaType {
		t.Fatalf("html upload: %d, want 415", code)
	}
	if code, _, _ := f.do(t, "POST", "/api/v1/media", "image/png", make([]byte, 5000)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %d, want 413", code)
	}
	// A notice references the upload by URL and hash.
	n := `{"id":"n1","category":"works","priority":"low","title":{"fr":"t"},"body":{"fr":"b"},"valid_from":"2026-03-01T00:00:00Z","media":[` + string(b) + `]}`
	if code, b, _ := f.do(t, "POST", "/api/v1/sites/s1/notices", "application/json", []byte(n)); code != 201 {
		t.Fatalf("notice with media: %d %s", code, b)
	}
}

func TestDashboard(t *testing.T) {
	f := newFixture(t, nil)
	code, b, hdr := f.do(t, "GET", "/", "", nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !bytes.Contains(b, []byte("/api/v1/cabins")) {
		t.Fatalf("dashboard: %d %s", code, hdr.Get("Content-Type"))
	}
}

func FuzzDecodeNotice(f *testing.F) {
	f.Add([]byte(`{"id":"n1","category":"works","priority":"low","title":{"fr":"t"},"body":{"fr":"b"},"valid_from":"2026-03-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, apiErr := DecodeNotice(b, "default-id")
		if apiErr != nil {
			if apiErr.Error == "" {
				t.Fatal("refusal without a reason")
			}
			return
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("accepted an invalid notice: %v", err)
		}
	})
}

func FuzzParseEventQuery(f *testing.F) {
	f.Add("type=trip&since=2026-03-01T00:00:00Z&limit=10")
	f.Add("cursor=MTIzOjQ")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, apiErr := ParseEventQuery("s", "c", v)
		if apiErr != nil {
			if apiErr.Param == "" || apiErr.Error == "" {
				t.Fatalf("refusal %+v does not name the parameter", apiErr)
			}
			return
		}
		if q.Limit < 0 || q.Limit > store.MaxLimit || (q.Type != "" && !wire.KnownType(q.Type)) {
			t.Fatalf("accepted %+v", q)
		}
	})
}

// smallPNG is a real 4x3 PNG.
func smallPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{200, 30, 30, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCrossSiteRequestsRefused: a page of another origin, a "simple" body a
// form can send, or a rebound DNS name cannot change or read anything
// (issue 20, finding 7), and every response carries nosniff and a CSP.
func TestCrossSiteRequestsRefused(t *testing.T) {
	f := newFixture(t, nil) // no tokens: the mode where a browser is the only guard
	notice := []byte(`{"id":"n1","category":"works","priority":"low","title":{"fr":"t"},"body":{"fr":"b"},"valid_from":"2026-03-01T00:00:00Z"}`)
	send := func(method, path, ctype, origin, host string, body []byte) (int, []byte, http.Header) {
		t.Helper()
		return f.doWith(t, method, path, ctype, body, func(req *http.Request) {
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			if host != "" {
				req.Host = host
			}
		})
	}
	for _, tc := range []struct {
		name, ctype, origin, host string
		want                      int
		param                     string
	}{
		{"another origin", "application/json", "http://127.0.0.2:8000", "", http.StatusForbidden, "Origin"},
		{"a form's text/plain", "text/plain", "", "", http.StatusUnsupportedMediaType, "Content-Type"},
		{"a form's urlencoded", "application/x-www-form-urlencoded", "", "", http.StatusUnsupportedMediaType, "Content-Type"},
		{"a rebound DNS name", "application/json", "", "attacker.example:8080", http.StatusMisdirectedRequest, "Host"},
	} {
		code, b, _ := send("POST", "/api/v1/sites/s1/notices", tc.ctype, tc.origin, tc.host, notice)
		var e APIError
		json.Unmarshal(b, &e)
		if code != tc.want || e.Param != tc.param {
			t.Errorf("%s: %d %s, want %d naming %s", tc.name, code, b, tc.want, tc.param)
		}
	}
	if code, _, _ := send("GET", "/api/v1/cabins", "", "", "attacker.example", nil); code != http.StatusMisdirectedRequest {
		t.Errorf("read under a rebound DNS name: %d, want 421", code)
	}
	if code, _, _ := send("GET", "/healthz", "", "", "10.0.0.7:8080", nil); code != http.StatusOK {
		t.Errorf("health probe by address: %d, want 200", code)
	}
	var set wire.NoticeSet
	if f.get(t, "/api/v1/sites/s1/notices", &set); len(set.Notices) != 0 {
		t.Fatalf("a refused request stored notices: %+v", set)
	}
	// The receiver's own page (same origin) and the public name still work.
	if code, b, _ := send("POST", "/api/v1/sites/s1/notices", "application/json", f.srv.URL, "", notice); code != http.StatusCreated {
		t.Fatalf("same-origin post: %d %s", code, b)
	}
	if code, _, _ := send("GET", "/api/v1/cabins", "", "", "palier.example", nil); code != http.StatusOK {
		t.Errorf("read under the public_url host: %d, want 200", code)
	}
	for _, path := range []string{"/", "/api/v1/cabins", "/nowhere"} {
		_, _, hdr := send("GET", path, "", "", "", nil)
		csp := hdr.Get("Content-Security-Policy")
		if hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: headers %v, want nosniff and a strict CSP", path, hdr)
		}
		if path == "/" && (strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'sha256-")) {
			t.Errorf("dashboard CSP %q: want its script by hash, no unsafe-inline", csp)
		}
	}
}

// TestEventQueryRefusesWhatWouldBeDropped: a filter that URL.Query drops
// without a word (a ';' separator) or a parameter given twice is refused,
// naming it, instead of answering with more than was asked (issue 20, 11).
func TestEventQueryRefusesWhatWouldBeDropped(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct{ query, param string }{
		{"type=trip;", "query"},
		{"type=trip;limit=5", "query"},
		{"limit=%zz", "query"},
		{"type=trip&type=arrival", "type"},
	} {
		code, b, _ := f.do(t, "GET", "/api/v1/cabins/s1/c1/events?"+tc.query, "", nil)
		var e APIError
		json.Unmarshal(b, &e)
		if code != http.StatusBadRequest || e.Param != tc.param {
			t.Errorf("?%s: %d %s, want 400 naming %s", tc.query, code, b, tc.param)
		}
	}
	if code, b, _ := f.do(t, "GET", "/api/v1/sites/s1/report?since=2026-03-01T00:00:00Z;", "", nil); code != http.StatusBadRequest {
		t.Errorf("report with a ';': %d %s, want 400", code, b)
	}
}

// TestMediaQuota: uploads cannot fill the receiver's disk (issue 20: 15
// uploads of 20 MB were all accepted).
func TestMediaQuota(t *testing.T) {
	f := newFixture(t, nil)
	// The fixture's store holds 64 KiB; past it uploads get 507.
	big := bigPNG(t)
	full := false
	for i := 0; i < 100 && !full; i++ {
		code, b, _ := f.do(t, "POST", "/api/v1/media", "image/png", append(append([]byte(nil), big...), byte(i)))
		switch code {
		case http.StatusCreated:
		case http.StatusInsufficientStorage:
			full = bytes.Contains(b, []byte("max_media_bytes"))
		default:
			t.Fatalf("upload %d: %d %s", i, code, b)
		}
	}
	if !full {
		t.Fatal("100 uploads accepted past the media bound")
	}
}

// bigPNG is a real PNG of about 3 KB (noise does not compress).
func bigPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7919 % 251)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEpochsSayWhatWasLost: the operators' view of a cabin's epochs: how
// far acknowledged, what is stored, what was lost and why; behind a token.
func TestEpochsSayWhatWasLost(t *testing.T) {
	f := newFixture(t, map[string]Role{"r-token": RoleRead})
	ctx := context.Background()
	b := storetest.Batch("s1", "c1", "e1", 1, 2, 6)
	b.Events = append(b.Events, storetest.LostEvent(7, wire.LostEvicted, wire.Range{3, 5}))
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{b}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if code := f.get(t, "/api/v1/cabins/s1/c1/epochs", nil); code != 401 {
		t.Fatalf("without a token: %d, want 401", code)
	}
	f.token = "r-token"
	var got struct {
		Epochs []struct {
			Epoch      string `json:"epoch"`
			Contiguous uint64 `json:"contiguous"`
			Highest    uint64 `json:"highest"`
			Events     int64  `json:"events"`
			Lost       uint64 `json:"lost"`
			Losses     []struct {
				Reason string       `json:"reason"`
				Count  uint64       `json:"count"`
				Ranges []wire.Range `json:"ranges"`
			} `json:"losses"`
		} `json:"epochs"`
	}
	if code := f.get(t, "/api/v1/cabins/s1/c1/epochs", &got); code != 200 {
		t.Fatalf("GET epochs: %d", code)
	}
	if len(got.Epochs) != 1 {
		t.Fatalf("epochs %+v", got)
	}
	e := got.Epochs[0]
	if e.Epoch != "e1" || e.Contiguous != 7 || e.Highest != 7 || e.Events != 4 || e.Lost != 3 ||
		len(e.Losses) != 1 || e.Losses[0].Reason != "evicted" || e.Losses[0].Count != 3 || e.Losses[0].Ranges[0] != (wire.Range{3, 5}) {
		t.Fatalf("epoch %+v", e)
	}
	if code := f.get(t, "/api/v1/cabins/s1/nobody/epochs", nil); code != 404 {
		t.Fatalf("unknown cabin: %d, want 404", code)
	}
	if code := f.get(t, "/api/v1/cabins/s1/C%20/epochs", nil); code != 400 {
		t.Fatalf("bad cabin id: %d, want 400", code)
	}
}

// TestStaleCabins: a cabin online by its last word but unheard for longer
// than a few presence intervals is shown stale (its will may be lost).
func TestStaleCabins(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.st.UpdateStatus(ctx, "s1", "quiet", true, time.Now().Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateStatus(ctx, "s1", "fresh", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	var cs []store.Cabin
	if code := f.get(t, "/api/v1/cabins", &cs); code != 200 || len(cs) != 2 {
		t.Fatalf("GET cabins: %d %+v", code, cs)
	}
	for _, c := range cs {
		if want := c.Cabin == "quiet"; c.Stale != want || !c.Online {
			t.Errorf("%s: online %v stale %v, want stale %v", c.Cabin, c.Online, c.Stale, want)
		}
	}
	var c store.Cabin
	if f.get(t, "/api/v1/cabins/s1/quiet", &c); !c.Stale {
		t.Errorf("GET one cabin: %+v, want stale", c)
	}
}

// TestMediaQuotaPerSite: a site's uploads together stay within its own
// bound, so one site cannot take what every site shares (issue 20,
// finding 6: 15 uploads of 20 MB were accepted); other sites still upload,
// and the same bytes a site already holds cost it nothing more.
func TestMediaQuotaPerSite(t *testing.T) {
	f := newFixture(t, nil, func(o *Options) { o.MaxSiteMediaBytes = 12 << 10 })
	big := bigPNG(t)
	upload := func(site string, i int) (int, []byte) {
		code, b, _ := f.do(t, "POST", "/api/v1/sites/"+site+"/media", "image/png", append(append([]byte(nil), big...), byte(i)))
		return code, b
	}
	full := -1
	for i := range 20 {
		code, b := upload("greedy", i)
		if code == http.StatusInsufficientStorage {
			if !bytes.Contains(b, []byte("max_site_media_bytes")) {
				t.Fatalf("507 without naming the bound: %s", b)
			}
			full = i
			break
		}
		if code != http.StatusCreated {
			t.Fatalf("upload %d: %d %s", i, code, b)
		}
	}
	if full < 1 {
		t.Fatalf("the site's bound never applied (full at %d)", full)
	}
	if code, b := upload("greedy", 0); code != http.StatusCreated {
		t.Fatalf("the same bytes again: %d %s, want 201 (the site holds them)", code, b)
	}
	if code, b := upload("other", 0); code != http.StatusCreated {
		t.Fatalf("another site: %d %s", code, b)
	}
	if code, b := upload("Bad Site", 0); code != http.StatusBadRequest {
		t.Fatalf("a bad site id: %d %s, want 400", code, b)
	}
}

// TestCabinSituations: the API says each cabin's situation, derived in one
// place from its events, state and presence, with since when.
func TestCabinSituations(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	f := newFixture(t, nil, func(o *Options) { o.Clock = func() time.Time { return now } })
	ctx := context.Background()
	trapped := storetest.Event(1, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Floor: 2, Reason: "stopped between floors"})
	trapped.Time = now.Add(-2 * time.Minute)
	beat := storetest.Event(2, wire.TypeHeartbeat, wire.HeartbeatData{})
	beat.Time = now.Add(-time.Minute)
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "s1", Cabin: "c1", Epoch: "e1", Events: []wire.Event{trapped, beat}}}, now); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateStatus(ctx, "s1", "c1", true, now); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateStatus(ctx, "s1", "c2", false, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	type view struct {
		Cabin      string `json:"cabin"`
		Situations []struct {
			Name     string    `json:"name"`
			Severity string    `json:"severity"`
			Since    time.Time `json:"since"`
		} `json:"situations"`
	}
	var got []view
	if code := f.get(t, "/api/v1/cabins", &got); code != 200 || len(got) != 2 {
		t.Fatalf("GET cabins: %d %+v", code, got)
	}
	c1, c2 := got[0], got[1]
	if len(c1.Situations) != 1 || c1.Situations[0].Name != "entrapment" || c1.Situations[0].Severity != "critical" || !c1.Situations[0].Since.Equal(trapped.Time) {
		t.Errorf("c1 situations %+v, want an entrapment since %s", c1.Situations, trapped.Time)
	}
	if len(c2.Situations) != 1 || c2.Situations[0].Name != "offline" || !c2.Situations[0].Since.Equal(now.Add(-time.Hour)) {
		t.Errorf("c2 situations %+v, want offline for an hour", c2.Situations)
	}
	var one view
	if code := f.get(t, "/api/v1/cabins/s1/c1", &one); code != 200 || len(one.Situations) != 1 {
		t.Fatalf("GET one cabin: %d %+v", code, one)
	}
	// Cleared at the cabin: no situation left.
	cleared := storetest.Event(3, wire.TypeEntrapment, wire.EntrapmentData{Active: false, Floor: 2})
	cleared.Time = now.Add(-30 * time.Second)
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "s1", Cabin: "c1", Epoch: "e1", Events: []wire.Event{cleared}}}, now); err != nil {
		t.Fatal(err)
	}
	if f.get(t, "/api/v1/cabins/s1/c1", &one); len(one.Situations) != 0 {
		t.Fatalf("after the entrapment cleared: %+v", one.Situations)
	}
}

// TestCabinsFilteredAndPaged: the fleet list filters by site, situation
// and attention on the server, puts the cabins needing attention first,
// and pages with a cursor in the Link header; a bad parameter is named.
func TestCabinsFilteredAndPaged(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	f := newFixture(t, nil, func(o *Options) { o.Clock = func() time.Time { return now } })
	ctx := context.Background()
	for i := range 25 {
		site, cabin := fmt.Sprintf("site-%d", i%3), fmt.Sprintf("c%02d", i)
		if err := f.st.UpdateStatus(ctx, site, cabin, true, now); err != nil {
			t.Fatal(err)
		}
		events := []wire.Event{storetest.Event(1, wire.TypeHeartbeat, wire.HeartbeatData{})}
		events[0].Time = now
		if i == 7 || i == 20 {
			e := storetest.Event(2, wire.TypeEntrapment, wire.EntrapmentData{Active: true})
			e.Time = now
			events = append(events, e)
		}
		if _, err := f.st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: site, Cabin: cabin, Epoch: "e", Events: events}}, now); err != nil {
			t.Fatal(err)
		}
	}
	type view struct {
		Site  string `json:"site"`
		Cabin string `json:"cabin"`
	}
	var all []view
	if code := f.get(t, "/api/v1/cabins", &all); code != 200 || len(all) != 25 {
		t.Fatalf("all: %d, %d cabins", code, len(all))
	}
	if all[0].Cabin != "c07" || all[1].Cabin != "c20" { // attention first, then by site
		t.Fatalf("the trapped cabins are not first: %v", all[:3])
	}
	var trapped []view
	if f.get(t, "/api/v1/cabins?situation=entrapment", &trapped); len(trapped) != 2 {
		t.Fatalf("situation=entrapment: %v", trapped)
	}
	var calm []view
	if f.get(t, "/api/v1/cabins?attention=false&site=site-1", &calm); len(calm) != 7 { // 8 there, c07 trapped
		t.Fatalf("attention=false&site=site-1: %d cabins, want 7", len(calm))
	}
	// Pages of 10 by the Link header: every cabin once, in the same order.
	var paged []view
	next := "/api/v1/cabins?limit=10"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		code, b, hdr := f.do(t, "GET", next, "", nil)
		var page []view
		if code != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("GET %s: %d %s", next, code, b)
		}
		paged = append(paged, page...)
		next = ""
		if l := hdr.Get("Link"); l != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
		}
	}
	if len(paged) != 25 || paged[0] != all[0] || paged[24] != all[24] {
		t.Fatalf("paged %d cabins, want the same 25 in the same order", len(paged))
	}
	for _, c := range []struct{ q, param string }{
		{"situation=stuck", "situation"}, {"attention=maybe", "attention"}, {"limit=0", "limit"},
		{"site=Bad%20Site", "site"}, {"cursor=%25%25", "cursor"}, {"sort=site", "sort"},
	} {
		code, b, _ := f.do(t, "GET", "/api/v1/cabins?"+c.q, "", nil)
		var e APIError
		if code != 400 || json.Unmarshal(b, &e) != nil || e.Param != c.param {
			t.Errorf("?%s: %d %s, want 400 naming %s", c.q, code, b, c.param)
		}
	}
}

func FuzzParseCabinQuery(f *testing.F) {
	f.Add("site=les-pins&situation=entrapment&attention=true&limit=10")
	f.Add("cursor=MAB4AGE")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, apiErr := parseCabinQuery(v)
		if apiErr != nil {
			if apiErr.Param == "" || apiErr.Error == "" {
				t.Fatalf("refusal %+v does not name the parameter", apiErr)
			}
			return
		}
		if q.limit < 0 || q.limit > 1000 || (q.site != "" && wire.ValidateID(q.site) != nil) {
			t.Fatalf("accepted %+v", q)
		}
		// Whatever it asks, filtering an empty fleet answers nothing.
		if page, next := filterCabins(nil, q); len(page) != 0 || next != "" {
			t.Fatalf("an empty fleet gave %v, %q", page, next)
		}
	})
}

func TestCabinTimeline(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, map[string]Role{"r-token": RoleRead}, func(o *Options) { o.Clock = func() time.Time { return now } })
	f.token = "r-token"
	ctx := context.Background()
	day := func(d int, h time.Duration) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC).Add(h) }
	if err := f.st.UpdateStatus(ctx, "s1", "c1", true, day(1, 0)); err != nil {
		t.Fatal(err)
	}
	ev := storetest.Event(1, wire.TypeService, wire.ServiceData{InService: false, Reason: "fault"})
	ev.Time = day(2, 8*time.Hour)
	back := storetest.Event(2, wire.TypeService, wire.ServiceData{InService: true})
	back.Time = day(4, 8*time.Hour)
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "s1", Cabin: "c1", Epoch: "e", Events: []wire.Event{ev, back}}}, now); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateState(ctx, wire.State{V: 1, Site: "s1", Cabin: "c1", Time: day(5, 0), Direction: "none", InService: true, Link: "lost"}, day(5, 0)); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateStatus(ctx, "s1", "c1", false, day(9, 0)); err != nil {
		t.Fatal(err)
	}

	// The exact shape the dashboard reads.
	code, body, _ := f.do(t, "GET", "/api/v1/cabins/s1/c1/timeline?since=2026-03-03T00:00:00Z&until=2026-03-06T00:00:00Z", "", nil)
	want := `{"site":"s1","cabin":"c1","since":"2026-03-03T00:00:00Z","until":"2026-03-06T00:00:00Z","timeline":[` +
		`{"name":"presence","value":"online","at":"2026-03-01T00:00:00Z"},` +
		`{"name":"in_service","value":"false","at":"2026-03-02T08:00:00Z"},` +
		`{"name":"in_service","value":"true","at":"2026-03-04T08:00:00Z"},` +
		`{"name":"alarm","value":"false","at":"2026-03-05T00:00:00Z"},` +
		`{"name":"entrapment","value":"false","at":"2026-03-05T00:00:00Z"},` +
		`{"name":"link","value":"lost","at":"2026-03-05T00:00:00Z"}]}` + "\n"
	if code != 200 || string(body) != want {
		t.Fatalf("timeline: %d\n got %s\nwant %s", code, body, want)
	}

	// By default the last 7 days until now: the offline of day 9 and the
	// state when the period began.
	var tl struct {
		Since, Until time.Time
		Timeline     []store.TimelineEntry
	}
	if code := f.get(t, "/api/v1/cabins/s1/c1/timeline", &tl); code != 200 || !tl.Until.Equal(now) || !tl.Since.Equal(now.Add(-7*24*time.Hour)) {
		t.Fatalf("default period: %d, %v to %v; want the 7 days before %v", code, tl.Since, tl.Until, now)
	}
	var names []string
	for _, e := range tl.Timeline {
		names = append(names, e.Name+"="+e.Value)
	}
	if got := strings.Join(names, " "); got != "presence=online in_service=false in_service=true alarm=false entrapment=false link=lost presence=offline" {
		t.Fatalf("default period's timeline: %s", got)
	}

	if code := f.get(t, "/api/v1/cabins/s1/nobody/timeline", nil); code != 404 {
		t.Fatalf("unknown cabin: %d, want 404", code)
	}
	f.token = ""
	if code := f.get(t, "/api/v1/cabins/s1/c1/timeline", nil); code != 401 {
		t.Fatalf("without a token: %d, want 401", code)
	}
}
