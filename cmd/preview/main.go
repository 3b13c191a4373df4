//go:build js && wasm

package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"sync"
	"syscall/js"
	"time"
	_ "time/tzdata" // the browser gives Go no zoneinfo: the sites' time zones are embedded

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/preview"
	"github.com/palier-lifts/palier/ui/screen"
	"github.com/palier-lifts/palier/wire"
)

func main() {
	l := &loop{jobs: make(chan func(*screen.Renderer), 64), failed: make(chan struct{}), media: newMediaCache()}
	js.Global().Set("palierPreview", js.FuncOf(l.jsPreview))
	// Frames only on demand: an idle preview costs nothing per frame.
	ebiten.SetFPSMode(ebiten.FPSModeVsyncOffMinimum) //lint:ignore SA1019 the only way to stop idle presenting, as the display does
	ebiten.SetRunnableOnUnfocused(true)
	ebiten.SetScreenClearedEveryFrame(false)
	// InitUnfocused: the canvas must not take the focus from the page's form.
	err := ebiten.RunGameWithOptions(l, &ebiten.RunGameOptions{InitUnfocused: true})
	if err == nil {
		err = errors.New("the drawing loop ended")
	}
	l.fail(fmt.Errorf("the screen's preview needs WebGL in this browser, and it could not start: %w", err))
	select {} // keep palierPreview answering (with the error)
}

// loop is the ebiten game: its Update runs the jobs the requests queue,
// because ebiten reads pixels only inside its loop.
type loop struct {
	jobs    chan func(*screen.Renderer)
	r       *screen.Renderer
	started bool
	media   *mediaCache

	failOnce sync.Once
	failed   chan struct{}
	err      error
}

func (l *loop) fail(err error) {
	l.failOnce.Do(func() {
		l.err = err
		close(l.failed)
		started(err.Error())
	})
}

// started tells the loader script (preview.js) that the loop runs (msg
// empty) or could not start.
func started(msg string) {
	f := js.Global().Get("palierPreviewStarted")
	if f.Type() != js.TypeFunction {
		return
	}
	if msg == "" {
		f.Invoke(js.Null())
	} else {
		f.Invoke(msg)
	}
}

// Update implements ebiten.Game.
func (l *loop) Update() error {
	if !l.started {
		l.started = true
		r, err := screen.NewRenderer()
		if err != nil {
			return fmt.Errorf("load the screen's renderer: %w", err)
		}
		r.Media = l.media.load
		l.r = r
		started("")
	}
	for {
		select {
		case job := <-l.jobs:
			job(l.r)
		default:
			return nil
		}
	}
}

// Draw implements ebiten.Game: nothing is shown, the previews are read
// back.
func (l *loop) Draw(*ebiten.Image) {}

// Layout implements ebiten.Game: the canvas is hidden; keep it small.
func (l *loop) Layout(int, int) (int, int) { return 16, 16 }

// snapshot runs the drawing of v in the loop and waits for it.
func (l *loop) snapshot(v ui.View) (*image.RGBA, error) {
	type result struct {
		img *image.RGBA
		err error
	}
	done := make(chan result, 1)
	job := func(r *screen.Renderer) {
		img, err := r.Snapshot(v)
		done <- result{img, err}
	}
	select {
	case l.jobs <- job:
	case <-l.failed:
		return nil, l.err
	}
	ebiten.ScheduleFrame() //lint:ignore SA1019 frames only on demand, see main
	select {
	case res := <-done:
		return res.img, res.err
	case <-l.failed:
		return nil, l.err
	}
}

// jsPreview is globalThis.palierPreview: it returns a Promise and works in
// a goroutine, since a JS callback must not block.
func (l *loop) jsPreview(_ js.Value, args []js.Value) any {
	var reqJSON string
	var argErr error
	switch {
	case len(args) != 1:
		argErr = fmt.Errorf("palierPreview takes one argument, the request (%d given)", len(args))
	case args[0].Type() == js.TypeString:
		reqJSON = args[0].String()
	case args[0].Type() == js.TypeObject:
		reqJSON = js.Global().Get("JSON").Call("stringify", args[0]).String()
	default:
		argErr = fmt.Errorf("palierPreview: the request is a %s, want an object or its JSON", args[0].Type())
	}
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, pa []js.Value) any {
		executor.Release()
		resolve, reject := pa[0], pa[1]
		go func() {
			url, err := l.render(reqJSON, argErr)
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(url)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}

// render draws a request and returns its PNG data URL.
func (l *loop) render(reqJSON string, argErr error) (string, error) {
	if argErr != nil {
		return "", argErr
	}
	select {
	case <-l.failed:
		return "", l.err
	default:
	}
	p, err := preview.Decode([]byte(reqJSON), time.Now())
	if err != nil {
		return "", err
	}
	m, err := ui.NewModel(p.Config)
	if err != nil {
		return "", err
	}
	v := m.View(p.Input)
	if v.Notice.Media != "" {
		l.media.fetch(v.Notice.Media)
	}
	img, err := l.snapshot(v)
	if err != nil {
		return "", fmt.Errorf("draw the preview: %w", err)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return "", fmt.Errorf("encode the preview: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// jsError is a JS Error with err's message and, for a field at fault, a
// field property naming it.
func jsError(err error) js.Value {
	e := js.Global().Get("Error").New(err.Error())
	var fe *wire.FieldError
	if errors.As(err, &fe) {
		e.Set("field", fe.Field)
	}
	return e
}
