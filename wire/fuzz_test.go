package wire_test

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/palier-lifts/palier/wire"
)

// FuzzDecodeBatch: any bytes either decode into a batch that validates and
// survives a round trip, or give an error; never a panic.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(goodBatch))
	f.Fuzz(func(t *testing.T, b []byte) { checkBatchDecoder(t, wire.DecodeBatch, b) })
}

// FuzzDecodeBatchForward: the same for the receiver's decoder.
func FuzzDecodeBatchForward(f *testing.F) {
	f.Add([]byte(goodBatch))
	f.Add([]byte(`{"v":1,"site":"s","cabin":"c","epoch":"e","x":1,"events":[{"seq":1,"time":"2026-03-01T08:00:00Z","type":"new_thing","data":{"a":[1]}}]}`))
	f.Add([]byte(`{"v":1,"site":"s","cabin":"c","epoch":"e","ack_ranges":true,"events":[{"seq":9,"time":"2026-03-01T08:00:00Z","type":"lost","data":{"reason":"evicted","ranges":[[1,3],[5,5]],"count":4}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkBatchDecoder(t, wire.DecodeBatchForward, b) })
}

// checkBatchDecoder: what decode accepts is UTF-8 throughout (it can be
// stored as text) and decodes again after a round trip.
func checkBatchDecoder(t *testing.T, decode func([]byte) (wire.Batch, error), b []byte) {
	batch, err := decode(b)
	if err != nil {
		return
	}
	for i, ev := range batch.Events {
		if !utf8.Valid(ev.Data) {
			t.Fatalf("event %d accepted with data that is not UTF-8: %q", i, ev.Data)
		}
	}
	again, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decode(again); err != nil {
		t.Fatalf("re-encoded batch refused: %v\n%s", err, again)
	}
}

// FuzzDecodeNoticeSet: what the agent and the screen take is valid, round
// trips, and its schedules answer ShownAt and NextShown without a panic
// and consistently (seeds with schedules in testdata/fuzz).
func FuzzDecodeNoticeSet(f *testing.F) {
	f.Add([]byte(`{"v":1,"site":"s","version":1,"notices":[]}`))
	loc, err := time.LoadLocation("Europe/Monaco")
	if err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := wire.DecodeNoticeSet(b)
		if err != nil {
			return
		}
		if err := set.Validate(); err != nil {
			t.Fatalf("decoded set does not validate: %v", err)
		}
		again, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wire.DecodeNoticeSet(again); err != nil {
			t.Fatalf("re-encoded set refused: %v\n%s", err, again)
		}
		for i := range set.Notices {
			n := &set.Notices[i]
			next, ok := n.NextShown(at, loc)
			if ok && (next.Before(at) || !n.ShownAt(next, loc)) {
				t.Fatalf("notice %s: next shown %s, which is before %s or not shown", n.ID, next, at)
			}
			if n.ShownAt(at, loc) && (!ok || !next.Equal(at)) {
				t.Fatalf("notice %s: shown at %s but next shown %s %v", n.ID, at, next, ok)
			}
		}
	})
}

func FuzzDecodeAck(f *testing.F) {
	f.Add([]byte(`{"v":1,"epoch":"e","seq":1}`))
	f.Add([]byte(`{"v":1,"epoch":"e","seq":3,"stored":[[5,9],[12,12]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := wire.DecodeAck(b)
		if err != nil {
			return
		}
		if wire.ValidateEpoch(a.Epoch) != nil {
			t.Fatalf("accepted ack with bad epoch %q", a.Epoch)
		}
		// What an agent deletes on the ranges' word must be well formed:
		// above the gap after seq, ascending, disjoint, bounded.
		if len(a.Stored) > wire.MaxRanges {
			t.Fatalf("accepted %d ranges", len(a.Stored))
		}
		if len(a.Stored) > 0 && a.Seq == math.MaxUint64 {
			t.Fatalf("accepted ranges %v above the largest sequence", a.Stored)
		}
		prev := a.Seq + 1
		for _, r := range a.Stored {
			if r[0] <= prev || r[0] > r[1] {
				t.Fatalf("accepted ranges %v above seq %d", a.Stored, a.Seq)
			}
			prev = r[1]
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"v":1,"site":"s","cabin":"c","time":"2026-11-24T09:00:00Z","floor":2,"direction":"up","moving":true,"door_zone":false,"doors":["closed"],"mode":"normal","faults":[],"alarm":false,"link":"ok","uplink":true,"counters":{"trips":1,"door_cycles":0,"direction_changes":0,"running_s":0,"idle_s":0,"standby_s":0}}`))
	f.Add([]byte(`{"v":1,"site":"s","cabin":"c","time":"2026-11-24T09:00:00Z","floor":2,"direction":"up","moving":true,"door_zone":false,"doors":["closed"],"mode":"normal","faults":[],"alarm":true,"alarm_progress":"registered","link":"ok","uplink":true,"counters":{"trips":1,"door_cycles":0,"direction_changes":0,"running_s":0,"idle_s":0,"standby_s":0},"newer":[1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		strict, errStrict := wire.DecodeState(b)
		forward, errForward := wire.DecodeStateForward(b)
		// The receiver's decoder takes all the agent's does, the same way.
		if errStrict == nil && (errForward != nil || !reflect.DeepEqual(strict, forward)) {
			t.Fatalf("strict took %+v, forward gave %+v, %v", strict, forward, errForward)
		}
		if errForward == nil && (wire.ValidateID(forward.Site) != nil || wire.ValidateID(forward.Cabin) != nil) {
			t.Fatalf("forward took bad ids %q/%q", forward.Site, forward.Cabin)
		}
	})
}

// FuzzDecodeAlarmAck: what the agent takes from the alarm_ack topic (a
// retained message anyone with the topic could have left) is well formed
// and round-trips.
func FuzzDecodeAlarmAck(f *testing.F) {
	f.Add([]byte(`{"v":1,"site":"s","cabin":"c","alarms":[{"epoch":"e","seq":4}],"by":"Ana","message":"on the way","at":"2026-11-24T09:02:10Z"}`))
	f.Add([]byte(`{"v":1,"site":"s","cabin":"c","alarms":[],"by":"","at":"2026-11-24T09:02:10Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := wire.DecodeAlarmAck(b)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("decoded acknowledgement does not validate: %v", err)
		}
		if a.By == "" || len(a.Alarms) == 0 || !utf8.ValidString(a.Message) {
			t.Fatalf("accepted %+v", a)
		}
		again, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wire.DecodeAlarmAck(again); err != nil {
			t.Fatalf("round trip refused: %v\n%s", err, again)
		}
	})
}

// FuzzDecodeUpdate: what the agent takes from its update topic (a retained
// message that decides what a root helper installs) is well formed and
// round-trips, and its version is one the helper can name safely.
func FuzzDecodeUpdate(f *testing.F) {
	f.Add([]byte(goodUpdate))
	f.Add([]byte(`{"v":1,"site":"s","cabin":"c","version":"v1.0.0; rm -rf /","channel":"stable","wave":1,"at":"2026-11-24T09:02:10Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := wire.DecodeUpdate(b)
		if err != nil {
			return
		}
		if err := u.Validate(); err != nil {
			t.Fatalf("decoded update does not validate: %v", err)
		}
		for _, r := range u.Version {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+') {
				t.Fatalf("version %q holds %q", u.Version, r)
			}
		}
		again, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wire.DecodeUpdate(again); err != nil {
			t.Fatalf("round trip refused: %v\n%s", err, again)
		}
	})
}
