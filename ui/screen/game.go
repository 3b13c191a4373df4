package screen

import (
	"context"
	"fmt"
	"image"
	"sync/atomic"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/palier-lifts/palier/ui"
)

// Game runs a Renderer in ebiten's loop. Each tick it asks Source for the
// View; it paints only when the View differs from the last one, and the
// screen is not cleared between frames, so an unchanged screen costs one
// comparison per tick.
type Game struct {
	r *Renderer
	// Source returns the View to show now. It is called on every tick from
	// ebiten's goroutine and must be quick.
	source func() ui.View
	// Stop, if set, is polled each tick; when it returns true the game ends.
	Stop func() bool

	canvas  *ebiten.Image
	last    ui.View
	drawn   bool            // last has been painted onto canvas
	dirty   image.Rectangle // canvas region not yet copied to the screen
	paints  uint64
	outside [2]int

	animating atomic.Bool // the arrow animates: Wake schedules every frame
	ended     atomic.Bool // Update returned ebiten.Termination
}

// NewGame returns a game showing the Views source returns.
func NewGame(r *Renderer, source func() ui.View) *Game {
	return &Game{r: r, source: source}
}

// Configure applies the window settings for a cabin screen; call before
// ebiten.RunGame.
func Configure(title string, v ui.View, fullscreen bool) {
	ebiten.SetWindowTitle(title)
	ebiten.SetWindowSize(v.Width, v.Height)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetScreenClearedEveryFrame(false)
	// Frames only when scheduled (see Game.Wake): without this, ebiten
	// presents 60 frames a second even when nothing is drawn, which costs
	// several percent of a core with software GL. The mode is deprecated
	// in favour of SetScreenClearedEveryFrame(false), which alone does not
	// stop the presenting.
	ebiten.SetFPSMode(ebiten.FPSModeVsyncOffMinimum) //lint:ignore SA1019 the only way to stop idle presenting, see above
	ebiten.SetRunnableOnUnfocused(true)
	if fullscreen {
		ebiten.SetFullscreen(true)
		ebiten.SetCursorMode(ebiten.CursorModeHidden)
	}
}

// Update implements ebiten.Game.
func (g *Game) Update() error {
	if g.Stop != nil && g.Stop() {
		g.ended.Store(true)
		return ebiten.Termination
	}
	v := g.source()
	g.animating.Store(v.Moving && v.Overlay.Kind == ui.OverlayNone)
	if g.drawn && v == g.last {
		return nil
	}
	g.paint(v)
	return nil
}

func (g *Game) paint(v ui.View) {
	if g.canvas != nil && (g.canvas.Bounds().Dx() != v.Width || g.canvas.Bounds().Dy() != v.Height) {
		g.drawn = false // a new canvas needs a full paint
	}
	if g.canvas == nil || g.canvas.Bounds().Dx() != v.Width || g.canvas.Bounds().Dy() != v.Height {
		if g.canvas != nil {
			g.canvas.Deallocate()
		}
		g.canvas = ebiten.NewImage(v.Width, v.Height)
	}
	if g.drawn && OnlyArrowMoved(g.last, v) {
		g.dirty = g.dirty.Union(g.r.DrawArrow(g.canvas, v))
	} else {
		g.r.Draw(g.canvas, v)
		g.dirty = g.canvas.Bounds()
	}
	g.last, g.drawn = v, true
	g.paints++
}

// Wake schedules frames: every frame while the arrow animates, else every
// idle period (the clock and the rotation change on whole seconds). Once
// ctx is done it keeps scheduling, briefly, until Update has seen Stop: a
// single scheduled frame can be lost, and the game must still end. Call
// ebiten.ScheduleFrame directly when new data arrives, for an immediate
// update.
func (g *Game) Wake(ctx context.Context, idle time.Duration) {
	done := ctx.Done()
	var stopping time.Time
	for !g.ended.Load() {
		ebiten.ScheduleFrame() //lint:ignore SA1019 frames only on demand, see Configure
		wait := idle
		if g.animating.Load() {
			wait = time.Second / 60
		}
		if done == nil { // stopping
			if time.Since(stopping) > 5*time.Second {
				return // the loop ended some other way
			}
			wait = 20 * time.Millisecond
		}
		select {
		case <-done:
			done, stopping = nil, time.Now()
		case <-time.After(wait):
		}
	}
}

// Paints returns how many times a View was painted: once per change.
func (g *Game) Paints() uint64 { return g.paints }

// Draw implements ebiten.Game: it copies to the screen only the part of
// the canvas that changed (the screen keeps the rest: it is not cleared
// between frames).
func (g *Game) Draw(screen *ebiten.Image) {
	if g.dirty.Empty() || g.canvas == nil {
		return
	}
	op := &ebiten.DrawImageOptions{}
	op.GeoM.Translate(float64(g.dirty.Min.X), float64(g.dirty.Min.Y))
	op.Blend = ebiten.BlendCopy
	screen.DrawImage(g.canvas.SubImage(g.dirty).(*ebiten.Image), op)
	g.dirty = image.Rectangle{}
}

// Layout implements ebiten.Game: the logical size is the View's, whatever
// the window's; ebiten scales.
func (g *Game) Layout(outsideWidth, outsideHeight int) (int, int) {
	// A resized or re-exposed window may come back with a fresh screen
	// image: copy the canvas again.
	if o := [2]int{outsideWidth, outsideHeight}; o != g.outside {
		g.outside = o
		if g.canvas != nil {
			g.dirty = g.canvas.Bounds()
		}
	}
	if !g.drawn {
		return 800, 480
	}
	return g.last.Width, g.last.Height
}

// Snapshot paints v and returns its pixels. Call it from inside the game
// loop (Update), where ebiten allows reading pixels.
func (r *Renderer) Snapshot(v ui.View) (*image.RGBA, error) {
	if v.Width <= 0 || v.Height <= 0 {
		return nil, fmt.Errorf("snapshot of a %dx%d view", v.Width, v.Height)
	}
	img := ebiten.NewImage(v.Width, v.Height)
	defer img.Deallocate()
	r.Draw(img, v)
	out := image.NewRGBA(image.Rect(0, 0, v.Width, v.Height))
	img.ReadPixels(out.Pix)
	return out, nil
}
