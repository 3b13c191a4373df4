package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// BenchmarkView is the per-tick cost of deciding the screen: the display
// calls View 60 times a second, changed or not.
func BenchmarkView(b *testing.B) {
	m := model(b, nil)
	ns := &wire.NoticeSet{V: wire.Version, Site: "les-pins", Version: 1}
	for i := range wire.MaxNotices {
		ns.Notices = append(ns.Notices, notice(fmt.Sprintf("n%d", i), wire.PriorityNormal, t0.Add(-time.Hour), nil))
	}
	in := Input{State: st(nil), Notices: ns, AgentUp: true, Now: t0}
	b.ReportAllocs()
	for b.Loop() {
		in.Now = in.Now.Add(16 * time.Millisecond)
		_ = m.View(in)
	}
}
