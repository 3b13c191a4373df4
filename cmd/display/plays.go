package main

import (
	"context"
	"time"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

// recordPlays observes what the screen shows every tick, independently of
// frames (drawn only on demand), and sends the play records of each ended
// period; the current period's are sent when ctx ends. input is what the
// screen draws from.
func recordPlays(ctx context.Context, model *ui.Model, rec *ui.PlayRecorder, tick time.Duration, input func() ui.Input, send func(wire.NoticeShownData)) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, p := range rec.Flush() {
				send(p)
			}
			return
		case <-t.C:
		}
		in := input()
		for _, p := range rec.Observe(in, model.View(in)) {
			send(p)
		}
	}
}
