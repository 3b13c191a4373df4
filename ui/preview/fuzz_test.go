package preview_test

import (
	"testing"
	"time"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/preview"
)

// FuzzDecode: a request comes from a browser; decoding must not panic,
// and an accepted request must build a Model whose View has its layout.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(example))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := preview.Decode(b, time.Date(2026, 11, 24, 14, 7, 0, 0, time.UTC))
		if err != nil {
			return
		}
		m, err := ui.NewModel(p.Config)
		if err != nil {
			t.Fatalf("accepted request does not build a model: %v", err)
		}
		v := m.View(p.Input)
		if w, h := p.Config.Size(); v.Width != w || v.Height != h || len(p.Config.Languages) != 1 || v.Lang != p.Config.Languages[0] {
			t.Fatalf("view %dx%d in %s for config %+v", v.Width, v.Height, v.Lang, p.Config)
		}
	})
}
