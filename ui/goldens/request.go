package goldens

import (
	"encoding/json"
	"time"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/preview"
	"github.com/palier-lifts/palier/wire"
)

// Request returns the notice preview request that draws the case, and
// false when a preview cannot draw it: a preview shows a cabin in service
// with the agent up, in daylight, so overlays, a lost link and the night
// palette are not its to show.
func Request(c Case) (preview.Request, bool) {
	cfg := c.Config()
	st := c.In.State
	if st == nil || !c.In.AgentUp || cfg.Night != nil || st.Link != "ok" || !st.Uplink || (!st.Moving && st.Direction != wire.DirectionNone) {
		return preview.Request{}, false
	}
	m, err := ui.NewModel(cfg)
	if err != nil {
		return preview.Request{}, false
	}
	v := m.View(c.In)
	if v.Overlay.Kind != ui.OverlayNone {
		return preview.Request{}, false
	}
	r := preview.Request{
		Layout: cfg.Layout, Orientation: cfg.Orientation, Language: v.Lang,
		Building: cfg.Building, TimeZone: cfg.TimeZone, At: c.In.Now.Format(time.RFC3339Nano),
		Floor: st.Floor, FloorLabel: cfg.FloorLabels[st.Floor], Direction: wire.DirectionNone,
		Notice: v.Notice.ID,
	}
	if st.Moving {
		r.Direction = st.Direction
	}
	if c.In.Notices != nil {
		for _, n := range c.In.Notices.Notices {
			b, err := json.Marshal(n)
			if err != nil {
				return preview.Request{}, false
			}
			r.Notices = append(r.Notices, b)
		}
	}
	return r, true
}
