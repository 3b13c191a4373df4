package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

func TestGroupByEpochOrder(t *testing.T) {
	ev := func(seq uint64, typ string) wire.Event { return wire.Event{Seq: seq, Type: typ} }
	groups, err := GroupByEpoch([]wire.Batch{
		{Site: "a-b", Cabin: "c", Epoch: "e", Events: []wire.Event{ev(1, "x")}},
		{Site: "a", Cabin: "c", Epoch: "e", Events: []wire.Event{ev(3, "x"), ev(1, "first"), ev(2, "x")}},
		{Site: "a", Cabin: "c", Epoch: "e", Events: []wire.Event{ev(1, "second")}},
		{Site: "a", Cabin: "c", Epoch: "empty"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		s := g.Key.Site + "/" + g.Key.Cabin + "/" + g.Key.Epoch + ":"
		for _, e := range g.Events {
			s += fmt.Sprintf(" %d%s", e.Seq, e.Type)
		}
		got = append(got, s)
	}
	want := []string{"a/c/e: 1first 1second 2x 3x", "a/c/empty:", "a-b/c/e: 1x"}
	if !slices.Equal(got, want) {
		t.Fatalf("groups %q, want %q (key order, events by seq, copies in batch order)", got, want)
	}
	_, err = GroupByEpoch([]wire.Batch{{Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{ev(math.MaxInt64+1, "x")}}})
	if err == nil || !strings.Contains(err.Error(), "above") {
		t.Fatalf("seq above MaxSeq: %v, want a refusal", err)
	}
}

func TestFilter(t *testing.T) {
	f, err := EventQuery{Site: "s", Cabin: "c"}.Filter()
	if err != nil || f.Limit != DefaultLimit || f.Since != nil || f.Until != nil || f.After != nil {
		t.Fatalf("no bounds: %+v, %v", f, err)
	}
	for _, bad := range []int{-1, MaxLimit + 1} {
		if _, err := (EventQuery{Limit: bad}).Filter(); err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("limit %d: %v, want a refusal", bad, err)
		}
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := Cursor{TimeUS: 5, ID: 7}
	f, err = EventQuery{Since: t0, Until: t0.Add(time.Second), Cursor: c.Encode(), Limit: 3}.Filter()
	if err != nil || *f.Since != t0.UnixMicro() || *f.Until != t0.UnixMicro()+1e6 || *f.After != c || f.RowLimit() != 4 {
		t.Fatalf("bounds: %+v, %v", f, err)
	}
	if _, err := (EventQuery{Cursor: "!!"}).Filter(); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v, want ErrBadCursor", err)
	}
}

func TestMicros(t *testing.T) {
	if !FromMicros(0).IsZero() {
		t.Fatal("0 must read back as the zero time")
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.FixedZone("CET", 3600))
	if got := FromMicros(Micros(t0)); !got.Equal(t0) || got.Location() != time.UTC {
		t.Fatalf("round trip %v, want %v in UTC", got, t0)
	}
	if FaultsJSON(nil) != "[]" || FaultsJSON([]int{40, 12}) != "[40,12]" {
		t.Fatal("faults must encode as a list, never null, in their order")
	}
}

// versions is a NoticeSetWriter over a map.
type versions map[string]int64

func (v versions) CreateNoticeSet(_ context.Context, site, _ string, _ int64) (bool, error) {
	if _, ok := v[site]; ok {
		return false, nil
	}
	v[site] = 1
	return true, nil
}

func (v versions) ReplaceNoticeSet(_ context.Context, site string, version int64, _ string, _ int64) (bool, error) {
	if v[site] != version-1 {
		return false, nil
	}
	v[site] = version
	return true, nil
}

func TestPutNoticeSetRules(t *testing.T) {
	ctx, w, now := context.Background(), versions{}, time.Now()
	put := func(v uint64) error { return PutNoticeSet(ctx, w, wire.NoticeSet{V: 1, Site: "s", Version: v}, now) }
	if err := put(0); err == nil || !strings.Contains(err.Error(), "version 0") {
		t.Fatalf("version 0: %v, want a refusal", err)
	}
	if err := put(1); err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint64{1, 3} {
		if err := put(v); !errors.Is(err, ErrVersionConflict) {
			t.Fatalf("version %d over 1: %v, want ErrVersionConflict", v, err)
		}
	}
	if err := put(2); err != nil || w["s"] != 2 {
		t.Fatalf("version 2 over 1: %v, stored %d", err, w["s"])
	}
}

// applied is a Migrator that records what it ran.
type applied struct {
	current int
	ran     []int
}

func (a *applied) SchemaVersion(context.Context) (int, error) { return a.current, nil }

func (a *applied) ApplyMigration(_ context.Context, v int, _ string) error {
	a.ran = append(a.ran, v)
	return nil
}

func TestMigrate(t *testing.T) {
	m := &applied{current: 1}
	if err := Migrate(context.Background(), m, []string{"1", "2", "3"}); err != nil || !slices.Equal(m.ran, []int{2, 3}) {
		t.Fatalf("ran %v (%v), want 2 and 3", m.ran, err)
	}
	m = &applied{current: 4}
	if err := Migrate(context.Background(), m, []string{"1", "2", "3"}); err == nil || !strings.Contains(err.Error(), "newer") || m.ran != nil {
		t.Fatalf("newer schema: %v, ran %v; want a refusal and nothing run", err, m.ran)
	}
}
