package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palier-lifts/palier/cmd/display/internal/needdisplay"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

func TestNoDisplayServerSaysSoInsteadOfPanicking(t *testing.T) {
	r := runDisplay(t, withoutDisplay())
	if r.code != 2 || !strings.Contains(r.stderr, needdisplay.Message) || strings.Contains(r.stderr, "panic") {
		t.Fatalf("exit %d, stderr %q: want 2 and %q", r.code, r.stderr, needdisplay.Message)
	}
	r = runDisplay(t, withoutDisplay(), "--screenshot", "x.png", "--state", "testdata/state.json")
	if r.code != 2 || !strings.Contains(r.stderr, "xvfb-run") {
		t.Fatalf("screenshot without display: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runDisplay(t, withoutDisplay(), "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "palier display ") {
		t.Fatalf("--version without display: exit %d, stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := runDisplay(t, os.Environ(), "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "palier display ") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestScreenshotFromFixtures(t *testing.T) {
	img := shoot(t, "--state", "testdata/state.json", "--notices", "testdata/notices.json")
	if img.Bounds() != image.Rect(0, 0, 800, 480) {
		t.Fatalf("screenshot is %v, want 800x480", img.Bounds())
	}
	// The fixture has an urgent notice: the banner's red fills the bottom
	// rows; the floor panel holds the big white "P".
	if n := count(img, image.Rect(0, 440, 800, 480), 0xc6, 0x28, 0x28); n < 800*20 {
		t.Fatalf("%d banner-red pixels at the bottom, want the urgent banner", n)
	}
	if n := count(img, image.Rect(16, 150, 320, 460), 0xf5, 0xf7, 0xfa); n < 3000 {
		t.Fatalf("%d white pixels in the floor panel, want a big floor label", n)
	}
}

func count(img image.Image, r image.Rectangle, cr, cg, cb uint8) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c, g, b, _ := img.At(x, y).RGBA()
			if uint8(c>>8) == cr && uint8(g>>8) == cg && uint8(b>>8) == cb {
				n++
			}
		}
	}
	return n
}

func TestBadInputsAreExplained(t *testing.T) {
	dir := t.TempDir()
	badState := filepath.Join(dir, "state.json")
	os.WriteFile(badState, []byte(`{"v":1,"site":"les-pins","cabin":"a","time":"2026-11-24T14:07:00Z","floor":1,"direction":"sideways","moving":false,"door_zone":true,"doors":[],"mode":"normal","faults":[],"alarm":false,"link":"ok","uplink":true,"counters":{"trips":0,"door_cycles":0,"direction_changes":0,"running_s":0,"idle_s":0,"standby_s":0}}`), 0o644)
	badConfig := filepath.Join(dir, "display.yaml")
	os.WriteFile(badConfig, []byte("layout: 640x480\n"), 0o644)
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("buildng: x\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad state", []string{"--screenshot", filepath.Join(dir, "x.png"), "--state", badState}, 1, "direction"},
		{"missing state", []string{"--screenshot", filepath.Join(dir, "x.png")}, 1, "--state"},
		{"bad config", []string{"--config", badConfig}, 2, "layout"},
		{"config typo", []string{"--config", typo}, 2, "buildng"},
		{"state without screenshot", []string{"--state", "testdata/state.json"}, 2, "--screenshot"},
		{"play period too short", []string{"--play-period", "100ms"}, 2, "--play-period"},
		{"play period too long", []string{"--play-period", "2h"}, 2, "want 1s to 59m55s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runDisplay(t, os.Environ(), tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d stderr %q, want exit %d mentioning %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
}

// TestLiveFollowsTheAgent runs the display against a real live feed: it
// connects, caches the notices it receives, reconnects after the agent
// restarts, and stops cleanly on SIGTERM.
func TestLiveFollowsTheAgent(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "lf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "agent.sock")
	cacheDir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	startAgent := func(version uint64) (*livefeed.Server, context.CancelFunc, chan error) {
		s := livefeed.NewServer(sock, logger)
		s.SetState(wire.State{V: 1, Site: "les-pins", Cabin: "a", Time: time.Now(), Floor: 2, Direction: "up", Moving: true,
			Doors: []string{"closed"}, Mode: "normal", Faults: []int{}, Link: "ok", Uplink: true})
		s.SetNotices(wire.NoticeSet{V: 1, Site: "les-pins", Version: version, Notices: []wire.Notice{{
			ID: "n", Category: "general", Priority: "normal", Title: wire.Text{FR: "Bonjour"}, Body: wire.Text{FR: "Corps"},
			ValidFrom: time.Now().Add(-time.Hour)}}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		<-s.Ready()
		return s, cancel, done
	}
	s1, stop1, done1 := startAgent(1)

	cmd := exec.Command(binary, "--socket", sock, "--cache", cacheDir, "--config", "testdata/display.yaml", "--windowed")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill() // no-op once it has exited
		<-exited
	}()

	waitFor(t, func() bool { return s1.Clients() == 1 }, "the display to connect", &stderr)
	waitFor(t, func() bool { return cachedVersion(cacheDir) == 1 }, "notices cached", &stderr)

	stop1()
	<-done1
	s2, stop2, done2 := startAgent(2)
	defer func() { stop2(); <-done2 }()
	waitFor(t, func() bool { return s2.Clients() == 1 }, "the display to reconnect", &stderr)
	waitFor(t, func() bool { return cachedVersion(cacheDir) == 2 }, "new notices cached", &stderr)

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("display exited with %v after SIGTERM: %s", waitErr, stderr.String())
		}
	case <-time.After(guard):
		t.Fatalf("display did not stop on SIGTERM: %s", stderr.String())
	}
}

// TestLiveReportsPlays runs the display against a real live feed whose
// agent takes play records: the notice it shows comes back as "played"
// lines, with the set's version, the language and the layout, one record
// per period (2 s here, a minute by default).
func TestLiveReportsPlays(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "lf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "agent.sock")
	s := livefeed.NewServer(sock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var mu sync.Mutex
	var plays []wire.NoticeShownData
	s.OnPlayed = func(p wire.NoticeShownData) { mu.Lock(); plays = append(plays, p); mu.Unlock() }
	s.SetState(wire.State{V: 1, Site: "les-pins", Cabin: "a", Time: time.Now(), Floor: 0, Direction: "none",
		Doors: []string{"open"}, Mode: "normal", Faults: []int{}, Link: "ok", Uplink: true})
	s.SetNotices(wire.NoticeSet{V: 1, Site: "les-pins", Version: 9, Notices: []wire.Notice{{
		ID: "ag-2026", Category: "assembly", Priority: "normal", Title: wire.Text{FR: "Assemblée générale"}, Body: wire.Text{FR: "Le 12 à 18 h"},
		ValidFrom: time.Now().Add(-time.Hour)}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-s.Ready()

	cmd := exec.Command(binary, "--socket", sock, "--config", "testdata/display.yaml", "--windowed", "--play-period", "2s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(plays) >= 2 }, "two play records", &stderr)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range plays {
		if p.Notice != "ag-2026" || p.Version != 9 || p.Lang != "fr" || p.Layout != "800x480" || p.Orientation != "landscape" {
			t.Fatalf("record %+v", p)
		}
		if p.ShownMS < 1 || p.To.Sub(p.From) > 2*time.Second+ui.DefaultMaxPlayGap {
			t.Fatalf("record %+v: span beyond its period", p)
		}
	}
}

func cachedVersion(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, "notices.json"))
	if err != nil {
		return 0
	}
	ns, err := wire.DecodeNoticeSet(b)
	if err != nil {
		return 0
	}
	return ns.Version
}

func waitFor(t *testing.T, cond func() bool, what string, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; display log:\n%s", what, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestScreenshotShowsCachedMedia(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 60, 40))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 0xff, 0x00, 0xff, 0xff
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	sum := sha256.Sum256(buf.Bytes())
	sha := hex.EncodeToString(sum[:])
	mediaDir := filepath.Join(dir, "media")
	os.Mkdir(mediaDir, 0o755)
	os.WriteFile(filepath.Join(mediaDir, sha), buf.Bytes(), 0o644)
	notices := `{"v":1,"site":"les-pins","version":1,"notices":[{"id":"velo","category":"general","priority":"normal",
		"title":{"fr":"Local à vélos"},"body":{"fr":"Au sous-sol."},"valid_from":"2026-11-01T00:00:00Z",
		"media":[{"url":"https://syndic.example/velo.png","sha256":"` + sha + `","type":"image/png","size":` + strconv.Itoa(buf.Len()) + `}]}]}`
	nf := filepath.Join(dir, "notices.json")
	os.WriteFile(nf, []byte(notices), 0o644)

	for _, tc := range []struct {
		name  string
		media string
		want  bool
	}{{"cached", mediaDir, true}, {"not cached", t.TempDir(), false}} {
		t.Run(tc.name, func(t *testing.T) {
			shot := shoot(t, "--media", tc.media, "--state", "testdata/state.json", "--notices", nf)
			n := count(shot, shot.Bounds(), 0xff, 0x00, 0xff)
			if got := n > 1000; got != tc.want {
				t.Fatalf("%d magenta pixels: image shown %v, want %v", n, got, tc.want)
			}
		})
	}
}

// TestScreenshotFromTheRunningAgent renders what an agent serves on its
// socket, as the demo suggests when there is no display server.
func TestScreenshotFromTheRunningAgent(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "lf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "agent.sock")
	s := livefeed.NewServer(sock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetState(wire.State{V: 1, Site: "les-pins", Cabin: "a", Time: time.Now(), Floor: 0, Direction: "none",
		Doors: []string{"open"}, Mode: "normal", Faults: []int{}, Link: "ok", Uplink: true})
	s.SetNotices(wire.NoticeSet{V: 1, Site: "les-pins", Version: 1, Notices: []wire.Notice{{
		ID: "water", Category: "water", Priority: "urgent", Title: wire.Text{FR: "Coupure d'eau"}, Body: wire.Text{FR: "De 9h à 12h."},
		ValidFrom: time.Now().Add(-time.Hour)}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	defer func() { cancel(); <-done }()

	img := shoot(t, "--socket", sock)
	// The urgent notice the agent serves puts the red banner at the bottom.
	if n := count(img, image.Rect(0, 440, 800, 480), 0xc6, 0x28, 0x28); n < 800*20 {
		t.Fatalf("%d banner-red pixels: the agent's notices are not on the screenshot", n)
	}

	r := runDisplay(t, os.Environ(), "--socket", filepath.Join(sockDir, "nobody.sock"), "--screenshot", filepath.Join(t.TempDir(), "x.png"))
	if r.code == 0 || !strings.Contains(r.stderr, "running agent") {
		t.Fatalf("no agent: exit %d, %q", r.code, r.stderr)
	}
}
