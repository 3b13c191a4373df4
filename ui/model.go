package ui

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// ArrowFrames is the number of animation frames per ArrowPeriod while the
// car moves; the drawing shows frame i of ArrowFrames.
const (
	ArrowFrames = 24
	ArrowPeriod = time.Second
)

// Input is everything the screen depends on.
type Input struct {
	// State is the last cabin state received; nil before the first.
	State *wire.State
	// Notices is the last notice set received; nil before the first.
	Notices *wire.NoticeSet
	// AgentUp says whether the live feed is connected now.
	AgentUp bool
	// Now is the wall-clock time to show.
	Now time.Time
}

// OverlayKind is the cabin situation that covers the screen.
type OverlayKind int

// Overlays, most important first: the first that applies is shown.
const (
	OverlayNone OverlayKind = iota
	OverlayConnecting
	OverlayAlarm
	OverlayFire
	OverlayOutOfService
	OverlayInspection
	OverlayOverload
)

func (k OverlayKind) String() string {
	switch k {
	case OverlayNone:
		return "none"
	case OverlayConnecting:
		return "connecting"
	case OverlayAlarm:
		return "alarm"
	case OverlayFire:
		return "fire_service"
	case OverlayOutOfService:
		return "out_of_service"
	case OverlayInspection:
		return "inspection"
	case OverlayOverload:
		return "overload"
	}
	return "overlay(" + strconv.Itoa(int(k)) + ")"
}

// Overlay is a full-screen message, in every configured language at once.
type Overlay struct {
	Kind  OverlayKind
	Lines [3]string // in the order of Config.Languages; unused lines empty
}

// NoticeView is the notice on screen, in the current language.
type NoticeView struct {
	ID       string
	Category string // category name in the current language
	Title    string
	Body     string
	Urgent   bool
	// Media is the SHA-256 of the notice's first image, "" if none: the
	// screen looks it up in the media cache or draws a placeholder.
	Media string
}

// Connectivity is the installers' mark: one dot per link.
type Connectivity struct {
	Show       bool
	Agent      bool // the live feed from the agent is connected
	Controller bool // the agent reads the controller
	Uplink     bool // the agent is connected to the broker
}

// View is one screenful. It is comparable: equal Views draw the same pixels.
type View struct {
	Width, Height int // logical size, orientation applied
	Portrait      bool

	Building string
	Date     string
	Clock    string
	Lang     string

	// HasState is false until the first state arrives (Overlay is then
	// OverlayConnecting).
	HasState  bool
	Floor     string
	Direction string // wire.DirectionUp, DirectionDown or DirectionNone
	Moving    bool
	// ArrowFrame is the animation frame, 0 when the car is not moving.
	ArrowFrame int
	// Stale says the floor may be old: the agent or the controller is not
	// reachable, so the screen keeps the last floor but dims it.
	Stale bool

	Notice      NoticeView
	NoticeIndex int // 1-based position in the rotation; 0 when none
	NoticeCount int
	Banner      string // urgent notice title, "" when none

	Overlay Overlay
	Conn    Connectivity

	Dim            bool // night palette
	ShiftX, ShiftY int  // burn-in shift in logical pixels
}

// Model computes Views for one configuration. It is safe for concurrent use.
type Model struct {
	// active memoises ActiveNotices per notice set and second: View runs
	// every frame, the notice list changes at most once a second. That
	// holds for schedules too: their windows open and close on whole
	// minutes of the model's clock, whose offset is whole seconds, so the
	// list stays keyed by the second even within one set version.
	mu     sync.Mutex
	active activeMemo

	cfg        Config
	loc        *time.Location
	nightFrom  int
	nightTo    int
	shift      int
	showMarker bool
}

// NewModel validates cfg and prepares a Model.
func NewModel(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("load time zone %s: %w", cfg.TimeZone, err)
	}
	m := &Model{cfg: cfg, loc: loc, shift: 3, showMarker: true}
	if cfg.PixelShift != nil {
		m.shift = *cfg.PixelShift
	}
	if cfg.ShowConnectivity != nil {
		m.showMarker = *cfg.ShowConnectivity
	}
	if cfg.Night != nil {
		m.nightFrom, _ = parseHHMM(cfg.Night.From)
		m.nightTo, _ = parseHHMM(cfg.Night.To)
	}
	return m, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// FloorLabel returns what passengers read for a controller floor number.
func (m *Model) FloorLabel(floor int) string {
	if l, ok := m.cfg.FloorLabels[floor]; ok {
		return l
	}
	return strconv.Itoa(floor)
}

// View decides what is on screen for in.
func (m *Model) View(in Input) View {
	now := in.Now.In(m.loc)
	langs := m.cfg.Languages
	period := m.cfg.LanguagePeriod
	slot := in.Now.UnixNano() / int64(period)
	if slot < 0 {
		slot = -slot
	}
	lang := langs[slot%int64(len(langs))]

	v := View{
		Building: m.cfg.Building,
		Date:     formatDate(now, lang),
		Clock:    now.Format("15:04"),
		Lang:     lang,
	}
	v.Width, v.Height = m.cfg.Size()
	v.Portrait = m.cfg.Orientation == "portrait"
	v.Dim = m.night(now)
	v.ShiftX, v.ShiftY = m.pixelShift(in.Now)
	v.Conn = Connectivity{Show: m.showMarker, Agent: in.AgentUp}

	if in.Notices != nil {
		active := m.activeNotices(in.Notices, in.Now)
		if n := len(active); n > 0 {
			i := int((slot / int64(len(langs))) % int64(n))
			v.Notice = noticeView(&active[i], lang)
			v.NoticeIndex, v.NoticeCount = i+1, n
			// The most important urgent notice stays in the banner while
			// the others rotate.
			if active[0].Priority == wire.PriorityUrgent {
				v.Banner = active[0].Title.In(lang)
			}
		}
	}

	if in.State == nil {
		v.Overlay = m.overlay(OverlayConnecting, textConnecting)
		return v
	}
	st := in.State
	v.HasState = true
	v.Floor = m.FloorLabel(st.Floor)
	v.Direction = st.Direction
	v.Moving = st.Moving
	if st.Moving && st.Direction != wire.DirectionNone {
		ms := in.Now.UnixMilli() % ArrowPeriod.Milliseconds()
		if ms < 0 {
			ms += ArrowPeriod.Milliseconds()
		}
		v.ArrowFrame = int(ms * ArrowFrames / ArrowPeriod.Milliseconds())
	}
	v.Conn.Controller = in.AgentUp && st.Link == "ok"
	v.Conn.Uplink = in.AgentUp && st.Uplink
	v.Stale = !in.AgentUp || st.Link != "ok"

	switch {
	case st.Alarm:
		v.Overlay = m.overlay(OverlayAlarm, alarmText(st.AlarmProgress))
	case st.Mode == wire.ModeFireService:
		v.Overlay = m.overlay(OverlayFire, textFire)
	case st.Mode == wire.ModeOutOfService:
		v.Overlay = m.overlay(OverlayOutOfService, textOutOfSvc)
	case st.Mode == wire.ModeInspection:
		v.Overlay = m.overlay(OverlayInspection, textInspection)
	case st.Mode == wire.ModeOverload:
		v.Overlay = m.overlay(OverlayOverload, textOverload)
	}
	return v
}

func (m *Model) overlay(k OverlayKind, text [3]string) Overlay {
	o := Overlay{Kind: k}
	for i, l := range m.cfg.Languages {
		o.Lines[i] = text[langIndex(l)]
	}
	return o
}

func (m *Model) night(now time.Time) bool {
	if m.cfg.Night == nil || m.nightFrom == m.nightTo {
		return false
	}
	t := now.Hour()*60 + now.Minute()
	if m.nightFrom < m.nightTo {
		return t >= m.nightFrom && t < m.nightTo
	}
	return t >= m.nightFrom || t < m.nightTo
}

// shiftSteps walk a small square so that no pixel stays lit in one place.
var shiftSteps = [...][2]int{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}}

func (m *Model) pixelShift(now time.Time) (int, int) {
	if m.shift == 0 {
		return 0, 0
	}
	step := now.Unix() / int64(m.cfg.ShiftPeriod/time.Second)
	if step < 0 {
		step = -step
	}
	s := shiftSteps[step%int64(len(shiftSteps))]
	return s[0] * m.shift, s[1] * m.shift
}

type activeMemo struct {
	set     *wire.NoticeSet
	version uint64
	second  int64
	list    []wire.Notice
}

func (m *Model) activeNotices(set *wire.NoticeSet, now time.Time) []wire.Notice {
	sec := now.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := &m.active; a.set == set && a.version == set.Version && a.second == sec {
		return a.list
	}
	// Validity is judged at the start of the second, like the memo.
	list := ActiveNotices(set, time.Unix(sec, 0), m.loc)
	m.active = activeMemo{set: set, version: set.Version, second: sec, list: list}
	return list
}

// ActiveNotices returns the valid notices of set shown at t on a screen
// whose clock is in loc (their validity window and schedule, see
// wire.Notice.ShownAt), most important first: urgent before normal before
// low, then the newest first, then by id so the order is stable. Notices
// that fail validation are left out (the set's decoder normally refuses
// them; this guards sets built in code).
func ActiveNotices(set *wire.NoticeSet, t time.Time, loc *time.Location) []wire.Notice {
	var out []wire.Notice
	for i := range set.Notices {
		n := &set.Notices[i]
		if n.Validate() != nil || !n.ShownAt(t, loc) {
			continue
		}
		out = append(out, *n)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if ra, rb := priorityRank(a.Priority), priorityRank(b.Priority); ra != rb {
			return ra > rb
		}
		if !a.ValidFrom.Equal(b.ValidFrom) {
			return a.ValidFrom.After(b.ValidFrom)
		}
		return a.ID < b.ID
	})
	return out
}

func priorityRank(p string) int {
	switch p {
	case wire.PriorityUrgent:
		return 2
	case wire.PriorityNormal:
		return 1
	}
	return 0
}

func noticeView(n *wire.Notice, lang string) NoticeView {
	nv := NoticeView{
		ID:       n.ID,
		Category: categoryNames[n.Category][langIndex(lang)],
		Title:    n.Title.In(lang),
		Body:     n.Body.In(lang),
		Urgent:   n.Priority == wire.PriorityUrgent,
	}
	for _, md := range n.Media {
		if len(md.Type) > 6 && md.Type[:6] == "image/" {
			nv.Media = md.SHA256
			break
		}
	}
	return nv
}

// alarmText is the alarm's wording for how far it got. An agent that does
// not say (older, or the append failed) has at least registered it.
func alarmText(progress string) [3]string {
	switch progress {
	case wire.AlarmDelivered:
		return textAlarmDelivered
	case wire.AlarmAcknowledged:
		return textAlarmAcknowledged
	}
	return textAlarmRegistered
}
