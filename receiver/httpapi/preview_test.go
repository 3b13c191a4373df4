package httpapi

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPreviewFilesServed: the preview's two files, by their types, the
// WebAssembly gzipped for a browser that takes it, revalidated by ETag,
// public; anything else, or a receiver without them, answers 404 saying
// what to set.
func TestPreviewFilesServed(t *testing.T) {
	dir := t.TempDir()
	wasm := []byte("\x00asm\x01\x00\x00\x00 not really a module, but bytes")
	gz := []byte("gzip of it")
	execJS := []byte("globalThis.Go = class {};")
	for name, b := range map[string][]byte{"screen.wasm": wasm, "screen.wasm.gz": gz, "wasm_exec.js": execJS, "secret.txt": []byte("no")} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t, map[string]Role{"admin-token": RoleAdmin}, func(o *Options) { o.PreviewDir = dir })
	get := func(path string, hdr map[string]string) (int, []byte, http.Header) {
		t.Helper()
		return f.doWith(t, "GET", path, "", nil, func(r *http.Request) {
			r.Header.Set("Accept-Encoding", "identity") // the client must not unzip on its own
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
		})
	}
	code, b, h := get("/preview/screen.wasm", nil)
	if code != 200 || string(b) != string(wasm) || h.Get("Content-Type") != "application/wasm" || h.Get("Content-Encoding") != "" {
		t.Fatalf("screen.wasm: %d %q %v", code, b, h)
	}
	if h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" || !strings.Contains(h.Get("Vary"), "Accept-Encoding") {
		t.Errorf("screen.wasm headers %v: want no-cache (revalidate), an ETag, Vary: Accept-Encoding", h)
	}
	plainTag := h.Get("ETag")
	code, b, h = get("/preview/screen.wasm", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if code != 200 || string(b) != string(gz) || h.Get("Content-Encoding") != "gzip" || h.Get("Content-Type") != "application/wasm" {
		t.Fatalf("screen.wasm for a gzip client: %d %q %v", code, b, h)
	}
	if h.Get("ETag") == plainTag {
		t.Errorf("the gzip and the plain file share ETag %s", plainTag)
	}
	if code, _, _ := get("/preview/screen.wasm", map[string]string{"Accept-Encoding": "gzip;q=0"}); code != 200 {
		t.Errorf("gzip refused: %d", code)
	}
	code, b, _ = get("/preview/screen.wasm", map[string]string{"If-None-Match": plainTag})
	if code != http.StatusNotModified || len(b) != 0 {
		t.Errorf("revalidation with the ETag: %d %q, want 304 and no body", code, b)
	}
	// A new build: a new ETag, the new bytes.
	time.Sleep(10 * time.Millisecond)
	wasm = append(wasm, "v2"...)
	if err := os.WriteFile(filepath.Join(dir, "screen.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	code, b, h = get("/preview/screen.wasm", map[string]string{"If-None-Match": plainTag})
	if code != 200 || string(b) != string(wasm) || h.Get("ETag") == plainTag {
		t.Errorf("after a new build: %d %q ETag %s, want the new file under a new ETag", code, b, h.Get("ETag"))
	}
	code, b, h = get("/preview/wasm_exec.js", nil)
	if code != 200 || string(b) != string(execJS) || h.Get("Content-Type") != "text/javascript; charset=utf-8" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("wasm_exec.js: %d %q %v", code, b, h)
	}
	for _, p := range []string{"/preview/secret.txt", "/preview/screen.wasm.gz", "/preview/..%2fsecret.txt", "/preview/"} {
		if code, b, _ := get(p, nil); code != 404 {
			t.Errorf("GET %s: %d %s, want 404", p, code, b)
		}
	}

	// Not installed: the error names the config key.
	for _, o := range []func(*Options){
		func(o *Options) { o.PreviewDir = "" },
		func(o *Options) { o.PreviewDir = t.TempDir() },
	} {
		g := newFixture(t, nil, o)
		code, b, _ := g.do(t, "GET", "/preview/screen.wasm", "", nil)
		var e APIError
		json.Unmarshal(b, &e)
		if code != 404 || !strings.Contains(e.Error, "http.preview_dir") || !strings.Contains(e.Error, "screen.wasm") {
			t.Errorf("preview not installed: %d %s, want 404 naming screen.wasm and http.preview_dir", code, b)
		}
	}
}

// TestSiteScreens: a site's screens as configured, or the defaults, and
// whether the preview is installed.
func TestSiteScreens(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "screen.wasm"), []byte("\x00asm"), 0o644)
	f := newFixture(t, nil, func(o *Options) {
		o.PreviewDir = dir
		o.Screens = func(site string) SiteScreens {
			if site != "les-pins" {
				return DefaultSiteScreens(site)
			}
			return SiteScreens{Building: "Résidence Les Pins", TimeZone: "Europe/Rome", Languages: []string{"it", "fr"},
				Layouts: []ScreenLayout{{"800x480", "landscape"}, {"1920x1080", "portrait"}}}
		}
	})
	var got siteScreensView
	if code := f.get(t, "/api/v1/sites/les-pins/screens", &got); code != 200 {
		t.Fatalf("GET screens: %d", code)
	}
	if got.Site != "les-pins" || got.Building != "Résidence Les Pins" || got.TimeZone != "Europe/Rome" || len(got.Languages) != 2 || len(got.Layouts) != 2 || got.Layouts[1] != (ScreenLayout{"1920x1080", "portrait"}) || !got.Preview {
		t.Errorf("screens %+v", got)
	}
	code, b, _ := f.do(t, "GET", "/api/v1/sites/les-cedres/screens", "", nil)
	want := `{"site":"les-cedres","building":"les-cedres","time_zone":"Europe/Monaco","languages":["fr","en","it"],"layouts":[{"layout":"800x480","orientation":"landscape"}],"preview":true}`
	if code != 200 || strings.TrimSpace(string(b)) != want {
		t.Errorf("defaults: %d %s, want %s", code, b, want)
	}
	g := newFixture(t, nil)
	if code := g.get(t, "/api/v1/sites/les-pins/screens", &got); code != 200 || got.Preview || got.Building != "les-pins" {
		t.Errorf("without preview files: %d %+v, want preview false and the defaults", code, got)
	}
	if code, b, _ := g.do(t, "GET", "/api/v1/sites/Les%20Pins/screens", "", nil); code != 400 {
		t.Errorf("bad site id: %d %s, want 400", code, b)
	}
}
