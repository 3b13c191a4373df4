package httpapi

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// staticFiles are the files the dashboard loads besides itself (uPlot):
// embedded, so the receiver stays one binary and the page's CSP can allow
// its own origin and nothing else.
//
//go:embed static
var staticFiles embed.FS

// staticType is the type a static file is served with, by extension: a
// fixed table, not the host's mime.types, because with nosniff a script
// served under another type would not run.
func staticType(name string) (string, bool) {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	case ".md", "": // README, LICENSE
		return "text/plain; charset=utf-8", true
	}
	return "", false
}

// serveStatic answers GET /static/{path...} from staticFiles. Each
// directory carries its version in its name, so a file never changes
// under its URL and browsers may keep it.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	ctype, known := staticType(name)
	b, err := fs.ReadFile(staticFiles, path.Join("static", name))
	if err != nil || !known || name != path.Clean(name) {
		writeError(w, http.StatusNotFound, "", "no such file: %s", r.URL.Path)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
}
