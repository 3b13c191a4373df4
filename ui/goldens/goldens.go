package goldens

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

// T0 is the time every golden case shows: 15:07 in Monaco, a Tuesday.
var T0 = time.Date(2026, 11, 24, 14, 7, 0, 250_000_000, time.UTC)

// Tolerance is the largest fraction of pixels that may differ (as Diff
// counts them) between a drawing and its golden image.
const Tolerance = 0.005

// Config returns the configuration of the golden cases before a case's own
// edit: the building, its floor labels, no pixel shift.
func Config(edit func(*ui.Config)) ui.Config {
	cfg := ui.DefaultConfig()
	cfg.Building = "Résidence Les Pins"
	cfg.FloorLabels = map[int]string{0: "RDC", -1: "-1", -2: "P"}
	zero := 0
	cfg.PixelShift = &zero
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

// Cabin returns the golden cabin (floor 3, going up, all links up), edited.
func Cabin(edit func(*wire.State)) *wire.State {
	s := &wire.State{V: wire.Version, Site: "les-pins", Cabin: "a", Time: T0, Floor: 3,
		Direction: wire.DirectionUp, Moving: true, Doors: []string{wire.DoorClosed}, Mode: wire.ModeNormal,
		Faults: []int{}, Link: "ok", Uplink: true}
	if edit != nil {
		edit(s)
	}
	return s
}

// Notices returns the golden notice set: a works notice, and with urgent
// an urgent water cut.
func Notices(urgent bool) *wire.NoticeSet {
	ns := &wire.NoticeSet{V: wire.Version, Site: "les-pins", Version: 3, Notices: []wire.Notice{{
		ID: "facade", Category: wire.CategoryWorks, Priority: wire.PriorityNormal,
		Title: wire.Text{FR: "Ravalement de façade", EN: "Façade renovation", IT: "Rifacimento della facciata"},
		Body: wire.Text{
			FR: "Les travaux côté cour débutent lundi à 8 h. Échafaudage jusqu'à fin décembre ; merci de garder les fenêtres fermées. Où ? Bâtiment A, à l'arrière. Ça durera trois semaines.",
			EN: "Work on the courtyard side starts Monday at 8 am. Scaffolding until the end of December; please keep the windows closed.",
			IT: "I lavori sul lato cortile iniziano lunedì alle 8. Ponteggio fino a fine dicembre; si prega di tenere chiuse le finestre. Perché è così? Più sicurezza.",
		},
		ValidFrom: T0.Add(-24 * time.Hour),
	}}}
	if urgent {
		until := T0.Add(6 * time.Hour)
		ns.Notices = append(ns.Notices, wire.Notice{
			ID: "eau", Category: wire.CategoryWater, Priority: wire.PriorityUrgent,
			Title:     wire.Text{FR: "Coupure d'eau aujourd'hui de 14 h à 17 h", EN: "Water cut today 2 pm to 5 pm", IT: "Acqua interrotta oggi dalle 14 alle 17"},
			Body:      wire.Text{FR: "Intervention sur la colonne montante. Évitez d'ouvrir les robinets."},
			ValidFrom: T0.Add(-time.Hour), ValidUntil: &until,
		})
	}
	return ns
}

// Media of the golden notices: ShaPoster stands for Poster, ShaGone for a
// picture the screen does not have.
var (
	ShaPoster = strings.Repeat("ab", 32)
	ShaGone   = strings.Repeat("cd", 32)
)

// Poster is a synthetic notice picture: a sky gradient, a sun, a building.
func Poster() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 300; x++ {
			c := color.RGBA{uint8(40 + y/2), uint8(90 + y/3), 200, 0xff}
			if (x-230)*(x-230)+(y-50)*(y-50) < 900 {
				c = color.RGBA{0xff, 0xd5, 0x4f, 0xff}
			}
			if x > 60 && x < 160 && y > 70 {
				c = color.RGBA{0xee, 0xee, 0xee, 0xff}
				if (x-60)%25 > 8 && (x-60)%25 < 18 && (y-70)%30 > 8 && (y-70)%30 < 22 {
					c = color.RGBA{0x30, 0x50, 0x80, 0xff}
				}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// MediaNotices returns the golden notice set with a picture of the given
// SHA-256 on its notice.
func MediaNotices(sha string) *wire.NoticeSet {
	ns := Notices(false)
	ns.Notices[0].Body.FR = "Nouveau local à vélos au sous-sol, accès par le badge."
	ns.Notices[0].Media = []wire.Media{{URL: "https://syndic.example/velo.png", SHA256: sha, Type: "image/png", Size: 1234}}
	return ns
}

// Case is one golden screen: its configuration (Config with Edit applied)
// and its input; its image is Path(Name).
type Case struct {
	Name string
	Edit func(*ui.Config)
	In   ui.Input
}

// Config returns the case's whole configuration.
func (c Case) Config() ui.Config { return Config(c.Edit) }

// Path returns where the golden image of a case lives.
func Path(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "screen", "testdata", name+".png")
}

// Read decodes the golden image of a case.
func Read(name string) (image.Image, error) {
	f, err := os.Open(Path(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("golden %s: %w", name, err)
	}
	return img, nil
}

// Cases returns every golden case, in French.
func Cases() []Case {
	fr := func(c *ui.Config) { c.Languages = []string{"fr", "en", "it"}; c.LanguagePeriod = 24 * time.Hour } // French at T0
	var gs []Case
	for _, l := range []string{"800x480", "1024x600", "1280x800", "1920x1080"} {
		for _, o := range []string{"landscape", "portrait"} {
			gs = append(gs, Case{
				Name: "main-" + l + "-" + o,
				Edit: func(c *ui.Config) { fr(c); c.Layout = l; c.Orientation = o },
				In:   ui.Input{State: Cabin(nil), Notices: Notices(false), AgentUp: true, Now: T0},
			})
		}
	}
	gs = append(gs,
		Case{"urgent-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Floor = 0; s.Moving = false; s.Direction = wire.DirectionNone }), Notices: Notices(true), AgentUp: true, Now: T0}},
		Case{"agent-away-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Floor = -2; s.Direction = wire.DirectionDown }), AgentUp: false, Now: T0}},
		Case{"connecting-800x480", fr, ui.Input{Now: T0}},
		Case{"alarm-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Alarm = true; s.Moving = false }), Notices: Notices(true), AgentUp: true, Now: T0}},
		Case{"alarm-delivered-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Alarm = true; s.AlarmProgress = wire.AlarmDelivered; s.Moving = false }), AgentUp: true, Now: T0}},
		Case{"alarm-acknowledged-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Alarm = true; s.AlarmProgress = wire.AlarmAcknowledged; s.Moving = false }), AgentUp: true, Now: T0}},
		Case{"alarm-1080x1920", func(c *ui.Config) { fr(c); c.Layout = "1920x1080"; c.Orientation = "portrait" }, ui.Input{State: Cabin(func(s *wire.State) { s.Alarm = true }), AgentUp: true, Now: T0}},
		Case{"fire-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Mode = wire.ModeFireService }), AgentUp: true, Now: T0}},
		Case{"out-of-service-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Mode = wire.ModeOutOfService; s.Moving = false }), AgentUp: true, Now: T0}},
		Case{"inspection-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Mode = wire.ModeInspection }), AgentUp: true, Now: T0}},
		Case{"overload-800x480", fr, ui.Input{State: Cabin(func(s *wire.State) { s.Mode = wire.ModeOverload; s.Moving = false }), AgentUp: true, Now: T0}},
		Case{"media-800x480", fr, ui.Input{State: Cabin(nil), Notices: MediaNotices(ShaPoster), AgentUp: true, Now: T0}},
		Case{"media-missing-800x480", fr, ui.Input{State: Cabin(nil), Notices: MediaNotices(ShaGone), AgentUp: true, Now: T0}},
		Case{"night-800x480", func(c *ui.Config) { fr(c); c.Night = &ui.Night{From: "14:00", To: "16:00"} }, ui.Input{State: Cabin(nil), Notices: Notices(false), AgentUp: true, Now: T0}},
	)
	return gs
}

// Diff returns the fraction of pixels whose red, green or blue differs by
// more than 40 of 255: antialiasing may vary between GL drivers, layouts
// may not. Pictures of different bounds differ wholly.
func Diff(a, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		return 1
	}
	bad := 0
	bb := b.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y++ {
		for x := bb.Min.X; x < bb.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if absDiff(r1, r2) > 40<<8 || absDiff(g1, g2) > 40<<8 || absDiff(b1, b2) > 40<<8 {
				bad++
			}
		}
	}
	return float64(bad) / float64(bb.Dx()*bb.Dy())
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
