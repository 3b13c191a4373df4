package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/palier-lifts/palier/internal/browsertest"
)

// TestLoginInChromium logs a manager in through the login page in
// headless Chromium, over the real HTTP server and SQLite store: the page
// shows only the manager's site's cabins and notices, a change sent
// without the CSRF header is refused while the same with it passes, and
// the site's audit trail shows the login. The page runs under its strict
// CSP with no error.
func TestLoginInChromium(t *testing.T) {
	f, _ := accountsFixture(t, func(o *Options) { o.PublicURL = "http://127.0.0.1" })
	srv := httptest.NewServer(f.api)
	t.Cleanup(srv.Close)
	ctx, errs := browsertest.Start(t)

	browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("name")))
	browsertest.Step(t, ctx, chromedp.SendKeys(chromedp.ID("password"), "not the password"), chromedp.SendKeys(chromedp.ID("name"), "marie"),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	if msg := browsertest.WaitFor[string](t, ctx, "the refusal", `document.getElementById("login-error").textContent`); !strings.Contains(msg, "wrong name or password") {
		t.Fatalf("wrong password shows %q", msg)
	}
	browsertest.Step(t, ctx, browsertest.SetField("password", password), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	browsertest.WaitFor[string](t, ctx, "the manager's view", `document.body.dataset.ready`)

	type view struct {
		Who, Sites      string
		Cabins, Notices []string
		Audit           []string
		Cookie          string
	}
	v := browsertest.Eval[view](t, ctx, `(() => {
		const rows = (id) => [...document.querySelectorAll("#" + id + " tr")].map((tr) => [...tr.cells].map((c) => c.textContent).join(" "));
		return { Who: document.getElementById("who").textContent, Sites: document.getElementById("sites").textContent,
			Cabins: rows("cabins"), Notices: rows("notices"), Audit: rows("audit"), Cookie: document.cookie };
	})()`)
	if v.Who != "marie" || v.Sites != "les-pins" {
		t.Fatalf("logged in as %q of %q", v.Who, v.Sites)
	}
	if len(v.Cabins) != 1 || !strings.HasPrefix(v.Cabins[0], "les-pins a ") {
		t.Fatalf("cabins shown: %q, want les-pins/a only", v.Cabins)
	}
	if len(v.Notices) != 1 || !strings.Contains(v.Notices[0], "Travaux les-pins") {
		t.Fatalf("notices shown: %q, want les-pins's only", v.Notices)
	}
	if v.Cookie != "" {
		t.Fatalf("the page can read the session cookie: %q (want HttpOnly)", v.Cookie)
	}
	var login bool
	for _, a := range v.Audit {
		if strings.Contains(a, "account:marie login") {
			login = true
		}
	}
	if !login {
		t.Fatalf("the audit shown does not have the login: %q", v.Audit)
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
	if e := errs.All(); len(e) > 0 {
		t.Fatalf("the page reported errors: %q", e)
	}
}
