package httpapi

import (
	_ "embed"
	"net/http"
	"strconv"
	"strings"

	"github.com/palier-lifts/palier/wire"
)

// The managers' notices page (docs/MANAGERS.md, "The notices page"): one
// HTML file whose script and style are under static/notices-1/, so the
// page needs no inline code and no hash in its policy.
//
//go:embed notices.html
var noticesPage []byte

// noticesCSP is the page's policy: its own scripts and styles; the
// preview script's WebAssembly ('wasm-unsafe-eval' allows compiling it,
// not eval); pictures of its own origin and the preview's data: URLs;
// requests to its own origin only.
const noticesCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// noticesPageBytes is the page with this receiver's limits filled in, so
// the page can refuse a file before uploading it; the API still decides.
func (a *API) noticesPageBytes() []byte {
	return []byte(strings.NewReplacer(
		"__MAX_UPLOAD__", strconv.FormatInt(a.o.MaxUploadBytes, 10),
		"__MEDIA_TYPES__", strings.Join(mediaTypes, " "),
		"__MAX_MEDIA__", strconv.Itoa(wire.MaxMediaPerNotice),
		"__MAX_TITLE__", strconv.Itoa(wire.MaxTitleLen),
		"__MAX_BODY__", strconv.Itoa(wire.MaxBodyLen),
	).Replace(string(noticesPage)))
}

// noticesPageRoutes serves GET /notices. Like /login it needs no token:
// the page asks GET /api/v1/session and goes to /login without one.
func (a *API) noticesPageRoutes(m *routeMux) {
	page := a.noticesPageBytes()
	m.HandleFunc("GET /notices", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", noticesCSP)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
}
