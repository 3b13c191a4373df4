package screen

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/text/v2"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/goldens"
	"github.com/palier-lifts/palier/wire"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// The golden cases and their comparison live in ui/goldens, which the
// notice preview's browser test shares.
var (
	t0        = goldens.T0
	cabin     = goldens.Cabin
	noticeSet = goldens.Notices
	shaPoster = goldens.ShaPoster
	shaGone   = goldens.ShaGone
	diff      = goldens.Diff
)

func newModel(t testing.TB, edit func(*ui.Config)) *ui.Model {
	t.Helper()
	m, err := ui.NewModel(goldens.Config(edit))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mediaLoader(sha string) (image.Image, error) {
	if sha == shaPoster {
		return goldens.Poster(), nil
	}
	return nil, ui.ErrMediaMissing
}

func TestGolden(t *testing.T) {
	r := newRenderer(t)
	r.Media = mediaLoader
	for _, g := range goldens.Cases() {
		t.Run(g.Name, func(t *testing.T) {
			v := newModel(t, g.Edit).View(g.In)
			var img *image.RGBA
			var err error
			onMain(func() { img, err = r.Snapshot(v) })
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", g.Name+".png")
			if *update {
				writePNG(t, path, img)
				return
			}
			want := readPNG(t, g.Name)
			if d := diff(img, want); d > goldens.Tolerance {
				got := filepath.Join(t.TempDir(), g.Name+".png")
				writePNG(t, got, img)
				t.Fatalf("%.2f%% of pixels differ from %s (tolerance 0.5%%); got %s; rerun with -update if the change is intended", d*100, path, got)
			}
		})
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readPNG reads a golden image by name.
func readPNG(t *testing.T, name string) image.Image {
	t.Helper()
	img, err := goldens.Read(name)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	return img
}

func TestGoldenImagesDiffer(t *testing.T) {
	// Guards the golden test itself: a renderer that drew nothing would
	// match blank goldens. Overlays must look unlike the main layout.
	main := readPNG(t, "main-800x480-landscape")
	for _, name := range []string{"alarm", "alarm-delivered", "alarm-acknowledged", "fire", "out-of-service", "inspection", "overload", "connecting", "urgent", "night", "media", "media-missing"} {
		other := readPNG(t, name+"-800x480")
		rgba := image.NewRGBA(other.Bounds())
		for y := 0; y < 480; y++ {
			for x := 0; x < 800; x++ {
				rgba.Set(x, y, other.At(x, y))
			}
		}
		if d := diff(rgba, main); d < 0.05 {
			t.Errorf("%s differs from the main layout in only %.2f%% of pixels", name, d*100)
		}
	}
}

func TestRedrawOnlyOnChange(t *testing.T) {
	m := newModel(t, nil)
	r := newRenderer(t)
	now := t0
	in := ui.Input{State: cabin(func(s *wire.State) { s.Moving = false }), Notices: noticeSet(false), AgentUp: true}
	g := NewGame(r, func() ui.View { in.Now = now; return m.View(in) })
	// scr stands for ebiten's screen, never cleared between frames.
	var scr *ebiten.Image
	onMain(func() {
		scr = ebiten.NewImage(800, 480)
		for i := 0; i < 100; i++ {
			if err := g.Update(); err != nil {
				t.Fatal(err)
			}
			g.Draw(scr)
			now = now.Add(10 * time.Millisecond) // one second of ticks, same minute
		}
	})
	defer onMain(func() { scr.Deallocate() })
	if got := g.Paints(); got != 1 {
		t.Fatalf("%d paints for a still cabin over 100 ticks, want 1", got)
	}
	in.State = cabin(nil) // moving: the arrow animates
	var shown, want *image.RGBA
	onMain(func() {
		for i := 0; i < 100; i++ {
			g.Update()
			g.Draw(scr)
			now = now.Add(10 * time.Millisecond)
		}
		shown = image.NewRGBA(scr.Bounds())
		scr.ReadPixels(shown.Pix)
		var err error
		if want, err = r.Snapshot(g.shown); err != nil {
			t.Fatal(err)
		}
	})
	// The arrow's repaints add up to the full picture.
	if d := diff(shown, want); d > 0.0005 {
		t.Fatalf("screen after 100 animated ticks differs from a full paint in %.3f%% of pixels", d*100)
	}
	// 100 ticks of 10 ms span one arrow period of ArrowFrames frames.
	if got := g.Paints() - 1; got < ui.ArrowFrames-1 || got > ui.ArrowFrames+1 {
		t.Fatalf("%d paints over one second of motion, want about %d (one per arrow frame)", got, ui.ArrowFrames)
	}
}

// TestFreshScreenIsPaintedWhole: a screen image ebiten made anew (window
// resized or re-exposed) holds nothing of ours; one that does not have the
// View's size yet is left alone.
func TestFreshScreenIsPaintedWhole(t *testing.T) {
	m := newModel(t, nil)
	r := newRenderer(t)
	in := ui.Input{State: cabin(func(s *wire.State) { s.Moving = false }), Notices: noticeSet(false), AgentUp: true, Now: t0}
	g := NewGame(r, func() ui.View { return m.View(in) })
	var got, want *image.RGBA
	onMain(func() {
		small := ebiten.NewImage(320, 240)
		defer small.Deallocate()
		g.Update()
		g.Draw(small)
		if g.Paints() != 0 {
			t.Errorf("painted an 800x480 View on a 320x240 screen")
		}
		if w, h := g.Layout(800, 480); w != 800 || h != 480 {
			t.Errorf("Layout = %dx%d, want the View's 800x480", w, h)
		}
		a := ebiten.NewImage(800, 480)
		defer a.Deallocate()
		g.Update()
		g.Draw(a)
		g.Update()
		g.Draw(a)
		if g.Paints() != 1 {
			t.Errorf("%d paints of one View on one screen, want 1", g.Paints())
		}
		b := ebiten.NewImage(800, 480)
		defer b.Deallocate()
		g.Update()
		g.Draw(b)
		g.Layout(1024, 768) // the window changed: the same screen is painted again
		g.Update()
		g.Draw(b)
		if g.Paints() != 3 {
			t.Errorf("%d paints, want 3 (a new screen image, then a new window size)", g.Paints())
		}
		got = image.NewRGBA(b.Bounds())
		b.ReadPixels(got.Pix)
		var err error
		if want, err = r.Snapshot(m.View(in)); err != nil {
			t.Fatal(err)
		}
	})
	if d := diff(got, want); d > 0.0005 {
		t.Fatalf("the new screen differs from a full paint in %.3f%% of pixels", d*100)
	}
}

func TestHostileTextDoesNotCrash(t *testing.T) {
	m := newModel(t, func(c *ui.Config) { c.Languages = []string{"fr"} })
	ns := noticeSet(true)
	hostile := []string{
		"漢字とかな 🚀🛗👩‍👩‍👧 עברית \u202egnp.exe Ā̴̢͇̈́ \x00\x07\x1b[31m",
		strings.Repeat("W", 119),
		strings.Repeat("Supercalifragilisticexpialidocious", 3),
		"\n\n\n",
		"É È À Ç Ù ô ï « guillemets » — tiret … points",
	}
	r := newRenderer(t)
	for i, s := range hostile {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ns.Notices[0].Title.FR = s[:min(len(s), 120)]
			ns.Notices[0].Body.FR = strings.Repeat(s+" ", 20)
			ns.Notices[1].Title.FR = s
			in := ui.Input{State: cabin(nil), Notices: ns, AgentUp: true, Now: t0}
			cfg := m.Config()
			cfg.Building = s
			mm, err := ui.NewModel(cfg)
			if err != nil {
				t.Skip("building name refused by config validation")
			}
			var img *image.RGBA
			onMain(func() { img, err = r.Snapshot(mm.View(in)) })
			if err != nil {
				t.Fatal(err)
			}
			// The floor panel still shows: the big label is white pixels.
			if !hasColor(img, image.Rect(20, 150, 320, 470), colText.R, colText.G, colText.B) {
				t.Fatal("floor label not drawn")
			}
		})
	}
}

func hasColor(img *image.RGBA, r image.Rectangle, cr, cg, cb uint8) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := img.RGBAAt(x, y)
			if c.R == cr && c.G == cg && c.B == cb {
				return true
			}
		}
	}
	return false
}

func TestWrapAndEllipsize(t *testing.T) {
	onMain(func() {
		f, err := loadFonts()
		if err != nil {
			t.Fatal(err)
		}
		face := f.face(false, 24)
		body := "Les travaux côté cour débutent lundi à 8 h. Échafaudage jusqu'à fin décembre ; merci de garder les fenêtres fermées."
		for _, tc := range []struct {
			name     string
			s        string
			width    float64
			max      int
			lines    int
			ellipsis bool
		}{
			{"fits", "Coupure d'eau", 400, 3, 1, false},
			{"wraps", body, 400, 10, 4, false},
			{"ellipsized", body, 400, 2, 2, true},
			{"long word split", strings.Repeat("x", 100), 200, 10, 7, false},
			{"newlines kept", "un\ndeux\ntrois", 400, 5, 3, false},
			{"zero lines", body, 400, 0, 0, false},
		} {
			lines := wrap(tc.s, face, tc.width, tc.max)
			if len(lines) != tc.lines {
				t.Errorf("%s: %d lines %q, want %d", tc.name, len(lines), lines, tc.lines)
				continue
			}
			for _, l := range lines {
				if w := text.Advance(l, face); w > tc.width {
					t.Errorf("%s: line %q is %.0f wide, more than %.0f", tc.name, l, w, tc.width)
				}
			}
			if got := len(lines) > 0 && strings.HasSuffix(lines[len(lines)-1], ellipsis); got != tc.ellipsis {
				t.Errorf("%s: ellipsis %v, want %v (%q)", tc.name, got, tc.ellipsis, lines)
			}
		}
		if got := strings.Join(wrap(strings.Repeat("x", 100), face, 200, 10), ""); got != strings.Repeat("x", 100) {
			t.Errorf("a long word lost characters when split: %q", got)
		}
		if got := ellipsize(body, face, 300); !strings.HasSuffix(got, ellipsis) || text.Advance(got, face) > 300 || !strings.HasPrefix(got, "Les travaux") {
			t.Errorf("ellipsize: %q", got)
		}
		if got := ellipsize("RDC", face, 300); got != "RDC" {
			t.Errorf("short text changed: %q", got)
		}
	})
}

// TestArrowRepaintMatchesFullPaint: the animation repaints only the arrow's
// box; the result must be the full paint of the new frame.
func TestArrowRepaintMatchesFullPaint(t *testing.T) {
	three := 3
	for _, tc := range []struct {
		name string
		cfg  func(*ui.Config)
	}{
		{"landscape", nil},
		{"portrait", func(c *ui.Config) { c.Orientation = "portrait" }},
		{"night and shifted", func(c *ui.Config) { c.Night = &ui.Night{From: "14:00", To: "16:00"}; c.PixelShift = &three }},
		{"1920x1080", func(c *ui.Config) { c.Layout = "1920x1080" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, tc.cfg)
			for _, dir := range []string{wire.DirectionUp, wire.DirectionDown} {
				in := ui.Input{State: cabin(func(s *wire.State) { s.Direction = dir }), Notices: noticeSet(true), AgentUp: true, Now: t0}
				v0 := m.View(in)
				in.Now = in.Now.Add(time.Second / 3)
				v1 := m.View(in)
				if v0.ArrowFrame == v1.ArrowFrame || !OnlyArrowMoved(v0, v1) {
					t.Fatalf("frames %d and %d: want two frames of one animation", v0.ArrowFrame, v1.ArrowFrame)
				}
				var partial, full *image.RGBA
				onMain(func() {
					r, err := NewRenderer()
					if err != nil {
						t.Fatal(err)
					}
					canvas := ebiten.NewImage(v0.Width, v0.Height)
					defer canvas.Deallocate()
					r.Draw(canvas, v0)
					r.DrawArrow(canvas, v1)
					partial = image.NewRGBA(canvas.Bounds())
					canvas.ReadPixels(partial.Pix)
					full, err = r.Snapshot(v1)
					if err != nil {
						t.Fatal(err)
					}
				})
				if d := diff(partial, full); d > 0.0005 {
					t.Fatalf("%s: arrow repaint differs from a full paint in %.3f%% of pixels", dir, d*100)
				}
			}
		})
	}
	// Anything else changing needs a full paint.
	m := newModel(t, nil)
	in := ui.Input{State: cabin(nil), AgentUp: true, Now: t0}
	a := m.View(in)
	in.State = cabin(func(s *wire.State) { s.Floor = 4 })
	in.Now = in.Now.Add(time.Second / 3)
	if OnlyArrowMoved(a, m.View(in)) {
		t.Fatal("a floor change was taken for an arrow frame")
	}
}

// TestChangedRegionsRepaintMatchesFullPaint: repainting only the panels
// ChangedRegions names must give the full paint of the new View.
func TestChangedRegionsRepaintMatchesFullPaint(t *testing.T) {
	three := 3
	night := func(c *ui.Config) { c.Night = &ui.Night{From: "14:00", To: "16:00"} }
	lessNotices := noticeSet(true)
	lessNotices.Notices = lessNotices.Notices[1:] // the urgent one stays, and its banner
	steps := []struct {
		name string
		edit func(in *ui.Input)
		full bool // ChangedRegions must ask for a full paint
	}{
		{"language rotates", func(in *ui.Input) { in.Now = in.Now.Add(6 * time.Second) }, false},
		{"clock turns", func(in *ui.Input) { in.Now = in.Now.Add(time.Minute) }, false},
		{"floor changes", func(in *ui.Input) { in.State = cabin(func(s *wire.State) { s.Floor = 7 }) }, false},
		{"car stops", func(in *ui.Input) {
			in.State = cabin(func(s *wire.State) { s.Moving = false; s.Direction = wire.DirectionNone })
		}, false},
		{"uplink lost", func(in *ui.Input) { in.State = cabin(func(s *wire.State) { s.Uplink = false }) }, false},
		{"controller link lost", func(in *ui.Input) { in.State = cabin(func(s *wire.State) { s.Link = "lost" }) }, false},
		{"notice withdrawn", func(in *ui.Input) { in.Notices = lessNotices }, false},
		{"no notice", func(in *ui.Input) { in.Notices = nil }, true}, // the banner goes
		{"alarm", func(in *ui.Input) { in.State = cabin(func(s *wire.State) { s.Alarm = true }) }, true},
	}
	for _, tc := range []struct {
		name string
		cfg  func(*ui.Config)
	}{
		{"800x480", nil},
		{"1024x600 portrait, night, shifted", func(c *ui.Config) {
			c.Layout, c.Orientation, c.PixelShift = "1024x600", "portrait", &three
			night(c)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, tc.cfg)
			base := ui.Input{State: cabin(nil), Notices: noticeSet(true), AgentUp: true, Now: t0}
			r := newRenderer(t)
			for _, st := range steps {
				in := base
				st.edit(&in)
				v0, v1 := m.View(base), m.View(in)
				regions, ok := ChangedRegions(v0, v1)
				if ok == st.full {
					t.Fatalf("%s: ChangedRegions ok = %v, want %v", st.name, ok, !st.full)
				}
				if !ok {
					continue
				}
				area := 0
				for _, r := range regions {
					area += r.Dx() * r.Dy()
				}
				if len(regions) == 0 || area >= v1.Width*v1.Height*3/4 {
					t.Fatalf("%s: regions %v (%d pixels), want a part of the screen", st.name, regions, area)
				}
				var partial, full *image.RGBA
				onMain(func() {
					scr := ebiten.NewImage(v0.Width, v0.Height)
					defer scr.Deallocate()
					r.Draw(scr, v0)
					for _, region := range regions {
						r.Draw(scr.SubImage(region).(*ebiten.Image), v1)
					}
					partial = image.NewRGBA(scr.Bounds())
					scr.ReadPixels(partial.Pix)
					var err error
					if full, err = r.Snapshot(v1); err != nil {
						t.Fatal(err)
					}
				})
				if d := diff(partial, full); d > 0.0005 {
					t.Errorf("%s: repainting %v differs from a full paint in %.3f%% of pixels", st.name, regions, d*100)
				}
			}
		})
	}
}

// TestMediaKeptAtShownSize: a large notice picture is decoded once,
// scaled to the box it is shown in (aspect kept), and only that size is
// kept; a placeholder stands for a picture that cannot be loaded.
func TestMediaKeptAtShownSize(t *testing.T) {
	loads := 0
	var pic image.Image = image.NewYCbCr(image.Rect(0, 0, 2400, 1800), image.YCbCrSubsampleRatio420)
	onMain(func() {
		r, err := NewRenderer()
		if err != nil {
			t.Fatal(err)
		}
		r.Media = func(sha string) (image.Image, error) {
			loads++
			if sha != shaPoster {
				return nil, ui.ErrMediaMissing
			}
			return pic, nil
		}
		for range 3 {
			img := r.mediaImage(shaPoster, 400, 200.4)
			if img == nil {
				t.Fatal("no image for a picture in the cache")
			}
			if got, want := img.Bounds().Size(), image.Pt(267, 200); got != want {
				t.Fatalf("kept at %v, want %v (fitted in 400x200.4, aspect 4:3)", got, want)
			}
		}
		if loads != 1 {
			t.Errorf("%d loads for one picture drawn three times, want 1", loads)
		}
		if r.mediaImage(shaGone, 400, 200) != nil {
			t.Error("an image for a picture not in the cache, want a placeholder")
		}
		pic = image.NewRGBA(image.Rect(0, 0, 400, 300))
		for i := range maxImages + 3 { // other box sizes: the cache stays bounded
			r.mediaImage(shaPoster, float64(100+i), 100)
		}
		if n := len(r.images); n > maxImages {
			t.Errorf("%d images kept, at most %d", n, maxImages)
		}
	})
}

// TestUntilArrowFrame: Wake sleeps until just after the arrow's frame turns,
// so that each wake while the car moves shows a new frame and none is
// skipped.
func TestUntilArrowFrame(t *testing.T) {
	m := newModel(t, nil)
	in := ui.Input{State: cabin(nil), AgentUp: true}
	frame := ui.ArrowPeriod / ui.ArrowFrames
	for i := range 2000 {
		now := t0.Add(time.Duration(i) * 997 * time.Microsecond) // every phase, odd offsets
		wait := untilArrowFrame(now)
		if wait <= 0 || wait > frame+2*time.Millisecond {
			t.Fatalf("at %v: wait %v, want within one frame (%v)", now, wait, frame)
		}
		in.Now = now
		a := m.View(in).ArrowFrame
		in.Now = now.Add(wait)
		b := m.View(in).ArrowFrame
		if want := (a + 1) % ui.ArrowFrames; b != want {
			t.Fatalf("at %v: frame %d, after %v frame %d, want %d", now, a, wait, b, want)
		}
	}
}

// TestUpdateNudgesWakeWhenTheArrowStarts: Wake sleeps a whole idle period
// while nothing moves; the car starting must not wait for it.
func TestUpdateNudgesWakeWhenTheArrowStarts(t *testing.T) {
	m := newModel(t, nil)
	in := ui.Input{State: cabin(func(s *wire.State) { s.Moving = false }), AgentUp: true, Now: t0}
	r := newRenderer(t)
	g := NewGame(r, func() ui.View { return m.View(in) })
	nudges := func() int {
		select {
		case <-g.nudge:
			return 1
		default:
			return 0
		}
	}
	g.Update()
	if n := nudges(); n != 0 {
		t.Fatal("nudged while the car stands still")
	}
	in.State = cabin(nil)
	g.Update()
	g.Update()
	if n := nudges(); n != 1 {
		t.Fatal("not nudged when the car started")
	}
	g.Update()
	if n := nudges(); n != 0 {
		t.Fatal("nudged again while the car keeps moving")
	}
}
