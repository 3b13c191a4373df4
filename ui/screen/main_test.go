package screen

import (
	"errors"
	"os"
	"testing"

	"github.com/hajimehoshi/ebiten/v2"

	_ "github.com/palier-lifts/palier/ui/screen/internal/displaytest"
)

// The screen tests need ebiten's loop: ReadPixels works only inside
// RunGame. TestMain runs the loop on the main goroutine and the tests in
// another; onMain hands a function to the loop and waits for it.
type loop struct {
	funcs chan func()
	done  chan struct{}
}

var theLoop = loop{funcs: make(chan func()), done: make(chan struct{})}

func (l *loop) Update() error {
	for {
		select {
		case f := <-l.funcs:
			f()
		case <-l.done:
			return ebiten.Termination
		default:
			return nil
		}
	}
}
func (l *loop) Draw(*ebiten.Image)         {}
func (l *loop) Layout(int, int) (int, int) { return 320, 240 }

// onMain runs f inside ebiten's Update and returns when it is done.
func onMain(f func()) {
	finished := make(chan struct{})
	theLoop.funcs <- func() {
		defer close(finished)
		f()
	}
	<-finished
}

// newRenderer makes a Renderer on the main thread, as ebiten wants.
func newRenderer(t *testing.T) *Renderer {
	t.Helper()
	var r *Renderer
	var err error
	onMain(func() { r, err = NewRenderer() })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMain(m *testing.M) {
	code := 0
	go func() {
		code = m.Run()
		close(theLoop.done)
	}()
	ebiten.SetWindowSize(320, 240)
	ebiten.SetWindowTitle("palier screen tests")
	if err := ebiten.RunGameWithOptions(&theLoop, &ebiten.RunGameOptions{InitUnfocused: true}); err != nil && !errors.Is(err, ebiten.Termination) {
		os.Stderr.WriteString("ebiten: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(code)
}
