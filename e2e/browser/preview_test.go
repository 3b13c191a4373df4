package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/palier-lifts/palier/internal/browsertest"
	"github.com/palier-lifts/palier/internal/previewbuild"
	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/receiver/media"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/ui/goldens"
	"github.com/palier-lifts/palier/wire"
)

// previewPage is the smallest page that uses the preview: the loader
// script, under the CSP docs/SECURITY.md asks of a page that does.
const previewPage = `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>preview</title>
<script src="/static/preview-1/preview.js"></script></head>
<body><h1>Aperçu</h1><img id="shot" alt="aperçu"></body></html>`

const previewCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// previewForged names a picture the test server answers with other bytes.
var previewForged = strings.Repeat("ef", 32)

// previewBuilt is the preview built once for the package's tests: each
// build links and compresses a 17 MB module. TestMain removes it.
var previewBuilt struct {
	once sync.Once
	dir  string
	err  error
}

// previewFiles returns the folder of the preview's files
// (internal/previewbuild), building them on the first call.
func previewFiles(t *testing.T) string {
	t.Helper()
	previewBuilt.once.Do(func() {
		tmp, err := os.MkdirTemp("", "palier-preview-")
		if err != nil {
			previewBuilt.err = err
			return
		}
		previewBuilt.dir = filepath.Join(tmp, "preview")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		previewBuilt.err = previewbuild.Build(ctx, previewBuilt.dir)
		t.Logf("preview built in %v", time.Since(start).Round(time.Millisecond))
	})
	if previewBuilt.err != nil {
		t.Fatalf("build the preview: %v", previewBuilt.err)
	}
	return previewBuilt.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if previewBuilt.dir != "" {
		os.RemoveAll(filepath.Dir(previewBuilt.dir))
	}
	os.Exit(code)
}

// previewServer serves the real receiver API with the preview's files
// built into a temporary folder, and the test page at /preview-test; it
// returns the server, the folder and the count of forged picture downloads.
func previewServer(t *testing.T) (*httptest.Server, string, *atomic.Int32) {
	t.Helper()
	dir := previewFiles(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	md, err := media.OpenDir(t.TempDir(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	api, err := httpapi.New(httpapi.Options{Store: st, Media: md, PublicURL: "http://127.0.0.1", PreviewDir: dir,
		Gatherer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	forged := &atomic.Int32{}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	// A picture whose bytes are not what its name says: the preview must
	// check, and draw it as missing.
	mux.HandleFunc("GET /media/"+previewForged, func(w http.ResponseWriter, r *http.Request) {
		forged.Add(1)
		w.Header().Set("Content-Type", "image/png")
		png.Encode(w, goldens.Poster())
	})
	mux.HandleFunc("GET /preview-test", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", previewCSP)
		io.WriteString(w, previewPage)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, dir, forged
}

// previewUpload uploads a picture for a site's notices through the API, as
// the notices page does, and returns its reference.
func previewUpload(t *testing.T, srv *httptest.Server, img image.Image) wire.Media {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/sites/les-pins/media", bytes.NewReader(buf.Bytes()))
	req.Header.Set("Content-Type", "image/png")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m wire.Media
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &m) != nil {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	return m
}

// previewDraw asks the page for a preview and decodes the PNG it returns.
func previewDraw(t *testing.T, ctx context.Context, request []byte) image.Image {
	t.Helper()
	return previewDecode(t, browsertest.EvalAwait[string](t, ctx, `palierPreview(`+string(request)+`)`))
}

// previewDecode decodes the PNG of a preview's data URL.
func previewDecode(t *testing.T, url string) image.Image {
	t.Helper()
	b64, ok := strings.CutPrefix(url, "data:image/png;base64,")
	if !ok {
		t.Fatalf("preview is %.60q..., want a PNG data URL", url)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func previewSave(t *testing.T, name string, img image.Image) string {
	t.Helper()
	dir := browsertest.ArtifactDir(t)
	var buf bytes.Buffer
	png.Encode(&buf, img)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPreviewMatchesTheScreensGoldens: the preview the manager's browser
// draws (cmd/preview in WebAssembly, served by the receiver, through
// preview.js) is the cabin screen's golden image of every case a preview
// can produce, within the goldens' own tolerance; the page keeps its looks,
// a bad request is refused naming the field, and a browser without WebGL
// gets a clear refusal.
func TestPreviewMatchesTheScreensGoldens(t *testing.T) {
	ctx, errs := browsertest.Start(t)
	srv, dir, forged := previewServer(t)
	poster := previewUpload(t, srv, goldens.Poster())

	browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/preview-test"), chromedp.WaitReady(chromedp.ID("shot")))
	browsertest.Eval[bool](t, ctx, `document.body.style.background = "rgb(250, 248, 240)", true`)

	var cases []goldens.Case
	for _, c := range goldens.Cases() {
		if c.Name == "media-800x480" {
			c.In.Notices = goldens.MediaNotices(poster.SHA256) // the picture as uploaded
		}
		if _, ok := goldens.Request(c); ok {
			cases = append(cases, c)
		}
	}
	if len(cases) != 11 {
		t.Fatalf("%d golden cases a preview can draw, want 11 (8 main layouts, urgent, media, media-missing)", len(cases))
	}
	// A picture served with bytes that do not match its SHA-256 is drawn
	// as missing.
	for _, c := range goldens.Cases() {
		if c.Name == "media-missing-800x480" {
			c.In.Notices = goldens.MediaNotices(previewForged)
			cases = append(cases, c)
		}
	}
	for i, c := range cases {
		r, _ := goldens.Request(c)
		req, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got := previewDraw(t, ctx, req)
		if i == 0 {
			t.Logf("first preview (loading screen.wasm, starting it, drawing %s): %v", c.Name, time.Since(start).Round(time.Millisecond))
		}
		want, err := goldens.Read(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		d := goldens.Diff(got, want)
		t.Logf("%-26s %v: %.3f%% of pixels differ from the golden (tolerance %.1f%%)", c.Name, got.Bounds().Size(), d*100, goldens.Tolerance*100)
		if c.Name == "media-800x480" {
			t.Logf("preview of %s saved as %s", c.Name, previewSave(t, "preview-"+c.Name+".png", got))
		}
		if d > goldens.Tolerance {
			t.Errorf("%s: the preview differs from %s in %.2f%% of pixels (tolerance %.1f%%); preview saved as %s", c.Name, goldens.Path(c.Name), d*100, goldens.Tolerance*100, previewSave(t, "preview-"+c.Name+".png", got))
		}
	}

	if forged.Load() == 0 {
		t.Error("the forged picture was never fetched: its case proves nothing")
	}

	// Per preview, once loaded: the median of 10.
	r, _ := goldens.Request(cases[0])
	req, _ := json.Marshal(r)
	var times []time.Duration
	for range 10 {
		start := time.Now()
		previewDraw(t, ctx, req)
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	t.Logf("per preview of %s (median of 10): %v (fastest %v, slowest %v)", cases[0].Name, times[5].Round(time.Millisecond), times[0].Round(time.Millisecond), times[9].Round(time.Millisecond))

	// The WebAssembly came gzipped; its sizes.
	sizes := browsertest.Eval[[]float64](t, ctx, `(() => { const e = performance.getEntriesByName(location.origin + "/preview/screen.wasm")[0]; return [e.encodedBodySize, e.decodedBodySize]; })()`)
	raw, _ := os.Stat(filepath.Join(dir, previewbuild.WasmFile))
	gz, _ := os.Stat(filepath.Join(dir, previewbuild.WasmGzipFile))
	t.Logf("screen.wasm %.1f MB, gzip %.1f MB; the browser received %.1f MB for %.1f MB", previewMB(raw.Size()), previewMB(gz.Size()), sizes[0]/1e6, sizes[1]/1e6)
	if int64(sizes[1]) != raw.Size() || int64(sizes[0]) >= raw.Size()/2 {
		t.Errorf("browser received %v bytes for %v (file %d, gzip %d): want the gzip", sizes[0], sizes[1], raw.Size(), gz.Size())
	}

	// ebiten restyled the page and added its canvas: both undone.
	page := browsertest.Eval[string](t, ctx, `[document.body.style.background, document.documentElement.style.cssText,
		[...document.querySelectorAll("canvas")].map(c => getComputedStyle(c).display + " " + c.tabIndex).join(","),
		document.activeElement.tagName, document.querySelectorAll("meta[name=viewport]").length].join("|")`)
	if page != "rgb(250, 248, 240)||none -1|BODY|0" {
		t.Errorf("page after the preview: %q, want its own background, no style on html, the canvas hidden and out of the tab order, the focus left alone, no viewport added", page)
	}

	// As a page shows it.
	browsertest.Eval[bool](t, ctx, `palierPreview(`+string(req)+`).then(u => { document.getElementById("shot").src = u; }), true`)
	browsertest.WaitFor[bool](t, ctx, "the preview shown", `document.getElementById("shot").naturalWidth === 800`)
	browsertest.Screenshot(t, ctx, "preview-page.png", 800, 480)

	// The request as JSON text does as well as the object.
	if !browsertest.EvalAwait[bool](t, ctx, `palierPreview(JSON.stringify(`+string(req)+`)).then(u => u.startsWith("data:image/png;base64,"))`) {
		t.Error("a request given as JSON text did not give a PNG data URL")
	}

	// A bad request: the promise rejects naming the field.
	bad := strings.Replace(string(req), `"layout":"`+r.Layout+`"`, `"layout":"640x480"`, 1)
	got := browsertest.EvalAwait[string](t, ctx, `palierPreview(`+bad+`).then(() => "resolved", e => (e instanceof Error) + " " + e.field + ": " + e.message)`)
	t.Logf("bad layout: %s", got)
	if !strings.HasPrefix(got, "true layout: layout: \"640x480\": want 800x480") {
		t.Errorf("bad layout: %q, want a rejection with an Error naming layout", got)
	}
	got = browsertest.EvalAwait[string](t, ctx, `palierPreview({layout: "800x480", orientation: "landscape", language: "fr", colour: "red"}).then(() => "resolved", e => e.field)`)
	if got != "colour" {
		t.Errorf("unknown field: %q, want a rejection naming colour", got)
	}

	// No WebGL in the browser: a clear refusal, not a promise for ever.
	browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/preview-test"), chromedp.WaitReady(chromedp.ID("shot")))
	browsertest.Eval[bool](t, ctx, `HTMLCanvasElement.prototype.getContext = function() { return null; }, true`)
	got = browsertest.EvalAwait[string](t, ctx, `palierPreview(`+string(req)+`).then(() => "resolved", e => e.message)`)
	t.Logf("without WebGL: %s", got)
	if !strings.Contains(got, "WebGL") {
		t.Errorf("without WebGL: %q, want a rejection that says WebGL is needed", got)
	}
	if e := errs.All(); len(e) > 0 {
		t.Errorf("page errors: %s", strings.Join(e, "\n"))
	}
}

// TestPreviewNotInstalled: a receiver without the preview's files makes
// palierPreview reject saying so, with the config key to set.
func TestPreviewNotInstalled(t *testing.T) {
	ctx, errs := browsertest.Start(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api, err := httpapi.New(httpapi.Options{Store: st, Gatherer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.HandleFunc("GET /preview-test", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", previewCSP)
		io.WriteString(w, previewPage)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/preview-test"), chromedp.WaitReady(chromedp.ID("shot")))
	got := browsertest.EvalAwait[string](t, ctx, `palierPreview({layout: "800x480", orientation: "landscape", language: "fr"}).then(() => "resolved", e => e.message)`)
	if !strings.Contains(got, "http.preview_dir") {
		t.Errorf("preview not installed: %q, want a rejection naming http.preview_dir", got)
	}
	if e := errs.All(); len(e) > 0 {
		t.Errorf("page errors: %s", strings.Join(e, "\n"))
	}
}

func previewMB(n int64) float64 { return float64(n) / 1e6 }
