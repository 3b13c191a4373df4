package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium returns the path of Debian's Chromium; it fails the test when
// PALIER_REQUIRE_CHROMIUM is set and there is none, and skips it otherwise.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PALIER_REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium not found but PALIER_REQUIRE_CHROMIUM is set")
	}
	t.Skip("chromium not installed (scripts/test.sh installs Debian's chromium)")
	return ""
}

// PageErrors are what the browser reported that a page must never cause:
// uncaught exceptions and refusals by the CSP.
type PageErrors struct {
	mu   sync.Mutex
	list []string
}

func (p *PageErrors) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, s)
}

// All returns the errors so far.
func (p *PageErrors) All() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.list)
}

// Start starts one headless Chromium (Chromium(t) finds it) for the whole
// test, 1280×900, driven over the DevTools protocol, and collects the
// page's errors. The flags keep it off the network it cannot reach here.
func Start(t testing.TB) (context.Context, *PageErrors) {
	t.Helper()
	bin := Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	errs := &PageErrors{}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			errs.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *log.EventEntryAdded:
			if ev.Entry.Source == log.EntrySourceSecurity || strings.Contains(ev.Entry.Text, "Content Security Policy") {
				errs.add("refused: " + ev.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to chromium: %v", err)
	}
	return ctx, errs
}

// Step runs one part of a browser test with a bound, so a page that never
// renders fails the test instead of hanging it (a sanity bound, not a
// performance check).
func Step(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// Eval evaluates a JavaScript expression in the page into a T.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// EvalAwait evaluates an expression whose value is a promise, into a T.
func EvalAwait[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitFor polls a JavaScript expression until it is truthy and returns it.
// A poll that began as a navigation replaced the page's JavaScript context
// is begun again in the new one.
func WaitFor[T any](t testing.TB, ctx context.Context, what, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		v, err := chromedp.Run(sctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(60*time.Second)))
		if err != nil && navigated(err) && sctx.Err() == nil {
			continue
		}
		if err != nil {
			t.Fatalf("wait for %s (%s): %v", what, expr, err)
		}
		return v
	}
}

// navigated says whether a poll failed because the page navigated under
// it: its JavaScript context is gone, or the target reports the navigation.
func navigated(err error) bool {
	return strings.Contains(err.Error(), "Cannot find context with specified id") || strings.Contains(err.Error(), "Inspected target navigated or closed")
}

// SetField sets the value of the form field with that id as
// chromedp.SetValue does (which refuses an empty one) and fires its change
// event.
func SetField(id, value string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(value)
	return chromedp.Evaluate[chromedp.Void](`(() => { const f = document.getElementById(` + jsString(id) + `); f.value = ` + string(js) +
		`; f.dispatchEvent(new Event("input", { bubbles: true })); f.dispatchEvent(new Event("change", { bubbles: true })); })()`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Screenshot saves a PNG of the whole page as name in PALIER_SCREENSHOT_DIR
// (a temporary directory when unset), checks it is a real picture of at
// least minW×minH, and returns its path.
func Screenshot(t testing.TB, ctx context.Context, name string, minW, minH int) string {
	t.Helper()
	dir := ArtifactDir(t)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	b, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || len(b) < 5000 || img.Bounds().Dx() < minW || img.Bounds().Dy() < minH {
		t.Fatalf("screenshot %s: %d bytes, not a full-page PNG of at least %dx%d (%v)", name, len(b), minW, minH, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%dx%d)", path, img.Bounds().Dx(), img.Bounds().Dy())
	return path
}

// ArtifactDir is where a test leaves pictures for people to look at:
// PALIER_SCREENSHOT_DIR (scripts/test.sh sets it), else a temporary
// directory.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PALIER_SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
