package httpapi

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/palier-lifts/palier/internal/browsertest"
)

// TestLoginInChromium logs a manager in through the login page in
// headless Chromium, over the real HTTP server and SQLite store: a wrong
// password is refused on the page, the right one lands on /notices, and
// with ?next= on the page asked for; the session cookie cannot be read by
// the pages; from the report page, a change sent without the CSRF header
// is refused while the same with it passes, another site's notice is
// refused, and the site's audit trail has the login. The pages run under
// their strict CSP with no error.
func TestLoginInChromium(t *testing.T) {
	f, _ := accountsFixture(t, func(o *Options) { o.PublicURL = "http://127.0.0.1" })
	srv := httptest.NewServer(f.api)
	t.Cleanup(srv.Close)
	ctx, errs := browsertest.Start(t)

	browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/login?next=/reports"), chromedp.WaitVisible(chromedp.ID("name")))
	browsertest.Step(t, ctx, chromedp.SendKeys(chromedp.ID("password"), "not the password"), chromedp.SendKeys(chromedp.ID("name"), "marie"),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	if msg := browsertest.WaitFor[string](t, ctx, "the refusal", `document.getElementById("login-error").textContent`); !strings.Contains(msg, "wrong name or password") {
		t.Fatalf("wrong password shows %q", msg)
	}
	browsertest.Step(t, ctx, browsertest.SetField("password", password), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	browsertest.WaitFor[bool](t, ctx, "the page asked for", `location.pathname === "/reports" && !!document.body.dataset.ready`)
	// Logged in, /login sends the manager where managers work.
	browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/login"))
	browsertest.WaitFor[bool](t, ctx, "the landing", `location.pathname === "/notices"`)
	browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/reports"))
	browsertest.WaitFor[string](t, ctx, "the report page", `document.body.dataset.ready`)
	if c := browsertest.Eval[string](t, ctx, `document.cookie`); c != "" {
		t.Fatalf("the page can read the session cookie: %q (want HttpOnly)", c)
	}

	// A change with the session cookie but without the CSRF header is
	// refused; the page's own call, with it, passes.
	notice := `{"id":"lift-works","category":"works","priority":"low","title":{"fr":"Ascenseur"},"body":{"fr":"Lundi"},"valid_from":"2026-03-01T00:00:00Z"}`
	type answer struct {
		Status int
		Body   string
	}
	a := browsertest.EvalAwait[answer](t, ctx, `fetch("/api/v1/sites/les-pins/notices", {method: "POST", headers: {"Content-Type": "application/json"},
		body: `+"`"+notice+"`"+`}).then(async (r) => ({Status: r.status, Body: await r.text()}))`)
	if a.Status != 403 || !strings.Contains(a.Body, CSRFHeader) {
		t.Fatalf("change without the CSRF header: %d %s", a.Status, a.Body)
	}
	a = browsertest.EvalAwait[answer](t, ctx, `api("POST", "/api/v1/sites/les-pins/notices", `+notice+`).then((d) => ({Status: 201, Body: JSON.stringify(d)}), (e) => ({Status: 0, Body: e.message}))`)
	if a.Status != 201 {
		t.Fatalf("change with the CSRF header: %s", a.Body)
	}
	a = browsertest.EvalAwait[answer](t, ctx, `api("DELETE", "/api/v1/sites/other/notices/n1").then(() => ({Status: 200}), (e) => ({Status: 0, Body: e.message}))`)
	if a.Status != 0 || !strings.Contains(a.Body, `may not use site "other"`) {
		t.Fatalf("another site's notice: %+v", a)
	}
	audit := browsertest.EvalAwait[[]string](t, ctx, `api("GET", "/api/v1/sites/les-pins/audit?limit=20").then((p) => p.entries.map((e) => e.actor + " " + e.action))`)
	if !slices.Contains(audit, "account:marie login") {
		t.Fatalf("the site's audit trail does not have the login: %q", audit)
	}
	if e := errs.All(); len(e) > 0 {
		t.Fatalf("the page reported errors: %q", e)
	}
}
