package httpapi

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestNoticesPageServed: GET /notices needs no token (the page asks for
// the session itself), carries the receiver's limits instead of its
// placeholders, runs under a policy that allows its own origin, the
// preview's WebAssembly and data: pictures and nothing inline, and every
// file it names under /static/ is served. The page itself is tested in
// Chromium by e2e/browser TestNoticesPageInChromium.
func TestNoticesPageServed(t *testing.T) {
	f := newFixture(t, map[string]Role{"read-token-0123456789": RoleRead}, func(o *Options) { o.MaxUploadBytes = 3 << 20 })
	code, page, hdr := f.do(t, "GET", "/notices", "", nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /notices: %d %q", code, hdr.Get("Content-Type"))
	}
	if csp := hdr.Get("Content-Security-Policy"); csp != noticesCSP {
		t.Errorf("CSP %q, want %q", csp, noticesCSP)
	}
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "http:", "https:", "*"} {
		if strings.Contains(noticesCSP, bad) {
			t.Errorf("the notices page's CSP allows %s", bad)
		}
	}
	if strings.Contains(string(page), "__") {
		t.Errorf("a placeholder is left in the page: %q", regexp.MustCompile(`__[A-Z_]+__`).FindAllString(string(page), -1))
	}
	for _, want := range []string{`name="palier-max-upload" content="3145728"`, `content="image/png image/jpeg`, `maxlength="120"`, `maxlength="2000"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if regexp.MustCompile(`<script>|<style>| on[a-z]+="| style="`).Match(page) {
		t.Error("the page has inline code or style, which its CSP refuses")
	}
	refs := regexp.MustCompile(`"(/static/[^"]+)"`).FindAllSubmatch(page, -1)
	if len(refs) != 2 {
		t.Fatalf("the page names %d static files, want its script and style", len(refs))
	}
	for _, m := range refs {
		if code, b, _ := f.do(t, "GET", string(m[1]), "", nil); code != http.StatusOK || len(b) < 1000 {
			t.Errorf("GET %s: %d, %d bytes", m[1], code, len(b))
		}
	}
}
