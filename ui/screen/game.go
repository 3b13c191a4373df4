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
// View; it paints only when the View differs from the one on screen, and
// straight onto ebiten's screen, which is not cleared between frames: an
// unchanged screen costs one comparison per tick, and an arrow frame
// repaints the arrow's box alone. There is no canvas of our own: with
// software GL every full-screen image is resident memory (8 MiB at
// 1920x1080, more once rounded to a power of two).
type Game struct {
	r *Renderer
	// Source returns the View to show now. It is called on every tick from
	// ebiten's goroutine and must be quick.
	source func() ui.View
	// Stop, if set, is polled each tick; when it returns true the game ends.
	Stop func() bool

	want    ui.View       // the View Update last got
	has     bool          // want is set
	shown   ui.View       // the View painted on screen
	screen  *ebiten.Image // the screen shown was painted on; nil: paint it whole
	paints  uint64
	outside [2]int

	animating atomic.Bool   // the arrow animates: Wake schedules every arrow frame
	nudge     chan struct{} // Update tells Wake the arrow started
	ended     atomic.Bool   // Update returned ebiten.Termination
}

// NewGame returns a game showing the Views source returns.
func NewGame(r *Renderer, source func() ui.View) *Game {
	return &Game{r: r, source: source, nudge: make(chan struct{}, 1)}
}

// Configure applies the window settings for a cabin screen; call before
// ebiten.RunGame.
func Configure(title string, v ui.View, fullscreen bool) {
	ebiten.SetWindowTitle(title)
	ebiten.SetWindowSize(v.Width, v.Height)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	// Game paints only what changed and relies on the screen keeping the
	// rest.
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
	anim := v.Moving && v.Overlay.Kind == ui.OverlayNone
	if g.animating.Swap(anim) != anim && anim {
		select {
		case g.nudge <- struct{}{}:
		default:
		}
	}
	g.want, g.has = v, true
	return nil
}

// Wake schedules frames: one per arrow frame while the arrow animates,
// just after the frame turns (ebiten presents the whole screen on every
// frame it runs, so a frame that shows nothing new costs about as much as
// one that does), else just after each multiple of idle since the epoch (the
// clock and the rotation change on whole seconds). Once ctx is done it keeps
// scheduling, briefly, until Update has seen Stop: a single scheduled frame
// can be lost, and the game must still end. Call ebiten.ScheduleFrame
// directly when new data arrives, for an immediate update.
func (g *Game) Wake(ctx context.Context, idle time.Duration) {
	if idle <= 0 {
		idle = time.Second
	}
	done := ctx.Done()
	var stopping time.Time
	for !g.ended.Load() {
		ebiten.ScheduleFrame() //lint:ignore SA1019 frames only on demand, see Configure
		now := time.Now()
		wait := idle - time.Duration(now.UnixNano())%idle + 2*time.Millisecond
		if g.animating.Load() {
			wait = untilArrowFrame(now)
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
		case <-g.nudge: // the arrow started: no need to wait for the idle tick
		case <-time.After(wait):
		}
	}
}

// untilArrowFrame returns how long after now the View's ArrowFrame next
// changes. The model counts whole milliseconds into the period: frame k
// starts at millisecond ceil(k*period/frames).
func untilArrowFrame(now time.Time) time.Duration {
	in := time.Duration(now.UnixNano()) % ui.ArrowPeriod
	if in < 0 {
		in += ui.ArrowPeriod
	}
	period := ui.ArrowPeriod.Milliseconds()
	k := int64(in/time.Millisecond) * ui.ArrowFrames / period
	next := ((k+1)*period + ui.ArrowFrames - 1) / ui.ArrowFrames
	return time.Duration(next)*time.Millisecond - in + 100*time.Microsecond
}

// Paints returns how many times a View was painted: once per change.
func (g *Game) Paints() uint64 { return g.paints }

// Draw implements ebiten.Game: it paints the View Update got when it is not
// the one on screen: the arrow's box alone when only the arrow moved, the
// panels that changed when that is enough (see ChangedRegions), else
// everything.
func (g *Game) Draw(screen *ebiten.Image) {
	if !g.has {
		return
	}
	v := g.want
	if b := screen.Bounds(); b.Dx() != v.Width || b.Dy() != v.Height {
		// Layout has not caught up with a new size yet; ebiten makes a
		// screen of the right size on the next frame.
		g.screen = nil
		ebiten.ScheduleFrame() //lint:ignore SA1019 frames only on demand, see Configure
		return
	}
	switch {
	case screen == g.screen && v == g.shown:
		return
	case screen == g.screen && OnlyArrowMoved(g.shown, v):
		g.r.DrawArrow(screen, v)
	case screen == g.screen:
		// The panels that changed only: with software GL a full paint is
		// bound by the pixels it fills (about 50 ms at 1920x1080).
		if regions, ok := ChangedRegions(g.shown, v); ok {
			for _, r := range regions {
				g.r.Draw(screen.SubImage(r).(*ebiten.Image), v)
			}
		} else {
			g.r.Draw(screen, v)
		}
	default:
		g.r.Draw(screen, v)
	}
	g.shown, g.screen = v, screen
	g.paints++
}

// Layout implements ebiten.Game: the logical size is the View's, whatever
// the window's; ebiten scales.
func (g *Game) Layout(outsideWidth, outsideHeight int) (int, int) {
	// A resized or re-exposed window may come back with a fresh screen
	// image (the same *ebiten.Image or not): paint it whole.
	if o := [2]int{outsideWidth, outsideHeight}; o != g.outside {
		g.outside = o
		g.screen = nil
	}
	if !g.has {
		// Before the first Update: the View's size already, or ebiten
		// makes a screen image of another size first, for nothing.
		g.want, g.has = g.source(), true
	}
	return g.want.Width, g.want.Height
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
