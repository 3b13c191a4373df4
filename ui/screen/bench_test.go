package screen

import (
	"bufio"
	"image"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/palier-lifts/palier/ui"
)

// BenchmarkFrameAnimating runs a Game through the frames of a moving car
// (arrow animating, notice and urgent banner on screen, the language
// rotating every 6 s), one arrow frame per iteration, at 800x480: Update,
// then Draw onto an image standing
// for ebiten's screen, then one pixel read back, which waits for the GPU
// (ebiten reads the whole image back to do it). The time is what one
// animated frame costs end to end, an upper bound of the real frame's work.
// It reports the p50 and p99 frame time in milliseconds (the goal is p99
// under 16.7 ms), the allocations per frame without the read-back's, and
// the process's resident memory at the end (VmRSS: the GL stack included).
func BenchmarkFrameAnimating(b *testing.B) {
	benchFrames(b, "800x480", "landscape")
}

func BenchmarkFrameAnimating1024x600(b *testing.B) {
	benchFrames(b, "1024x600", "landscape")
}

func BenchmarkFrameAnimating1920x1080(b *testing.B) {
	benchFrames(b, "1920x1080", "landscape")
}

// BENCH_NOSYNC=1 leaves out the read-back: the time is then only what the
// CPU spends to queue the frame.
var noSync = os.Getenv("BENCH_NOSYNC") != ""

func benchFrames(b *testing.B, layout, orientation string) {
	m := newModel(b, func(c *ui.Config) { c.Layout = layout; c.Orientation = orientation })
	// One arrow frame per iteration, sampled in the middle of each frame
	// (the model counts whole milliseconds): each iteration paints.
	frame := ui.ArrowPeriod / ui.ArrowFrames
	in := ui.Input{State: cabin(nil), Notices: noticeSet(true), AgentUp: true, Now: t0.Truncate(ui.ArrowPeriod).Add(frame / 2)}
	var times []time.Duration
	var paints uint64
	var mallocs uint64
	onMain(func() {
		r, err := NewRenderer()
		if err != nil {
			b.Fatal(err)
		}
		g := NewGame(r, func() ui.View { return m.View(in) })
		v := m.View(in)
		screen := ebiten.NewImage(v.Width, v.Height)
		defer screen.Deallocate()
		px := screen.SubImage(image.Rect(0, 0, 1, 1)).(*ebiten.Image)
		g.Update() // the first, full paint also warms the glyph caches
		g.Draw(screen)
		px.At(0, 0)
		times = make([]time.Duration, 0, b.N)
		var ms runtime.MemStats
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			in.Now = in.Now.Add(frame)
			start := time.Now()
			runtime.ReadMemStats(&ms)
			before := ms.Mallocs
			g.Update()
			g.Draw(screen)
			runtime.ReadMemStats(&ms)
			mallocs += ms.Mallocs - before
			if !noSync {
				px.At(0, 0) // flush and wait for the GPU
			}
			times = append(times, time.Since(start))
		}
		b.StopTimer()
		paints = g.Paints()
	})
	slices.Sort(times)
	q := func(p float64) float64 {
		return float64(times[min(len(times)-1, int(p*float64(len(times))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(mallocs)/float64(b.N), "allocs/frame")
	b.ReportMetric(float64(paints-1)/float64(b.N), "paints/frame")
	if rss := vmRSS(); rss > 0 {
		b.ReportMetric(rss, "rss-MiB")
	}
}

// vmRSS returns the process's resident memory in MiB, 0 if unknown.
func vmRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkFullPaint paints the whole 1920x1080 screen, the language
// changing every iteration (as the rotation does every few seconds), and
// reads a pixel back: the frame that the arrow-only repaint avoids.
func BenchmarkFullPaint1920x1080(b *testing.B) {
	m := newModel(b, func(c *ui.Config) { c.Layout = "1920x1080" })
	in := ui.Input{State: cabin(nil), Notices: noticeSet(true), AgentUp: true, Now: t0}
	var times []time.Duration
	onMain(func() {
		r, err := NewRenderer()
		if err != nil {
			b.Fatal(err)
		}
		v := m.View(in)
		screen := ebiten.NewImage(v.Width, v.Height)
		defer screen.Deallocate()
		px := screen.SubImage(image.Rect(0, 0, 1, 1)).(*ebiten.Image)
		for range 3 { // every language's glyphs cached
			r.Draw(screen, m.View(in))
			in.Now = in.Now.Add(6 * time.Second)
		}
		px.At(0, 0)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			in.Now = in.Now.Add(6 * time.Second)
			start := time.Now()
			r.Draw(screen, m.View(in))
			px.At(0, 0)
			times = append(times, time.Since(start))
		}
	})
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/float64(time.Millisecond), "p50-ms")
}
