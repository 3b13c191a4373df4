package screen

import (
	"image"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/palier-lifts/palier/ui"
)

// BenchmarkFrameAnimating paints the frames of a moving car (arrow
// animating, notice and urgent banner on screen) at 800x480 the way Game
// does, and reads one pixel back after each, which waits for the GPU: the
// time is what one animated frame costs end to end, an upper bound of the
// real frame's work. It reports the p50
// and p99 frame time in milliseconds (the goal is p99 under 16.7 ms).
func BenchmarkFrameAnimating(b *testing.B) {
	benchFrames(b, "800x480", "landscape")
}

func BenchmarkFrameAnimating1920x1080(b *testing.B) {
	benchFrames(b, "1920x1080", "landscape")
}

var noSync = os.Getenv("BENCH_NOSYNC") != ""

func benchFrames(b *testing.B, layout, orientation string) {
	m := newModel(b, func(c *ui.Config) { c.Layout = layout; c.Orientation = orientation })
	in := ui.Input{State: cabin(nil), Notices: noticeSet(true), AgentUp: true, Now: t0}
	var times []time.Duration
	onMain(func() {
		r, err := NewRenderer()
		if err != nil {
			b.Fatal(err)
		}
		v := m.View(in)
		canvas := ebiten.NewImage(v.Width, v.Height)
		defer canvas.Deallocate()
		// screen stands for ebiten's screen: each frame is painted on the
		// canvas (the arrow alone while it animates) and its changed part
		// copied to it, as Game does.
		screen := ebiten.NewImage(v.Width, v.Height)
		defer screen.Deallocate()
		px := screen.SubImage(image.Rect(0, 0, 1, 1)).(*ebiten.Image)
		r.Draw(canvas, v) // warm the glyph caches
		screen.DrawImage(canvas, nil)
		px.At(0, 0)
		last := v
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			in.Now = in.Now.Add(time.Second / 60)
			start := time.Now()
			v := m.View(in)
			dirty := canvas.Bounds()
			if OnlyArrowMoved(last, v) {
				dirty = r.DrawArrow(canvas, v)
			} else {
				r.Draw(canvas, v)
			}
			last = v
			op := &ebiten.DrawImageOptions{}
			op.GeoM.Translate(float64(dirty.Min.X), float64(dirty.Min.Y))
			op.Blend = ebiten.BlendCopy
			screen.DrawImage(canvas.SubImage(dirty).(*ebiten.Image), op)
			if !noSync {
				px.At(0, 0) // flush and wait for the GPU
			}
			times = append(times, time.Since(start))
		}
		b.StopTimer()
	})
	slices.Sort(times)
	q := func(p float64) float64 {
		return float64(times[min(len(times)-1, int(p*float64(len(times))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
