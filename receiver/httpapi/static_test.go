package httpapi

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestStaticFiles: every file the dashboard names under /static/ is served
// with a type a browser runs under nosniff, without a token; nothing else
// is, and the page's CSP allows them and still no inline code but its own.
func TestStaticFiles(t *testing.T) {
	f := newFixture(t, map[string]Role{"read-token-0123456789": RoleRead})
	_, page, hdr := f.do(t, "GET", "/", "", nil)
	csp := hdr.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'sha256-", " 'self'; style-src 'sha256-", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("dashboard CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("dashboard CSP %q allows unsafe code", csp)
	}
	refs := regexp.MustCompile(`"(/static/[^"]+)"`).FindAllSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("the dashboard names %d static files, want uPlot's script and style", len(refs))
	}
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, m := range refs {
		p := string(m[1])
		code, b, h := f.do(t, "GET", p, "", nil)
		want := types[p[strings.LastIndex(p, "."):]]
		if code != http.StatusOK || want == "" || !strings.HasPrefix(h.Get("Content-Type"), want) || len(b) < 1000 {
			t.Errorf("GET %s: %d %q, %d bytes; want 200 %s", p, code, h.Get("Content-Type"), len(b), want)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: headers %v, want nosniff and immutable", p, h)
		}
	}
	if code, b, _ := f.do(t, "GET", "/static/uplot-1.6.32/LICENSE", "", nil); code != 200 || !bytes.Contains(b, []byte("MIT License")) {
		t.Errorf("uPlot's licence: %d %.60s", code, b)
	}
	for _, p := range []string{"/static/", "/static/uplot-1.6.32", "/static/uplot-1.6.32/nothing.js", "/static/x.html", "/static/uplot-1.6.32/../README.md/"} {
		if code, b, _ := f.do(t, "GET", p, "", nil); code != http.StatusNotFound {
			t.Errorf("GET %s: %d %.80s, want 404", p, code, b)
		}
	}
}
