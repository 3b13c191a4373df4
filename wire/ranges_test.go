package wire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/wire"
)

func lostBatch(seq uint64, data string) []byte {
	return []byte(`{"v":1,"site":"s","cabin":"c","epoch":"e","events":[{"seq":` + jsonNum(seq) +
		`,"time":"2026-03-01T08:00:00Z","type":"lost","data":` + data + `}]}`)
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// TestLostReportIsChecked: a loss report must account for what it says,
// below its own sequence; every refusal names the field.
func TestLostReportIsChecked(t *testing.T) {
	good := `{"reason":"evicted","ranges":[[1,3],[5,5]],"count":4,"bytes":400,"classes":{"telemetry":4}}`
	if _, err := wire.DecodeBatch(lostBatch(9, good)); err != nil {
		t.Fatalf("good report refused: %v", err)
	}
	for _, c := range []struct {
		seq         uint64
		data, field string
	}{
		{9, `{"reason":"lost in space","ranges":[[1,3]],"count":3}`, "events[0].data.reason"},
		{9, `{"reason":"evicted","ranges":[],"count":0}`, "events[0].data.ranges"},
		{9, `{"reason":"evicted","ranges":[[0,3]],"count":4}`, "events[0].data.ranges[0]"},
		{9, `{"reason":"evicted","ranges":[[4,3]],"count":0}`, "events[0].data.ranges[0]"},
		{9, `{"reason":"evicted","ranges":[[1,3],[3,4]],"count":5}`, "events[0].data.ranges[1]"},
		{9, `{"reason":"evicted","ranges":[[5,6],[1,2]],"count":4}`, "events[0].data.ranges[1]"},
		{9, `{"reason":"evicted","ranges":[[1,9]],"count":9}`, "events[0].data.ranges[0]"}, // its own sequence
		{9, `{"reason":"evicted","ranges":[[1,3]],"count":4}`, "events[0].data.count"},
		{1 << 30, `{"reason":"evicted","ranges":[[1,1048577]],"count":1048577}`, "events[0].data.count"},
	} {
		_, err := wire.DecodeBatch(lostBatch(c.seq, c.data))
		var fe *wire.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want an error on %s", c.data, err, c.field)
		}
	}
	// A receiver accepts a newer agent's reason (it stores and counts it);
	// the agent's own decoder does not.
	newer := `{"reason":"quarantined","ranges":[[1,3]],"count":3}`
	if _, err := wire.DecodeBatchForward(lostBatch(9, newer)); err != nil {
		t.Fatalf("forward decoder refused a newer reason: %v", err)
	}
	if _, err := wire.DecodeBatch(lostBatch(9, newer)); err == nil {
		t.Fatal("strict decoder accepted an unknown reason")
	}
}

// TestAckRangesAreChecked: an agent deletes what the ranges say is stored,
// so they must be well formed and lie above the cumulative part.
func TestAckRangesAreChecked(t *testing.T) {
	a, err := wire.DecodeAck([]byte(`{"v":1,"epoch":"e","seq":3,"stored":[[5,9],[12,12]]}`))
	if err != nil || len(a.Stored) != 2 || a.Stored[1] != (wire.Range{12, 12}) {
		t.Fatalf("DecodeAck = %+v, %v", a, err)
	}
	for _, c := range []struct{ ack, field string }{
		{`{"v":1,"epoch":"e","seq":3,"stored":[[4,9]]}`, "stored[0]"}, // no gap after seq
		{`{"v":1,"epoch":"e","seq":3,"stored":[[2,9]]}`, "stored[0]"},
		{`{"v":1,"epoch":"e","seq":3,"stored":[[9,5]]}`, "stored[0]"},
		{`{"v":1,"epoch":"e","seq":3,"stored":[[5,9],[9,12]]}`, "stored[1]"},
		{`{"v":1,"epoch":"e","seq":3,"stored":[[5]]}`, ""},
	} {
		_, err := wire.DecodeAck([]byte(c.ack))
		if err == nil {
			t.Errorf("%s accepted", c.ack)
			continue
		}
		var fe *wire.FieldError
		if c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field) {
			t.Errorf("%s: %v, want an error on %s", c.ack, err, c.field)
		}
	}
	many := `{"v":1,"epoch":"e","seq":0,"stored":[` + strings.Repeat(`[2,2],`, wire.MaxRanges) + `[4,4]]}`
	if _, err := wire.DecodeAck([]byte(many)); err == nil {
		t.Error("an ack of more than MaxRanges ranges was accepted")
	}
}

func TestAppendRange(t *testing.T) {
	var rs []wire.Range
	for _, s := range []uint64{1, 2, 3, 5, 7, 8} {
		rs = wire.AppendRange(rs, s)
	}
	if want := []wire.Range{{1, 3}, {5, 5}, {7, 8}}; len(rs) != 3 || rs[0] != want[0] || rs[1] != want[1] || rs[2] != want[2] {
		t.Fatalf("AppendRange gave %v", rs)
	}
}

// TestAckRangesAboveTheLargestSequence: seq+1 must not wrap around.
func TestAckRangesAboveTheLargestSequence(t *testing.T) {
	if _, err := wire.DecodeAck([]byte(`{"v":1,"epoch":"e","seq":18446744073709551615,"stored":[[1,2]]}`)); err == nil {
		t.Fatal("ranges above the largest sequence accepted")
	}
}

// TestImplausibleValuesAreRefused: a value no elevator reports is refused
// at the edge, naming the field, instead of being stored and drawn.
func TestImplausibleValuesAreRefused(t *testing.T) {
	batch := func(typ, data string) []byte {
		return []byte(`{"v":1,"site":"s","cabin":"c","epoch":"e","events":[{"seq":1,"time":"2026-03-01T08:00:00Z","type":"` + typ + `","data":` + data + `}]}`)
	}
	long := strings.Repeat("x", wire.MaxTextLen+1)
	for _, c := range []struct{ typ, data, field string }{
		{"arrival", `{"floor":3000000000}`, "events[0].data.floor"},
		{"trip", `{"from":0,"to":2,"direction":"sideways","duration_ms":900}`, "events[0].data.direction"},
		{"trip", `{"from":0,"to":2,"direction":"up","duration_ms":-5}`, "events[0].data.duration_ms"},
		{"door_cycle", `{"floor":1,"open_ms":1000,"reopens":-1}`, "events[0].data.reopens"},
		{"fault", `{"code":7,"text":"` + long + `","severity":"error","active":true}`, "events[0].data.text"},
		{"health", `{"uptime_s":1,"poll_error_rate":2,"outbox_depth":0,"oldest_pending_age_s":0}`, "events[0].data.poll_error_rate"},
		{"levelling_error", `{"floor":1,"error_mm":99999999}`, "events[0].data.error_mm"},
	} {
		for name, decode := range map[string]func([]byte) (wire.Batch, error){"strict": wire.DecodeBatch, "forward": wire.DecodeBatchForward} {
			_, err := decode(batch(c.typ, c.data))
			var fe *wire.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("%s %s %s: %v, want an error on %s", name, c.typ, c.data, err, c.field)
			}
		}
	}
	if _, err := wire.DecodeBatch(batch("arrival", `{"floor":-3}`)); err != nil {
		t.Errorf("a basement floor refused: %v", err)
	}
}

func TestParseSubject(t *testing.T) {
	site, cabin, err := wire.ParseSubject("palier.v1.les-pins.a.events", "events")
	if err != nil || site != "les-pins" || cabin != "a" {
		t.Fatalf("ParseSubject = %q %q %v", site, cabin, err)
	}
	for _, s := range []string{"palier.v1.s.c.state", "palier.v2.s.c.events", "palier.v1.s.events", "palier.v1.S.c.events", "palier.v1.s.c.events.x"} {
		if _, _, err := wire.ParseSubject(s, "events"); err == nil {
			t.Errorf("ParseSubject(%q) accepted", s)
		}
	}
	if got := wire.DeviceSubjects("s", "c"); len(got) != 3 || got[0] != "palier.v1.s.c.events" {
		t.Errorf("DeviceSubjects = %v", got)
	}
}
