package main

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/screen"
	"github.com/palier-lifts/palier/wire"
)

// screenshot renders one frame from fixture files. ebiten reads pixels only
// inside its loop, so a one-tick game does the work.
func screenshot(model *ui.Model, o options) error {
	if o.state == "" {
		return errors.New("--screenshot needs --state FILE")
	}
	b, err := os.ReadFile(o.state)
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	st, err := wire.DecodeState(b)
	if err != nil {
		return fmt.Errorf("state %s: %w", o.state, err)
	}
	in := ui.Input{State: &st, AgentUp: true, Now: st.Time}
	if o.notices != "" {
		b, err := os.ReadFile(o.notices)
		if err != nil {
			return fmt.Errorf("read notices: %w", err)
		}
		ns, err := wire.DecodeNoticeSet(b)
		if err != nil {
			return fmt.Errorf("notices %s: %w", o.notices, err)
		}
		in.Notices = &ns
	}
	if o.at != "" {
		if in.Now, err = time.Parse(time.RFC3339, o.at); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	v := model.View(in)

	r, err := newRenderer(o)
	if err != nil {
		return err
	}
	g := &shotGame{v: v, r: r, out: o.screenshot}
	ebiten.SetWindowTitle("Palier screenshot")
	ebiten.SetWindowSize(v.Width/2, v.Height/2)
	if err := ebiten.RunGameWithOptions(g, &ebiten.RunGameOptions{InitUnfocused: true}); err != nil && !errors.Is(err, ebiten.Termination) {
		return fmt.Errorf("render: %w", err)
	}
	return g.err
}

type shotGame struct {
	v   ui.View
	r   *screen.Renderer
	out string
	err error
}

func (g *shotGame) Update() error {
	img, err := g.r.Snapshot(g.v)
	if err != nil {
		g.err = err
		return ebiten.Termination
	}
	g.err = writePNG(g.out, img)
	return ebiten.Termination
}

func (g *shotGame) Draw(*ebiten.Image)         {}
func (g *shotGame) Layout(int, int) (int, int) { return g.v.Width, g.v.Height }

// writePNG writes atomically so a reader never sees half an image.
func writePNG(path string, img *image.RGBA) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".screenshot-*.png")
	if err != nil {
		return fmt.Errorf("write screenshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := png.Encode(tmp, img); err != nil {
		tmp.Close()
		return fmt.Errorf("encode screenshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write screenshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write screenshot %s: %w", path, err)
	}
	return nil
}
