package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/wire"
)

// 14:00 UTC is 15:00 in Monaco in November.
var t0 = time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)

func model(t testing.TB, edit func(*Config)) *Model {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Building = "Résidence Les Pins"
	cfg.FloorLabels = map[int]string{0: "RDC", -1: "-1", -2: "P"}
	if edit != nil {
		edit(&cfg)
	}
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func st(edit func(*wire.State)) *wire.State {
	s := &wire.State{V: wire.Version, Site: "les-pins", Cabin: "a", Time: t0, Floor: 3,
		Direction: wire.DirectionNone, Doors: []string{wire.DoorOpen}, Mode: wire.ModeNormal,
		Faults: []int{}, Link: "ok", Uplink: true}
	if edit != nil {
		edit(s)
	}
	return s
}

func notice(id, prio string, from time.Time, until *time.Time) wire.Notice {
	return wire.Notice{ID: id, Category: wire.CategoryWorks, Priority: prio,
		Title: wire.Text{FR: "Titre " + id, EN: "Title " + id, IT: "Titolo " + id},
		Body:  wire.Text{FR: "Corps " + id}, ValidFrom: from, ValidUntil: until}
}

func set(ns ...wire.Notice) *wire.NoticeSet {
	return &wire.NoticeSet{V: wire.Version, Site: "les-pins", Version: 1, Notices: ns}
}

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func TestFloorLabels(t *testing.T) {
	m := model(t, nil)
	for _, tc := range []struct {
		floor int
		want  string
	}{{0, "RDC"}, {-1, "-1"}, {-2, "P"}, {5, "5"}, {-3, "-3"}, {12, "12"}} {
		v := m.View(Input{State: st(func(s *wire.State) { s.Floor = tc.floor }), AgentUp: true, Now: t0})
		if v.Floor != tc.want {
			t.Errorf("floor %d shows %q, want %q", tc.floor, v.Floor, tc.want)
		}
	}
}

func TestClockDateAndTimeZone(t *testing.T) {
	for _, tc := range []struct {
		zone, lang, clock, date string
	}{
		{"Europe/Monaco", "fr", "15:00", "mardi 24 novembre 2026"},
		{"Europe/Monaco", "en", "15:00", "Tuesday 24 November 2026"},
		{"Europe/Monaco", "it", "15:00", "martedì 24 novembre 2026"},
		{"America/New_York", "fr", "09:00", "mardi 24 novembre 2026"},
		{"Asia/Tokyo", "fr", "23:00", "mardi 24 novembre 2026"},
		{"Pacific/Kiritimati", "fr", "04:00", "mercredi 25 novembre 2026"},
	} {
		m := model(t, func(c *Config) { c.TimeZone = tc.zone; c.Languages = []string{tc.lang} })
		v := m.View(Input{State: st(nil), AgentUp: true, Now: t0})
		if v.Clock != tc.clock || v.Date != tc.date {
			t.Errorf("%s %s: %q %q, want %q %q", tc.zone, tc.lang, v.Clock, v.Date, tc.clock, tc.date)
		}
	}
}

func TestDirectionAndArrowAnimation(t *testing.T) {
	m := model(t, nil)
	for _, tc := range []struct {
		name      string
		dir       string
		moving    bool
		offset    time.Duration
		wantFrame int
	}{
		{"idle", wire.DirectionNone, false, 500 * time.Millisecond, 0},
		{"stopped with a direction", wire.DirectionUp, false, 500 * time.Millisecond, 0},
		{"up start of period", wire.DirectionUp, true, 0, 0},
		{"up mid period", wire.DirectionUp, true, 500 * time.Millisecond, ArrowFrames / 2},
		{"down last frame", wire.DirectionDown, true, ArrowPeriod - time.Millisecond, ArrowFrames - 1},
		{"wraps", wire.DirectionDown, true, ArrowPeriod + 250*time.Millisecond, ArrowFrames / 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := m.View(Input{State: st(func(s *wire.State) { s.Direction = tc.dir; s.Moving = tc.moving }), AgentUp: true, Now: t0.Add(tc.offset)})
			if v.Direction != tc.dir || v.Moving != tc.moving || v.ArrowFrame != tc.wantFrame {
				t.Fatalf("direction %q moving %v frame %d, want %q %v %d", v.Direction, v.Moving, v.ArrowFrame, tc.dir, tc.moving, tc.wantFrame)
			}
		})
	}
}

func TestValidityWindowsAndPriority(t *testing.T) {
	ns := set(
		notice("low", wire.PriorityLow, t0.Add(-time.Hour), nil),
		notice("future", wire.PriorityUrgent, t0.Add(time.Hour), nil),
		notice("expired", wire.PriorityUrgent, t0.Add(-2*time.Hour), at(-time.Hour)),
		notice("ends-now", wire.PriorityNormal, t0.Add(-2*time.Hour), at(0)),
		notice("normal-old", wire.PriorityNormal, t0.Add(-48*time.Hour), at(time.Hour)),
		notice("normal-new", wire.PriorityNormal, t0.Add(-time.Hour), nil),
		notice("urgent", wire.PriorityUrgent, t0, nil),
	)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-30 * time.Minute), "normal-new ends-now normal-old low"},
		{t0, "urgent normal-new normal-old low"},
		{t0.Add(90 * time.Minute), "future urgent normal-new low"},
	} {
		var ids []string
		for _, n := range ActiveNotices(ns, tc.at, time.UTC) {
			ids = append(ids, n.ID)
		}
		if got := strings.Join(ids, " "); got != tc.want {
			t.Errorf("at %s: %q, want %q", tc.at.Format(time.Kitchen), got, tc.want)
		}
	}
}

func TestActiveNoticesSkipsInvalid(t *testing.T) {
	bad := notice("bad", wire.PriorityNormal, t0, nil)
	bad.Title.FR = ""
	got := ActiveNotices(set(bad, notice("ok", wire.PriorityLow, t0, nil)), t0, time.UTC)
	if len(got) != 1 || got[0].ID != "ok" {
		t.Fatalf("active %v, want only the valid notice", got)
	}
}

// TestRotation walks the clock through two full cycles: each notice stays
// one period per language, languages change every period.
func TestRotation(t *testing.T) {
	m := model(t, func(c *Config) { c.LanguagePeriod = 5 * time.Second })
	ns := set(notice("a", wire.PriorityNormal, t0.Add(-time.Hour), nil), notice("b", wire.PriorityLow, t0.Add(-time.Hour), nil))
	base := t0.Truncate(30 * time.Second) // a whole cycle: 2 notices x 3 languages x 5 s
	var got []string
	for i := 0; i < 12; i++ {
		v := m.View(Input{State: st(nil), Notices: ns, AgentUp: true, Now: base.Add(time.Duration(i)*5*time.Second + 2*time.Second)})
		got = append(got, v.Notice.ID+"/"+v.Lang+"/"+v.Notice.Title)
		if v.NoticeCount != 2 {
			t.Fatalf("count %d", v.NoticeCount)
		}
	}
	want := "a/fr/Titre a a/en/Title a a/it/Titolo a b/fr/Titre b b/en/Title b b/it/Titolo b"
	if g := strings.Join(got[:6], " "); g != want {
		t.Fatalf("first cycle\n got %s\nwant %s", g, want)
	}
	if strings.Join(got[6:], " ") != want {
		t.Fatalf("second cycle differs: %v", got[6:])
	}
}

func TestLanguageSubsetAndFallback(t *testing.T) {
	m := model(t, func(c *Config) { c.Languages = []string{"it", "fr"}; c.LanguagePeriod = time.Second })
	n := notice("a", wire.PriorityNormal, t0.Add(-time.Hour), nil)
	n.Title.IT = "" // falls back to French
	base := t0.Truncate(2 * time.Second)
	v0 := m.View(Input{State: st(nil), Notices: set(n), AgentUp: true, Now: base})
	v1 := m.View(Input{State: st(nil), Notices: set(n), AgentUp: true, Now: base.Add(time.Second)})
	if v0.Lang != "it" || v0.Notice.Title != "Titre a" || v0.Notice.Category != "Lavori" {
		t.Fatalf("italian slot: %q %q %q", v0.Lang, v0.Notice.Title, v0.Notice.Category)
	}
	if v1.Lang != "fr" || v1.Notice.Category != "Travaux" {
		t.Fatalf("french slot: %q %q", v1.Lang, v1.Notice.Category)
	}
}

func TestUrgentBanner(t *testing.T) {
	m := model(t, func(c *Config) { c.Languages = []string{"en"} })
	for _, tc := range []struct {
		name string
		ns   *wire.NoticeSet
		want string
	}{
		{"none", set(notice("a", wire.PriorityNormal, t0, nil)), ""},
		{"urgent", set(notice("a", wire.PriorityNormal, t0, nil), notice("u", wire.PriorityUrgent, t0, nil)), "Title u"},
		{"urgent expired", set(notice("u", wire.PriorityUrgent, t0.Add(-time.Hour), at(-time.Minute))), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The banner stays whichever notice rotates below it.
			for i := range 4 {
				v := m.View(Input{State: st(nil), Notices: tc.ns, AgentUp: true, Now: t0.Add(time.Duration(i) * 6 * time.Second)})
				if v.Banner != tc.want {
					t.Fatalf("slot %d banner %q, want %q", i, v.Banner, tc.want)
				}
			}
		})
	}
}

func TestOverlays(t *testing.T) {
	m := model(t, nil)
	for _, tc := range []struct {
		name  string
		state *wire.State
		want  OverlayKind
		line0 string
	}{
		{"connecting before the first state", nil, OverlayConnecting, "Connexion à l'ascenseur…"},
		{"normal", st(nil), OverlayNone, ""},
		{"alarm", st(func(s *wire.State) { s.Alarm = true }), OverlayAlarm, "Alarme enregistrée, transmission en cours"},
		{"alarm wins over inspection", st(func(s *wire.State) { s.Alarm = true; s.Mode = wire.ModeInspection }), OverlayAlarm, "Alarme enregistrée, transmission en cours"},
		{"fire service", st(func(s *wire.State) { s.Mode = wire.ModeFireService }), OverlayFire, "Service incendie : réservé aux pompiers"},
		{"out of service", st(func(s *wire.State) { s.Mode = wire.ModeOutOfService }), OverlayOutOfService, "Ascenseur hors service"},
		{"inspection", st(func(s *wire.State) { s.Mode = wire.ModeInspection }), OverlayInspection, "Ascenseur en maintenance"},
		{"overload", st(func(s *wire.State) { s.Mode = wire.ModeOverload }), OverlayOverload, "Surcharge : merci d'alléger la cabine"},
		{"emergency power keeps the floor", st(func(s *wire.State) { s.Mode = wire.ModeEmergencyPower }), OverlayNone, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := m.View(Input{State: tc.state, AgentUp: true, Now: t0})
			if v.Overlay.Kind != tc.want || v.Overlay.Lines[0] != tc.line0 {
				t.Fatalf("overlay %v %q, want %v %q", v.Overlay.Kind, v.Overlay.Lines[0], tc.want, tc.line0)
			}
			if tc.want != OverlayNone && tc.want != OverlayConnecting && (v.Overlay.Lines[1] == "" || v.Overlay.Lines[2] == "") {
				t.Fatalf("overlay lines %q: want all three languages at once", v.Overlay.Lines)
			}
			if v.HasState != (tc.state != nil) {
				t.Fatalf("HasState %v", v.HasState)
			}
		})
	}
	en := model(t, func(c *Config) { c.Languages = []string{"en"} })
	v := en.View(Input{State: st(func(s *wire.State) { s.Alarm = true }), AgentUp: true, Now: t0})
	if v.Overlay.Lines != [3]string{"Alarm registered, being sent"} {
		t.Fatalf("english-only alarm lines %q", v.Overlay.Lines)
	}
}

// The alarm's wording follows its progress, in each language, and never
// says help is coming before a person said so.
func TestAlarmWordingFollowsProgress(t *testing.T) {
	want := map[string][3]string{
		"":                   {"Alarme enregistrée, transmission en cours", "Alarm registered, being sent", "Allarme registrato, invio in corso"},
		wire.AlarmRegistered: {"Alarme enregistrée, transmission en cours", "Alarm registered, being sent", "Allarme registrato, invio in corso"},
		wire.AlarmDelivered:  {"Alarme reçue par le centre de surveillance", "Alarm received by the monitoring centre", "Allarme ricevuto dal centro di controllo"},
		wire.AlarmAcknowledged: {"Un opérateur a pris votre appel, les secours arrivent", "An operator has your call, help is on the way",
			"Un operatore ha preso la chiamata, i soccorsi arrivano"},
	}
	for progress, lines := range want {
		for i, lang := range []string{wire.LangFR, wire.LangEN, wire.LangIT} {
			m := model(t, func(c *Config) { c.Languages = []string{lang} })
			v := m.View(Input{State: st(func(s *wire.State) { s.Alarm = true; s.AlarmProgress = progress }), AgentUp: true, Now: t0})
			if v.Overlay.Kind != OverlayAlarm || v.Overlay.Lines[0] != lines[i] {
				t.Errorf("progress %q in %s: %v %q, want %q", progress, lang, v.Overlay.Kind, v.Overlay.Lines[0], lines[i])
			}
			help := map[string]string{wire.LangFR: "secours", wire.LangEN: "help", wire.LangIT: "soccorsi"}[lang]
			if progress != wire.AlarmAcknowledged && strings.Contains(v.Overlay.Lines[0], help) {
				t.Errorf("progress %q in %s promises help: %q", progress, lang, v.Overlay.Lines[0])
			}
		}
	}
}

func TestConnectivityAndStale(t *testing.T) {
	m := model(t, nil)
	for _, tc := range []struct {
		name    string
		agentUp bool
		link    string
		uplink  bool
		want    Connectivity
		stale   bool
	}{
		{"all up", true, "ok", true, Connectivity{Show: true, Agent: true, Controller: true, Uplink: true}, false},
		{"no network", true, "ok", false, Connectivity{Show: true, Agent: true, Controller: true}, false},
		{"controller lost", true, "lost", true, Connectivity{Show: true, Agent: true, Uplink: true}, true},
		{"agent gone, last state kept", false, "ok", true, Connectivity{Show: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := m.View(Input{State: st(func(s *wire.State) { s.Link = tc.link; s.Uplink = tc.uplink; s.Floor = -2 }), AgentUp: tc.agentUp, Now: t0})
			if v.Conn != tc.want || v.Stale != tc.stale || v.Floor != "P" {
				t.Fatalf("conn %+v stale %v floor %q, want %+v %v P", v.Conn, v.Stale, v.Floor, tc.want, tc.stale)
			}
		})
	}
}

func TestNightAndPixelShift(t *testing.T) {
	shift := 2
	m := model(t, func(c *Config) {
		c.Night = &Night{From: "22:00", To: "06:30"}
		c.PixelShift = &shift
		c.ShiftPeriod = time.Minute
	})
	for _, tc := range []struct {
		local string
		dim   bool
	}{{"21:59", false}, {"22:00", true}, {"03:00", true}, {"06:29", true}, {"06:30", false}, {"12:00", false}} {
		lt, _ := time.ParseInLocation("2006-01-02 15:04", "2026-11-24 "+tc.local, m.loc)
		if v := m.View(Input{State: st(nil), AgentUp: true, Now: lt}); v.Dim != tc.dim {
			t.Errorf("%s: dim %v, want %v", tc.local, v.Dim, tc.dim)
		}
	}
	// Over one cycle of the shift pattern every offset is within bounds and
	// the picture really moves.
	seen := map[[2]int]bool{}
	for i := range len(shiftSteps) {
		v := m.View(Input{State: st(nil), AgentUp: true, Now: t0.Add(time.Duration(i) * time.Minute)})
		if v.ShiftX < -shift || v.ShiftX > shift || v.ShiftY < -shift || v.ShiftY > shift {
			t.Fatalf("shift %d,%d out of ±%d", v.ShiftX, v.ShiftY, shift)
		}
		seen[[2]int{v.ShiftX, v.ShiftY}] = true
	}
	if len(seen) != len(shiftSteps) {
		t.Fatalf("%d distinct offsets over a cycle, want %d", len(seen), len(shiftSteps))
	}
	zero := 0
	still := model(t, func(c *Config) { c.PixelShift = &zero })
	if v := still.View(Input{Now: t0.Add(7 * time.Minute)}); v.ShiftX != 0 || v.ShiftY != 0 {
		t.Fatal("pixel_shift 0 still shifts")
	}
}

func TestViewsAreStableBetweenChanges(t *testing.T) {
	// Redraw-on-change relies on equal inputs giving equal Views, and on a
	// still cabin giving the same View within a language period.
	m := model(t, func(c *Config) { c.LanguagePeriod = 10 * time.Second })
	in := Input{State: st(nil), Notices: set(notice("a", wire.PriorityNormal, t0, nil)), AgentUp: true, Now: t0.Add(time.Second)}
	a := m.View(in)
	in.Now = in.Now.Add(3 * time.Second)
	if b := m.View(in); a != b {
		t.Fatalf("view changed while nothing did:\n%+v\n%+v", a, b)
	}
	in.State = st(func(s *wire.State) { s.Floor = 4 })
	if c := m.View(in); c == a {
		t.Fatal("view did not change with the floor")
	}
}

func TestLayouts(t *testing.T) {
	for _, tc := range []struct {
		layout, orient string
		w, h           int
	}{{"800x480", "landscape", 800, 480}, {"1024x600", "portrait", 600, 1024}, {"1920x1080", "landscape", 1920, 1080}, {"1280x800", "portrait", 800, 1280}} {
		m := model(t, func(c *Config) { c.Layout = tc.layout; c.Orientation = tc.orient })
		v := m.View(Input{Now: t0})
		if v.Width != tc.w || v.Height != tc.h || v.Portrait != (tc.orient == "portrait") {
			t.Errorf("%s %s: %dx%d portrait=%v", tc.layout, tc.orient, v.Width, v.Height, v.Portrait)
		}
	}
}

func TestParseConfig(t *testing.T) {
	good := `
building: "Résidence Les Pins"
floor_labels: {0: RDC, -1: "-1", -2: P}
time_zone: Europe/Monaco
layout: 1024x600
orientation: portrait
languages: [fr, it]
language_period: 8s
night: {from: "22:00", to: "06:00"}
pixel_shift: 2
fullscreen: true
`
	cfg, err := ParseConfig(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FloorLabels[0] != "RDC" || cfg.LanguagePeriod != 8*time.Second || cfg.Layout != "1024x600" || len(cfg.Languages) != 2 || !cfg.Fullscreen || *cfg.PixelShift != 2 {
		t.Fatalf("parsed %+v", cfg)
	}
	if cfg, err := ParseConfig(strings.NewReader("")); err != nil || cfg.TimeZone != "Europe/Monaco" || cfg.Layout != "800x480" {
		t.Fatalf("empty file: %+v %v, want the defaults", cfg, err)
	}
	for _, tc := range []struct{ name, yaml, field string }{
		{"typo", "buildng: x", ""},
		{"layout", "layout: 640x480", "layout"},
		{"orientation", "orientation: upside-down", "orientation"},
		{"zone", "time_zone: Mars/Olympus", "time_zone"},
		{"language", "languages: [fr, de]", "languages"},
		{"no language", "languages: []", "languages"},
		{"duplicate language", "languages: [fr, fr]", "languages"},
		{"period", "language_period: 10ms", "language_period"},
		{"label too long", "floor_labels: {0: Rez-de-chaussée}", "floor_labels[0]"},
		{"night", "night: {from: '25:00', to: '06:00'}", "night.from"},
		{"shift", "pixel_shift: 40", "pixel_shift"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *configfile.FieldError
			if tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field) {
				t.Fatalf("error %v, want one on field %q", err, tc.field)
			}
		})
	}
}
