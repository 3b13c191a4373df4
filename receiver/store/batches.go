package store

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// EpochKey names an epoch of a cabin; its events are unique by sequence.
type EpochKey struct {
	Site, Cabin, Epoch string
}

// Compare orders keys by site, then cabin, then epoch, comparing bytes:
// the order of every list of epochs a Store returns, and the order in which
// engines take the epochs' locks, so that no two writers deadlock.
func (k EpochKey) Compare(o EpochKey) int {
	if c := cmp.Compare(k.Site, o.Site); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Cabin, o.Cabin); c != 0 {
		return c
	}
	return cmp.Compare(k.Epoch, o.Epoch)
}

// EpochEvents is what one InsertBatches call brings to one epoch.
type EpochEvents struct {
	Key    EpochKey
	Events []*wire.Event // sorted by sequence; copies of one sequence keep the batches' order
}

// GroupByEpoch checks that every sequence of batches fits a store (at most
// MaxSeq) and groups the events by epoch, in EpochKey order; an epoch whose
// batches hold no event is listed too. Engines store the events in this
// order, so that within one call events sort by epoch then sequence.
func GroupByEpoch(batches []wire.Batch) ([]EpochEvents, error) {
	byKey := map[EpochKey]int{}
	var out []EpochEvents
	for i := range batches {
		b := &batches[i]
		k := EpochKey{b.Site, b.Cabin, b.Epoch}
		n, ok := byKey[k]
		if !ok {
			n = len(out)
			byKey[k] = n
			out = append(out, EpochEvents{Key: k})
		}
		for j := range b.Events {
			e := &b.Events[j]
			if e.Seq > MaxSeq {
				return nil, fmt.Errorf("%w: %s/%s epoch %s seq %d above %d", ErrRefused, b.Site, b.Cabin, b.Epoch, e.Seq, int64(MaxSeq))
			}
			out[n].Events = append(out[n].Events, e)
		}
	}
	slices.SortFunc(out, func(a, b EpochEvents) int { return a.Key.Compare(b.Key) })
	for _, g := range out {
		slices.SortStableFunc(g.Events, func(a, b *wire.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	return out, nil
}

// CabinUpdate is what a batch of events changes in its cabin: computed once
// here so every engine applies the same rules.
type CabinUpdate struct {
	Site, Cabin string
	Floor       *int
	FloorTime   time.Time
	Mode        string
	ModeTime    time.Time
	Counters    *wire.Counters
	CountersAt  time.Time
	Version     string // agent version from the newest health event
	VersionAt   time.Time
	LastEvent   time.Time
}

// MaxClockSkew is how far after its arrival an event may be dated and
// still speak for its cabin's current state. An event dated later (a bad
// clock, a forged date such as 9999-12-31) is stored as it came but moves
// no floor, mode, counters or last event: the newest-wins rule would
// otherwise pin the cabin's state for good.
const MaxClockSkew = 10 * time.Minute

// Summarize folds the events of batches received at received into one
// update per cabin: the latest arrival floor, latest mode and latest
// heartbeat counters by event time (events arrive out of order, so the
// newest wins, not the last seen), leaving out events dated beyond
// MaxClockSkew.
func Summarize(batches []wire.Batch, received time.Time) map[[2]string]*CabinUpdate {
	horizon := received.Add(MaxClockSkew)
	out := make(map[[2]string]*CabinUpdate)
	for i := range batches {
		b := &batches[i]
		k := [2]string{b.Site, b.Cabin}
		u := out[k]
		if u == nil {
			u = &CabinUpdate{Site: b.Site, Cabin: b.Cabin}
			out[k] = u
		}
		for j := range b.Events {
			e := &b.Events[j]
			if e.Time.After(horizon) {
				continue
			}
			if e.Time.After(u.LastEvent) {
				u.LastEvent = e.Time
			}
			switch e.Type {
			case wire.TypeArrival:
				var d wire.ArrivalData
				if json.Unmarshal(e.Data, &d) == nil && !e.Time.Before(u.FloorTime) {
					f := d.Floor
					u.Floor, u.FloorTime = &f, e.Time
				}
			case wire.TypeModeChange:
				var d wire.ModeChangeData
				if json.Unmarshal(e.Data, &d) == nil && !e.Time.Before(u.ModeTime) {
					u.Mode, u.ModeTime = d.To, e.Time
				}
			case wire.TypeHeartbeat:
				var d wire.HeartbeatData
				if json.Unmarshal(e.Data, &d) == nil && !e.Time.Before(u.CountersAt) {
					c := d.Counters
					u.Counters, u.CountersAt = &c, e.Time
				}
			case wire.TypeHealth:
				var d wire.HealthData
				if json.Unmarshal(e.Data, &d) == nil && d.AgentVersion != "" && !e.Time.Before(u.VersionAt) {
					u.Version, u.VersionAt = d.AgentVersion, e.Time
				}
			}
		}
	}
	return out
}
