package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/screen"
	"github.com/palier-lifts/palier/wire"
)

// screenshot renders one frame, from fixture files or, without --state, from
// what the running agent serves on --socket. ebiten reads pixels only inside
// its loop, so a one-tick game does the work.
func screenshot(model *ui.Model, o options) error {
	var in ui.Input
	if o.state == "" {
		live, err := liveInput(o.socket)
		if err != nil {
			return err
		}
		in = live
	} else {
		b, err := os.ReadFile(o.state)
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		st, err := wire.DecodeState(b)
		if err != nil {
			return fmt.Errorf("state %s: %w", o.state, err)
		}
		in = ui.Input{State: &st, AgentUp: true, Now: st.Time}
	}
	var err error
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

// liveInput reads the state and notices the agent sends on connect.
func liveInput(path string) (ui.Input, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := livefeed.Dial(ctx, path)
	if err != nil {
		return ui.Input{}, fmt.Errorf("--screenshot without --state reads the running agent: %w", err)
	}
	defer c.Close()
	in := ui.Input{AgentUp: true, Now: time.Now()}
	c.ReadTimeout = 5 * time.Second
	for {
		line, err := c.NextLine()
		if err != nil {
			if in.State != nil {
				return in, nil // the notices, if any, came with the state
			}
			return ui.Input{}, fmt.Errorf("read the agent's state from %s: %w", path, err)
		}
		m, err := livefeed.DecodeMessage(line)
		if err != nil {
			continue
		}
		switch m.Type {
		case livefeed.TypeState:
			in.State = m.State
			c.ReadTimeout = 300 * time.Millisecond
		case livefeed.TypeNotices:
			in.Notices = m.Notices
		case livefeed.TypeKeepalive:
			if in.State != nil {
				return in, nil
			}
		}
	}
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
	tmp, err := atomicfile.Create(filepath.Dir(path), ".screenshot-*.png")
	if err != nil {
		return fmt.Errorf("write screenshot: %w", err)
	}
	defer tmp.Abort() // nothing once committed
	if err := png.Encode(tmp, img); err != nil {
		return fmt.Errorf("encode screenshot: %w", err)
	}
	if err := tmp.Commit(path); err != nil {
		return fmt.Errorf("write screenshot: %w", err)
	}
	return nil
}
