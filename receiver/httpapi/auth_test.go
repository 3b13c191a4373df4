package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type updates struct{}

func (updates) PublishUpdate(context.Context, wire.Update) error { return nil }

// cheapArgon2 keeps the tests' hashes fast; the real parameters are
// measured by BenchmarkArgon2 and checked by TestDefaultArgon2.
var cheapArgon2 = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

const (
	adminToken   = "admin-token-0123456789abcdef"
	managerToken = "manager-token-0123456789abcdef"
	readToken    = "read-token-les-pins-0123456789"
	password     = "correct horse battery"
)

// accountsFixture is a receiver API with accounts on, tokens for an admin,
// a manager of les-pins and a reader of les-pins, an account "marie"
// managing les-pins, and cabins and notices on les-pins and other.
func accountsFixture(t *testing.T, tune ...func(*Options)) (*fixture, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)}
	f := newFixture(t, nil, func(o *Options) {
		o.Accounts = true
		o.Clock = clock.now
		o.Passwords = cheapArgon2
		o.Grants = map[string]Token{
			adminToken:   {Name: "ops", Role: RoleAdmin},
			managerToken: {Name: "syndic-pins", Role: RoleManager, Sites: []string{"les-pins"}},
			readToken:    {Name: "screen-pins", Role: RoleRead, Sites: []string{"les-pins"}},
		}
		o.Rollout = rollout.New(o.Store.(rollout.Store), updates{}, slog.New(slog.DiscardHandler))
		for _, fn := range tune {
			fn(o)
		}
	})
	ctx := context.Background()
	for _, site := range []string{"les-pins", "other"} {
		if _, err := f.st.InsertBatches(ctx, []wire.Batch{storetest.Batch(site, "a", "e1", 1, 2)}, clock.now()); err != nil {
			t.Fatal(err)
		}
		if err := f.st.UpdateStatus(ctx, site, "a", true, clock.now()); err != nil {
			t.Fatal(err)
		}
	}
	f.token = adminToken
	for _, site := range []string{"les-pins", "other"} {
		n := `{"id":"n1","category":"works","priority":"low","title":{"fr":"Travaux ` + site + `"},"body":{"fr":"Hall"},"valid_from":"2026-03-01T00:00:00Z"}`
		if code, b, _ := f.do(t, "POST", "/api/v1/sites/"+site+"/notices", "application/json", []byte(n)); code != 201 {
			t.Fatalf("seed notice of %s: %d %s", site, code, b)
		}
	}
	h, err := HashPassword(password, cheapArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.(store.Accounts).CreateAccount(ctx, store.Account{Name: "marie", Role: "manager", Sites: []string{"les-pins"}, PasswordHash: h, Created: clock.now()}); err != nil {
		t.Fatal(err)
	}
	f.token = ""
	return f, clock
}

// login logs in and returns the session cookie and CSRF token.
func login(t *testing.T, f *fixture, name, pw string) (*http.Cookie, string) {
	t.Helper()
	body, _ := json.Marshal(LoginRequest{Name: name, Password: pw})
	code, b, hdr := f.do(t, "POST", "/api/v1/login", "application/json", body)
	if code != 200 {
		t.Fatalf("login as %s: %d %s", name, code, b)
	}
	var v SessionView
	if err := json.Unmarshal(b, &v); err != nil || v.CSRF == "" {
		t.Fatalf("login answer %s: %v", b, err)
	}
	cookies, err := http.ParseSetCookie(hdr.Get("Set-Cookie"))
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", hdr.Get("Set-Cookie"), err)
	}
	return cookies, v.CSRF
}

func withSession(c *http.Cookie, csrf string) func(*http.Request) {
	return func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		if csrf != "" {
			r.Header.Set(CSRFHeader, csrf)
		}
	}
}

func apiError(t *testing.T, b []byte) APIError {
	t.Helper()
	var e APIError
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Fatalf("not an APIError with a message: %s", b)
	}
	return e
}

// publicRoutes are the routes served without credentials, each for a
// reason: probes, content-addressed media the agents download, the pages
// and their static files, the login itself and the 404 of the rest.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /media/{sha256}": true, "GET /static/{path...}": true, "GET /{$}": true, "/": true,
	"GET /login": true, "POST /api/v1/login": true,
	"GET /notices":        true,
	"GET /reports":        true, // the page; it sends a browser without a session to /login, its data is guarded
	"GET /preview/{file}": true,
}

var pathParam = regexp.MustCompile(`\{[a-z0-9]+(\.\.\.)?\}`)

// routePath fills a route's pattern with site and plausible values.
func routePath(pattern, site string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return "GET", pattern
	}
	path = strings.ReplaceAll(path, "{site}", site)
	path = strings.ReplaceAll(path, "{$}", "")
	path = pathParam.ReplaceAllStringFunc(path, func(p string) string {
		switch p {
		case "{cabin}":
			return "a"
		case "{name}":
			return "marie"
		case "{id}":
			return "1"
		}
		return "x"
	})
	return method, path
}

// TestEveryRouteScopedToSites goes through every route the API serves, as
// a manager of les-pins (by token and by login session) and as a reader of
// les-pins: another site's route is refused with 403 naming the site, a
// route spanning every site is refused unless it filters, and one's own
// site is not refused for what the role allows. A route added without
// going through the guard fails here.
func TestEveryRouteScopedToSites(t *testing.T) {
	f, _ := accountsFixture(t)
	cookie, csrf := login(t, f, "marie", password)
	callers := []struct {
		name string
		role Role
		auth func(*http.Request)
	}{
		{"manager token", RoleManager, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+managerToken) }},
		{"manager session", RoleManager, func(r *http.Request) { withSession(cookie, csrf)(r) }},
		{"read token", RoleRead, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+readToken) }},
	}
	routes := f.api.mux.routes
	if len(routes) < 30 {
		t.Fatalf("only %d routes recorded", len(routes))
	}
	for _, rt := range routes {
		if rt.need == 0 {
			if !publicRoutes[rt.Pattern] {
				t.Errorf("route %q is served without the guard: register it with a.guard (or a.auth), or list it in publicRoutes with a reason", rt.Pattern)
			}
			continue
		}
		for _, c := range callers {
			t.Run(c.name+" "+rt.Pattern, func(t *testing.T) {
				method, path := routePath(rt.Pattern, "other")
				code, b, _ := f.doWith(t, method, path, "application/json", []byte(`{}`), c.auth)
				if rt.Pattern == "POST /api/v1/logout" && code == 204 {
					cookie, csrf = login(t, f, "marie", password) // for the routes after
				}
				switch {
				case strings.Contains(rt.Pattern, "{site}"):
					if code != 403 || apiError(t, b).Param != "site" && c.role.allows(rt.need) {
						t.Fatalf("%s %s: %d %s, want 403 on site", method, path, code, b)
					}
				case filtersBySite(rt.Pattern):
					if code != 200 || bytes.Contains(b, []byte(`"other"`)) {
						t.Fatalf("%s %s: %d %s, want 200 without site other", method, path, code, b)
					}
				case rt.need == permSelf:
					if code == 403 || code == 401 {
						t.Fatalf("%s %s: %d %s, want it allowed", method, path, code, b)
					}
				default:
					if code != 403 {
						t.Fatalf("%s %s (every site): %d %s, want 403", method, path, code, b)
					}
				}
				if !strings.Contains(rt.Pattern, "{site}") || !c.role.allows(rt.need) {
					return
				}
				// One's own site: whatever the answer, not a refusal.
				method, path = routePath(rt.Pattern, "les-pins")
				if code, b, _ := f.doWith(t, method, path, "application/json", []byte(`{}`), c.auth); code == 403 || code == 401 {
					t.Fatalf("%s %s (own site): %d %s", method, path, code, b)
				}
			})
		}
	}
}

func TestRolesAllow(t *testing.T) {
	f, _ := accountsFixture(t)
	n := []byte(`{"id":"n2","category":"works","priority":"low","title":{"fr":"T"},"body":{"fr":"B"},"valid_from":"2026-03-01T00:00:00Z"}`)
	for _, tc := range []struct {
		token, method, path string
		body                []byte
		code                int
	}{
		{managerToken, "POST", "/api/v1/sites/les-pins/notices", n, 201},
		{managerToken, "GET", "/api/v1/sites/les-pins/report", nil, 200},
		{managerToken, "GET", "/api/v1/cabins/les-pins/a", nil, 200},
		{managerToken, "GET", "/api/v1/sites/les-pins/audit", nil, 200},
		{managerToken, "POST", "/api/v1/cabins/les-pins/a/acknowledgements", []byte(`{"by":"x"}`), 403},
		{managerToken, "PUT", "/api/v1/sites/les-pins/config", []byte(`{}`), 403},
		{readToken, "POST", "/api/v1/sites/les-pins/notices", n, 403},
		{readToken, "GET", "/api/v1/sites/les-pins/audit", nil, 403},
		{adminToken, "GET", "/api/v1/audit", nil, 200},
		{managerToken, "GET", "/api/v1/audit", nil, 403},
		{adminToken, "GET", "/api/v1/sites/other/audit", nil, 200},
	} {
		f.token = tc.token
		code, b, _ := f.do(t, tc.method, tc.path, "application/json", tc.body)
		if code != tc.code {
			t.Errorf("%s %s with %s: %d %s, want %d", tc.method, tc.path, tc.token, code, b, tc.code)
		}
		if code == 403 && !strings.Contains(apiError(t, b).Error, "needs") {
			t.Errorf("%s %s: refusal %s does not say what is needed", tc.method, tc.path, b)
		}
	}
}

func TestLoginSessionAndCSRF(t *testing.T) {
	f, clock := accountsFixture(t)
	code, b, _ := f.do(t, "POST", "/api/v1/login", "application/json", []byte(`{"name":"marie","password":"wrong password!"}`))
	if code != 401 || apiError(t, b).Param != "password" {
		t.Fatalf("wrong password: %d %s", code, b)
	}
	for _, tc := range []struct{ body, param string }{
		{`{"name":"marie"}`, "password"},
		{`{"password":"x"}`, "name"},
		{`{"name":"marie","password":"x","remember":true}`, "remember"},
		{`{"name":5}`, "name"},
	} {
		if code, b, _ := f.do(t, "POST", "/api/v1/login", "application/json", []byte(tc.body)); code != 400 || apiError(t, b).Param != tc.param {
			t.Errorf("login %s: %d %s, want 400 on %s", tc.body, code, b, tc.param)
		}
	}
	cookie, csrf := login(t, f, "marie", password)
	// public_url is https: the cookie is Secure, host-only, HttpOnly, strict.
	if cookie.Name != "__Host-palier_session" || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.MaxAge != 12*3600 || len(cookie.Value) < 40 {
		t.Fatalf("session cookie %+v", cookie)
	}
	var me SessionView
	code, b, _ = f.doWith(t, "GET", "/api/v1/session", "", nil, withSession(cookie, ""))
	if code != 200 || json.Unmarshal(b, &me) != nil || me.Name != "marie" || me.Role != "manager" || me.CSRF != csrf || len(me.Sites) != 1 {
		t.Fatalf("session: %d %s", code, b)
	}
	n := []byte(`{"id":"n2","category":"works","priority":"low","title":{"fr":"T"},"body":{"fr":"B"},"valid_from":"2026-03-01T00:00:00Z"}`)
	code, b, _ = f.doWith(t, "POST", "/api/v1/sites/les-pins/notices", "application/json", n, withSession(cookie, ""))
	if code != 403 || apiError(t, b).Param != CSRFHeader {
		t.Fatalf("change without CSRF: %d %s", code, b)
	}
	code, b, _ = f.doWith(t, "POST", "/api/v1/sites/les-pins/notices", "application/json", n, withSession(cookie, csrf[1:]+"x"))
	if code != 403 || apiError(t, b).Param != CSRFHeader {
		t.Fatalf("change with a wrong CSRF token: %d %s", code, b)
	}
	if code, b, _ = f.doWith(t, "POST", "/api/v1/sites/les-pins/notices", "application/json", n, withSession(cookie, csrf)); code != 201 {
		t.Fatalf("change with CSRF: %d %s", code, b)
	}
	// A token needs no CSRF header.
	f.token = managerToken
	if code, b, _ := f.do(t, "DELETE", "/api/v1/sites/les-pins/notices/n2", "", nil); code != 200 {
		t.Fatalf("token change: %d %s", code, b)
	}
	f.token = ""

	// Idle expiry: used within the idle limit it lives; left alone past it, it ends.
	clock.add(29 * time.Minute)
	if code, _, _ := f.doWith(t, "GET", "/api/v1/session", "", nil, withSession(cookie, "")); code != 200 {
		t.Fatalf("after 29 min: %d", code)
	}
	clock.add(31 * time.Minute)
	code, b, hdr := f.doWith(t, "GET", "/api/v1/session", "", nil, withSession(cookie, ""))
	if code != 401 || !strings.Contains(apiError(t, b).Error, "idle") || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("after 31 idle min: %d %s %q", code, b, hdr.Get("Set-Cookie"))
	}
	// Absolute expiry: used every 20 minutes, it still ends after 12 h.
	cookie, _ = login(t, f, "marie", password)
	for i := 0; i < 12*3; i++ {
		clock.add(20 * time.Minute)
		code, b, _ := f.doWith(t, "GET", "/api/v1/session", "", nil, withSession(cookie, ""))
		if i < 35 && code != 200 {
			t.Fatalf("at %d min: %d %s", (i+1)*20, code, b)
		}
		if i == 35 && (code != 401 || !strings.Contains(apiError(t, b).Error, "older than")) {
			t.Fatalf("after 12 h: %d %s", code, b)
		}
	}
	// Logout ends the session.
	cookie, csrf = login(t, f, "marie", password)
	if code, b, _ := f.doWith(t, "POST", "/api/v1/logout", "", nil, withSession(cookie, csrf)); code != 204 {
		t.Fatalf("logout: %d %s", code, b)
	}
	if code, _, _ := f.doWith(t, "GET", "/api/v1/session", "", nil, withSession(cookie, "")); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
	// A new password ends the sessions.
	cookie, _ = login(t, f, "marie", password)
	f.token = adminToken
	if code, b, _ := f.do(t, "PUT", "/api/v1/accounts/marie", "application/json", []byte(`{"role":"manager","sites":["les-pins"],"password":"another long password"}`)); code != 200 {
		t.Fatalf("new password: %d %s", code, b)
	}
	f.token = ""
	if code, _, _ := f.doWith(t, "GET", "/api/v1/session", "", nil, withSession(cookie, "")); code != 401 {
		t.Fatalf("after a new password: %d", code)
	}
	login(t, f, "marie", "another long password")
}

func TestPlainCookieOverHTTP(t *testing.T) {
	f, _ := accountsFixture(t, func(o *Options) { o.PublicURL = "http://127.0.0.1:8080" })
	cookie, _ := login(t, f, "marie", password)
	if cookie.Name != "palier_session" || cookie.Secure {
		t.Fatalf("cookie over plain HTTP: %+v", cookie)
	}
}

func TestLoginThrottle(t *testing.T) {
	f, clock := accountsFixture(t)
	lim := DefaultLoginLimits
	wrong := []byte(`{"name":"marie","password":"not the password"}`)
	for i := 0; i < lim.PerAccount; i++ {
		if code, b, _ := f.do(t, "POST", "/api/v1/login", "application/json", wrong); code != 401 {
			t.Fatalf("failure %d: %d %s", i+1, code, b)
		}
		clock.add(time.Minute)
	}
	right, _ := json.Marshal(LoginRequest{Name: "marie", Password: password})
	code, b, hdr := f.do(t, "POST", "/api/v1/login", "application/json", right)
	// The first failure was 5 min ago: it leaves the window in 10 min.
	if code != 429 || hdr.Get("Retry-After") != strconv.Itoa(int((lim.Window-5*time.Minute)/time.Second)) || !strings.Contains(apiError(t, b).Error, "try again in") {
		t.Fatalf("after %d failures: %d %s, Retry-After %q", lim.PerAccount, code, b, hdr.Get("Retry-After"))
	}
	clock.add(lim.Window - 5*time.Minute)
	login(t, f, "marie", password)

	// Per address: names that do not exist count too.
	clock.add(lim.Window)
	for i := 0; i < lim.PerAddress; i++ {
		body := []byte(`{"name":"guess` + strconv.Itoa(i) + `","password":"x"}`)
		if code, b, _ := f.do(t, "POST", "/api/v1/login", "application/json", body); code != 401 {
			t.Fatalf("guess %d: %d %s", i, code, b)
		}
	}
	if code, _, hdr := f.do(t, "POST", "/api/v1/login", "application/json", right); code != 429 || hdr.Get("Retry-After") != strconv.Itoa(int(lim.Window/time.Second)) {
		t.Fatalf("after %d failures from one address: %d, Retry-After %q", lim.PerAddress, code, hdr.Get("Retry-After"))
	}
}

func TestAccountsAPI(t *testing.T) {
	f, _ := accountsFixture(t)
	f.token = adminToken
	for _, tc := range []struct {
		body  string
		code  int
		param string
	}{
		{`{"name":"Paul","role":"read","password":"long enough password"}`, 400, "name"},
		{`{"name":"paul","role":"boss","password":"long enough password"}`, 400, "role"},
		{`{"name":"paul","role":"manager","password":"long enough password"}`, 400, "sites"},
		{`{"name":"paul","role":"admin","sites":["a"],"password":"long enough password"}`, 400, "sites"},
		{`{"name":"paul","role":"manager","sites":["a","Bad"],"password":"long enough password"}`, 400, "sites[1]"},
		{`{"name":"paul","role":"manager","sites":["a","a"],"password":"long enough password"}`, 400, "sites[1]"},
		{`{"name":"paul","role":"read","password":"short"}`, 400, "password"},
		{`{"name":"paul","role":"read","password":"long enough password","age":3}`, 400, "age"},
		{`{"name":"marie","role":"read","password":"long enough password"}`, 409, "name"},
		{`{"name":"paul","role":"manager","sites":["other"],"password":"long enough password"}`, 201, ""},
	} {
		code, b, _ := f.do(t, "POST", "/api/v1/accounts", "application/json", []byte(tc.body))
		if code != tc.code || code >= 400 && apiError(t, b).Param != tc.param {
			t.Errorf("create %s: %d %s, want %d on %q", tc.body, code, b, tc.code, tc.param)
		}
		if code == 201 && bytes.Contains(b, []byte("argon2")) {
			t.Fatalf("the hash is shown: %s", b)
		}
	}
	var list struct{ Accounts []store.Account }
	if f.get(t, "/api/v1/accounts", &list) != 200 || len(list.Accounts) != 2 || list.Accounts[1].Name != "paul" {
		t.Fatalf("accounts %+v", list)
	}
	login(t, f, "paul", "long enough password")
	if code, b, _ := f.do(t, "PUT", "/api/v1/accounts/paul", "application/json", []byte(`{"name":"pierre","role":"read"}`)); code != 400 || apiError(t, b).Param != "name" {
		t.Fatalf("rename: %d %s", code, b)
	}
	if code, b, _ := f.do(t, "PUT", "/api/v1/accounts/nobody", "application/json", []byte(`{"role":"read"}`)); code != 404 {
		t.Fatalf("update of nobody: %d %s", code, b)
	}
	if code, b, _ := f.do(t, "DELETE", "/api/v1/accounts/paul", "", nil); code != 204 {
		t.Fatalf("remove: %d %s", code, b)
	}
	if code, _, _ := f.do(t, "POST", "/api/v1/login", "application/json", []byte(`{"name":"paul","password":"long enough password"}`)); code != 401 {
		t.Fatalf("login of a removed account: %d", code)
	}
	var page AuditPage
	if f.get(t, "/api/v1/sites/other/audit", &page) != 200 {
		t.Fatal("audit of other")
	}
	var actions []string
	for _, e := range page.Entries {
		actions = append(actions, e.Actor+" "+e.Action+" "+e.Target)
	}
	want := []string{"token:ops account.remove paul", "account:paul login ", "token:ops account.create paul", "token:ops notice.create n1"}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Fatalf("audit of other:\n%s\nwant\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
}

func TestAuditTrail(t *testing.T) {
	f, clock := accountsFixture(t)
	ctx := context.Background()
	cookie, csrf := login(t, f, "marie", password)
	n := `{"id":"water","category":"water","priority":"urgent","title":{"fr":"Eau"},"body":{"fr":"Mardi"},"valid_from":"2026-03-01T00:00:00Z"}`
	for _, step := range []struct{ method, path, body string }{
		{"POST", "/api/v1/sites/les-pins/notices", n},
		{"PUT", "/api/v1/sites/les-pins/notices/water", strings.Replace(n, "urgent", "normal", 1)},
		{"DELETE", "/api/v1/sites/les-pins/notices/water", ""},
	} {
		if code, b, _ := f.doWith(t, step.method, step.path, "application/json", []byte(step.body), withSession(cookie, csrf)); code >= 300 {
			t.Fatalf("%s %s: %d %s", step.method, step.path, code, b)
		}
	}
	// An alarm, acknowledged and closed by an admin.
	alarm := storetest.Event(3, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 2})
	alarm.Time = clock.now()
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "les-pins", Cabin: "a", Epoch: "e1", Events: []wire.Event{alarm}}}, clock.now()); err != nil {
		t.Fatal(err)
	}
	f.token = adminToken
	if code, b, _ := f.do(t, "POST", "/api/v1/cabins/les-pins/a/acknowledgements", "application/json", []byte(`{"by":"Jo","message":"on our way"}`)); code != 201 {
		t.Fatalf("acknowledge: %d %s", code, b)
	}
	alarms, err := f.st.Alarms(ctx, "les-pins", "a", true, 10)
	if err != nil || len(alarms) != 1 {
		t.Fatalf("alarms %+v %v", alarms, err)
	}
	if code, b, _ := f.do(t, "POST", "/api/v1/cabins/les-pins/a/alarms/"+alarms[0].ID()+"/close", "application/json", []byte(`{"by":"Jo","reason":"freed"}`)); code != 200 {
		t.Fatalf("close: %d %s", code, b)
	}
	if code, b, _ := f.do(t, "PUT", "/api/v1/sites/les-pins/config", "application/json", []byte(`{"version":0,"by":"Jo","config":{"log_level":"debug"}}`)); code != 200 {
		t.Fatalf("config change: %d %s", code, b)
	}
	f.token = managerToken
	var page AuditPage
	if code := f.get(t, "/api/v1/sites/les-pins/audit?limit=3", &page); code != 200 || len(page.Entries) != 3 || page.Next == "" {
		t.Fatalf("first page: %d %+v", code, page)
	}
	var all []store.AuditEntry
	all = append(all, page.Entries...)
	for page.Next != "" {
		next := page.Next
		page = AuditPage{}
		if code := f.get(t, "/api/v1/sites/les-pins/audit?limit=3&before="+next, &page); code != 200 {
			t.Fatalf("page before %s: %d", next, code)
		}
		all = append(all, page.Entries...)
	}
	var got []string
	for _, e := range all {
		if e.Site != "les-pins" || e.Time.IsZero() {
			t.Fatalf("entry %+v", e)
		}
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
	}
	slicesReverse(got)
	want := []string{"token:ops notice.create n1", "account:marie login ", "account:marie notice.create water", "account:marie notice.edit water",
		"account:marie notice.withdraw water", "token:ops alarm.acknowledge a"}
	if len(got) != len(want)+2 || strings.Join(got[:len(want)], "|") != strings.Join(want, "|") || !strings.HasPrefix(got[len(want)], "token:ops alarm.close a/") ||
		got[len(want)+1] != "token:ops config.set (site)" {
		t.Fatalf("audit of les-pins:\n%s", strings.Join(got, "\n"))
	}
	for _, tc := range []struct{ q, param string }{{"?limit=0", "limit"}, {"?before=x", "before"}, {"?site=other", "site"}, {"?limit=1&limit=2", "limit"}} {
		code, b, _ := f.do(t, "GET", "/api/v1/sites/les-pins/audit"+tc.q, "", nil)
		if code != 400 || apiError(t, b).Param != tc.param {
			t.Errorf("audit%s: %d %s, want 400 on %s", tc.q, code, b, tc.param)
		}
	}
	f.token = adminToken
	page = AuditPage{}
	if code := f.get(t, "/api/v1/audit?site=other", &page); code != 200 || len(page.Entries) != 1 || page.Entries[0].Target != "n1" {
		t.Fatalf("admin's audit of other: %d %+v", code, page)
	}
}

func slicesReverse(s []string) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func TestPasswordHashes(t *testing.T) {
	h, err := HashPassword(password, cheapArgon2)
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q, %v", h, err)
	}
	h2, _ := HashPassword(password, cheapArgon2)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, err := VerifyPassword(password, h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := VerifyPassword(password+"x", h); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if _, err := VerifyPassword(password, bad); err == nil {
			t.Errorf("hash %q was read", bad)
		}
	}
	for _, tc := range []struct {
		pw   string
		want string
	}{{"short", "at least 12"}, {strings.Repeat("x", 300), "at most 256"}, {"\xff\xfe long enough!!", "UTF-8"}} {
		if err := CheckPassword(tc.pw); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("password %q: %v, want %q", tc.pw, err, tc.want)
		}
	}
}

// TestDefaultArgon2 hashes once with the shipped parameters.
func TestDefaultArgon2(t *testing.T) {
	h, err := HashPassword(password, DefaultArgon2)
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q, %v", h, err)
	}
	if ok, err := VerifyPassword(password, h); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
}

// BenchmarkArgon2 measures one login's hash with the shipped parameters,
// beside OWASP's smallest recommended ones for comparison
// (docs/BENCHMARKS.md, "Password hashing").
func BenchmarkArgon2(b *testing.B) {
	for _, c := range []struct {
		name string
		p    Argon2Params
	}{{"default-m64MiB-t3-p2", DefaultArgon2}, {"owasp-m19MiB-t2-p1", Argon2Params{MemoryKiB: 19 << 10, Time: 2, Threads: 1}}} {
		b.Run(c.name, func(b *testing.B) {
			h, err := HashPassword(password, c.p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ok, _ := VerifyPassword(password, h); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{`{"name":"marie","password":"x"}`, `{}`, `{"name":5}`, `[]`, `{"name":"a","password":"b"} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, e := DecodeLogin(b)
		if e == nil && (l.Name == "" || l.Password == "") {
			t.Fatalf("accepted %q as %+v", b, l)
		}
		if e != nil && e.Error == "" {
			t.Fatalf("an error without a message for %q", b)
		}
	})
}

func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Fuzz(func(t *testing.T, h string) {
		p, salt, key, err := ParseHash(h)
		if err != nil {
			return
		}
		if p.MemoryKiB > 1<<20 || p.Time > 16 || p.Threads > 16 || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("accepted %q as %+v", h, p)
		}
	})
}
