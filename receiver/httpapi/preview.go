package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// SiteScreens describes a site's cabin screens, for the notice preview:
// the building name and time zone they show, their languages, and each
// layout in use.
type SiteScreens struct {
	Building  string         `json:"building"`
	TimeZone  string         `json:"time_zone"`
	Languages []string       `json:"languages"`
	Layouts   []ScreenLayout `json:"layouts"`
}

// ScreenLayout is one screen size in use at a site (ui.Config's layout
// and orientation).
type ScreenLayout struct {
	Layout      string `json:"layout"`
	Orientation string `json:"orientation"`
}

// DefaultSiteScreens is what a site's screens are taken to be when its
// configuration says nothing: the screen's own defaults (ui.DefaultConfig),
// named after the site.
func DefaultSiteScreens(site string) SiteScreens {
	return SiteScreens{
		Building: site, TimeZone: "Europe/Monaco",
		Languages: []string{wire.LangFR, wire.LangEN, wire.LangIT},
		Layouts:   []ScreenLayout{{Layout: "800x480", Orientation: "landscape"}},
	}
}

// siteScreensView is the answer of GET /api/v1/sites/{site}/screens.
type siteScreensView struct {
	Site string `json:"site"`
	SiteScreens
	// Preview says whether this receiver serves the preview's files.
	Preview bool `json:"preview"`
}

func (a *API) siteScreens(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	s := DefaultSiteScreens(id[0])
	if a.o.Screens != nil {
		s = a.o.Screens(id[0])
	}
	_, err := os.Stat(filepath.Join(a.o.PreviewDir, previewWasm))
	writeJSON(w, http.StatusOK, siteScreensView{Site: id[0], SiteScreens: s, Preview: a.o.PreviewDir != "" && err == nil})
}

// The preview's files (internal/previewbuild writes them).
const (
	previewWasm = "screen.wasm"
	previewExec = "wasm_exec.js"
)

// previewFiles remembers each preview file's ETag (its SHA-256) while its
// size and modification time stay: hashing 17 MB on every request would
// cost more than sending it compressed.
type previewFiles struct {
	mu   sync.Mutex
	tags map[string]previewTag
}

type previewTag struct {
	size int64
	mod  time.Time
	etag string
}

func (p *previewFiles) etag(path string, f *os.File, fi fs.FileInfo) (string, error) {
	p.mu.Lock()
	t, ok := p.tags[path]
	p.mu.Unlock()
	if ok && t.size == fi.Size() && t.mod.Equal(fi.ModTime()) {
		return t.etag, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	t = previewTag{size: fi.Size(), mod: fi.ModTime(), etag: `"` + hex.EncodeToString(h.Sum(nil))[:32] + `"`}
	p.mu.Lock()
	if p.tags == nil {
		p.tags = make(map[string]previewTag)
	}
	p.tags[path] = t
	p.mu.Unlock()
	return t.etag, nil
}

// servePreview answers GET /preview/{file}: screen.wasm (its gzip when the
// browser takes it) and wasm_exec.js from Options.PreviewDir. They change
// with the receiver, so browsers keep them but ask again each time (an
// ETag by content answers 304 when they have not changed).
func (a *API) servePreview(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var ctype string
	switch name {
	case previewWasm:
		ctype = "application/wasm"
	case previewExec:
		ctype = "text/javascript; charset=utf-8"
	default:
		writeError(w, http.StatusNotFound, "file", "no preview file %q (there are screen.wasm and wasm_exec.js)", name)
		return
	}
	if a.o.PreviewDir == "" {
		writeError(w, http.StatusNotFound, "", "the notice preview is not installed on this receiver: set http.preview_dir to the folder holding %s (docs/OPERATIONS.md)", name)
		return
	}
	path := filepath.Join(a.o.PreviewDir, name)
	w.Header().Set("Vary", "Accept-Encoding")
	gzipped := false
	if name == previewWasm && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if _, err := os.Stat(path + ".gz"); err == nil {
			path, gzipped = path+".gz", true
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, "", "the notice preview is not installed on this receiver: no %s in http.preview_dir %s (install the receiver's package, or go run ./internal/previewbuild/build DIR)", name, a.o.PreviewDir)
		return
	}
	if err != nil {
		a.o.Logger.Error("preview file", "path", path, "err", err)
		writeError(w, http.StatusInternalServerError, "", "preview file unreadable (see the receiver's log)")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	var etag string
	if err == nil {
		etag, err = a.preview.etag(path, f, fi)
	}
	if err != nil {
		a.o.Logger.Error("preview file", "path", path, "err", err)
		writeError(w, http.StatusInternalServerError, "", "preview file unreadable (see the receiver's log)")
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if gzipped {
		h.Set("Content-Encoding", "gzip")
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// acceptsGzip says whether an Accept-Encoding header takes gzip (and does
// not refuse it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return !(q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000")
	}
	return false
}
