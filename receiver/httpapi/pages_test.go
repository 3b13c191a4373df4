package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/receiver/store"
)

func TestSafeNext(t *testing.T) {
	for _, ok := range []string{"/", "/reports", "/reports?site=les-pins&month=2026-11", "/notices#n1", "/a/b/../c"} {
		if got := safeNext(ok); got != ok {
			t.Errorf("safeNext(%q) = %q, want it kept", ok, got)
		}
	}
	for _, bad := range []string{
		"", "reports", "//evil.example", "//evil.example/reports", "///evil.example", "/\\evil.example", "\\\\evil.example",
		"https://evil.example/", "http:/evil.example", "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example",
		"/%0a", "/login", "/login?next=/", "/login/x", " /reports", "/" + strings.Repeat("a", 600),
	} {
		if bad == "/%0a" { // escaped, it is a path of this receiver
			if safeNext(bad) != bad {
				t.Errorf("safeNext(%q) refused an escaped newline, which stays in the path", bad)
			}
			continue
		}
		if got := safeNext(bad); got != "" {
			t.Errorf("safeNext(%q) = %q, want refused", bad, got)
		}
	}
}

// pageGet asks for a page the way a browser navigates, without following
// redirects, and returns the status, the Location and the body.
func pageGet(t *testing.T, f *fixture, path string, cookie *http.Cookie) (int, string, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b), resp.Header
}

// TestLoginLandsWhereRolesWork: a manager logged in is sent from /login to
// /notices, an operator and an admin to /, and ?next= to a path of this
// receiver only; every way out to another host is refused for the
// landing page.
func TestLoginLandsWhereRolesWork(t *testing.T) {
	f, clock := accountsFixture(t)
	code, _, body, hdr := pageGet(t, f, "/login", nil)
	if code != 200 || !strings.Contains(body, `id="login"`) || !strings.Contains(hdr.Get("Content-Security-Policy"), "script-src 'sha256-") {
		t.Fatalf("login page without a session: %d, CSP %q", code, hdr.Get("Content-Security-Policy"))
	}
	for _, acc := range []struct{ name, role string }{{"olivier", "operator"}, {"ada", "admin"}} {
		h, _ := HashPassword(password, cheapArgon2)
		if err := f.st.(store.Accounts).CreateAccount(context.Background(), store.Account{Name: acc.name, Role: acc.role, PasswordHash: h, Created: clock.now()}); err != nil {
			t.Fatal(err)
		}
	}
	marie, _ := login(t, f, "marie", password)
	olivier, _ := login(t, f, "olivier", password)
	ada, _ := login(t, f, "ada", password)
	for _, tc := range []struct {
		who    string
		cookie *http.Cookie
		path   string
		want   string
	}{
		{"manager", marie, "/login", "/notices"},
		{"operator", olivier, "/login", "/"},
		{"admin", ada, "/login", "/"},
		{"manager", marie, "/login?next=/reports%3Fsite%3Dles-pins", "/reports?site=les-pins"},
		{"operator", olivier, "/login?next=/", "/"},
		{"manager", marie, "/login?next=//evil.example/", "/notices"},
		{"manager", marie, "/login?next=/%5Cevil.example", "/notices"},
		{"manager", marie, "/login?next=https://evil.example/", "/notices"},
		{"manager", marie, "/login?next=/%09/evil.example", "/notices"},
		{"manager", marie, "/login?next=javascript:alert(1)", "/notices"},
		{"manager", marie, "/login?next=/login", "/notices"},
		{"operator", olivier, "/login?next=%2F%2Fevil.example", "/"},
	} {
		code, loc, _, _ := pageGet(t, f, tc.path, tc.cookie)
		if code != http.StatusSeeOther || loc != tc.want {
			t.Errorf("%s at %s: %d to %q, want 303 to %q", tc.who, tc.path, code, loc, tc.want)
		}
	}
	// An ended session is a login page again, its cookie cleared.
	if code, _, _ := f.doWith(t, "POST", "/api/v1/logout", "", nil, withSession(marie, csrfToken(marie.Value))); code != 204 {
		t.Fatalf("log out: %d", code)
	}
	code, loc, _, hdr := pageGet(t, f, "/login", marie)
	if code != 200 || loc != "" || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("login page with an ended session: %d to %q, Set-Cookie %q", code, loc, hdr.Get("Set-Cookie"))
	}
}

// TestReportsPageNeedsALogin: /reports sends a browser without a valid
// session to /login with itself as next; with one it is the page, under a
// CSP that allows only its own script and style.
func TestReportsPageNeedsALogin(t *testing.T) {
	f, _ := accountsFixture(t)
	for _, c := range []*http.Cookie{nil, {Name: cookiePlain, Value: "not-a-session"}} {
		code, loc, _, _ := pageGet(t, f, "/reports?site=les-pins&month=2026-11", c)
		if code != http.StatusSeeOther || loc != "/login?next=%2Freports%3Fsite%3Dles-pins%26month%3D2026-11" {
			t.Errorf("reports page, cookie %v: %d to %q, want 303 to the login with next", c, code, loc)
		}
		if got := safeNext("/reports?site=les-pins&month=2026-11"); got == "" {
			t.Error("the login would not send the manager back to the reports page")
		}
	}
	marie, _ := login(t, f, "marie", password)
	code, _, body, hdr := pageGet(t, f, "/reports", marie)
	csp := hdr.Get("Content-Security-Policy")
	if code != 200 || !strings.Contains(body, `id="summary"`) || !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe") ||
		hdr.Get("X-Frame-Options") != "DENY" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("reports page with a session: %d, CSP %q, headers %v", code, csp, hdr)
	}
	// Open (no tokens, no accounts, loopback): the page needs no login.
	open := newFixture(t, nil)
	if code, _, _, _ := pageGet(t, open, "/reports", nil); code != 200 {
		t.Fatalf("reports page of an open receiver: %d", code)
	}
}

// FuzzSafeNext: whatever ?next= holds, what safeNext lets through stays on
// this receiver once a browser resolves it against the login's address.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/reports?site=a&month=2026-11", "//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "/%2F%2Fevil.example"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://receiver.example/login?next=x")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got == "" {
			return
		}
		if got != next {
			t.Fatalf("safeNext(%q) = %q: it keeps or refuses, never rewrites", next, got)
		}
		// A browser drops tabs and newlines and reads a backslash as a
		// slash before it resolves: do the same.
		cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := url.Parse(cleaned)
		if err != nil {
			t.Fatalf("safeNext let %q through but it does not parse: %v", next, err)
		}
		if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("safeNext let %q through; it leads to %s", next, r)
		}
	})
}
