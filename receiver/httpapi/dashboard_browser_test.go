package httpapi

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// chromium finds Debian's Chromium. scripts/test.sh installs it and sets
// PALIER_REQUIRE_CHROMIUM, so CI never skips the browser test.
func chromium(t *testing.T) string {
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

// headless runs Chromium on url with its network confined to this machine.
func headless(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=8000", "--window-size=1280,900"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestDashboardInChromium loads the dashboard in a real browser against a
// store holding one cabin, checks the rendered fleet table shows it, and
// saves a screenshot (to PALIER_SCREENSHOT_DIR when set).
func TestDashboardInChromium(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t, nil)
	ctx := context.Background()
	now := time.Now()
	var events []wire.Event
	for i := range 12 {
		ev := storetest.Event(uint64(i+1), wire.TypeTrip, wire.TripData{From: i % 5, To: (i + 2) % 5, Direction: wire.DirectionUp, DurationMS: 8000})
		ev.Time = now.Add(-time.Duration(12-i) * 10 * time.Minute)
		events = append(events, ev)
	}
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "les-pins", Cabin: "a", Epoch: "e1", Events: events}}, now); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateStatus(ctx, "les-pins", "a", true, now); err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateState(ctx, wire.State{V: 1, Site: "les-pins", Cabin: "a", Time: now, Floor: 3, Direction: wire.DirectionNone,
		Mode: wire.ModeNormal, Faults: []int{}, Counters: wire.Counters{Trips: 12}}, now); err != nil {
		t.Fatal(err)
	}

	dom := string(headless(t, bin, "--dump-dom", f.srv.URL+"/"))
	table := dom[strings.Index(dom, `id="fleet"`):]
	for _, want := range []string{"les-pins", ">a<", "normal"} {
		if !strings.Contains(table, want) {
			t.Errorf("the rendered fleet table lacks %q:\n%s", want, table[:min(len(table), 2000)])
		}
	}

	dir := os.Getenv("PALIER_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "dashboard.png")
	headless(t, bin, "--screenshot="+shot, f.srv.URL+"/")
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 5000 {
		t.Fatalf("screenshot %s: %d bytes, %v", shot, len(png), err)
	}
	t.Logf("dashboard screenshot: %s", shot)
}
