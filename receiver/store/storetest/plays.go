package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// testNoticePlays stores notice_shown events of two cabins, every batch
// delivered twice (a lost ack), and sums them per notice, cabin and
// language: redelivery adds nothing, the window and the notice filter
// apply, another site's plays stay out, a play dated far in the future is
// kept as an event but not counted, and the order is by bytes.
func testNoticePlays(t *testing.T, s store.Store) {
	ctx := context.Background()
	received := T0.Add(2 * time.Hour)
	play := func(seq uint64, notice, lang string, minute, shownS, times int) wire.Event {
		from := T0.Add(time.Duration(minute) * time.Minute)
		e := Event(seq, wire.TypeNoticeShown, wire.NoticeShownData{Notice: notice, Version: 3, Lang: lang, Layout: "1024x600",
			Orientation: wire.OrientationLandscape, From: from, To: from.Add(time.Minute), ShownMS: int64(shownS) * 1000, Times: times})
		e.Time = from.Add(time.Minute)
		return e
	}
	batch := func(site, cabin string, events ...wire.Event) wire.Batch {
		return wire.Batch{V: wire.Version, Site: site, Cabin: cabin, Epoch: "e1", Events: events}
	}
	future := play(9, "ag", wire.LangFR, 0, 30, 1)
	future.Time = received.Add(time.Hour)
	batches := []wire.Batch{
		batch("les-pins", "b", play(1, "ag", wire.LangFR, 0, 20, 2), play(2, "ag", wire.LangEN, 0, 10, 1), play(3, "ag", wire.LangFR, 1, 20, 2),
			play(4, "eau", wire.LangFR, 1, 12, 1), future),
		batch("les-pins", "a", play(1, "ag", wire.LangFR, 0, 6, 1), play(2, "ag", wire.LangFR, 70, 6, 1)),
		batch("les-pins-2", "a", play(1, "ag", wire.LangFR, 0, 60, 5)),
	}
	for range 2 {
		if _, err := s.InsertBatches(ctx, batches, received); err != nil {
			t.Fatalf("InsertBatches: %v", err)
		}
	}
	str := func(ps []store.NoticePlays) string {
		out := ""
		for _, p := range ps {
			out += fmt.Sprintf("%s/%s/%s:%d/%d ", p.Notice, p.Cabin, p.Lang, p.ShownMS, p.Times)
		}
		return out
	}
	got, err := s.NoticePlays(ctx, "les-pins", "ag", T0, T0.Add(time.Hour))
	if err != nil {
		t.Fatalf("NoticePlays: %v", err)
	}
	if want := "ag/a/fr:6000/1 ag/b/en:10000/1 ag/b/fr:40000/4 "; str(got) != want {
		t.Fatalf("ag in the first hour: %s, want %s", str(got), want)
	}
	if g := got[2]; !g.First.Equal(T0) || !g.Last.Equal(T0.Add(2*time.Minute)) {
		t.Errorf("ag/b/fr spans %s to %s", g.First, g.Last)
	}
	got, err = s.NoticePlays(ctx, "les-pins", "", T0, T0.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("NoticePlays: %v", err)
	}
	if want := "ag/a/fr:12000/2 ag/b/en:10000/1 ag/b/fr:40000/4 eau/b/fr:12000/1 "; str(got) != want {
		t.Fatalf("every notice over two hours: %s, want %s", str(got), want)
	}
	got, err = s.NoticePlays(ctx, "les-pins", "ag", T0.Add(time.Hour), T0.Add(2*time.Hour))
	if err != nil || str(got) != "ag/a/fr:6000/1 " {
		t.Fatalf("the second hour: %s, %v", str(got), err)
	}
	got, err = s.NoticePlays(ctx, "nowhere", "", T0, T0.Add(2*time.Hour))
	if err != nil || len(got) != 0 {
		t.Fatalf("a site without plays: %v, %v", got, err)
	}
}
