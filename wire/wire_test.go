package wire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

const goodBatch = `{"v":1,"site":"les-pins","cabin":"a","epoch":"k3v9x2","events":[
 {"seq":1,"time":"2026-11-24T09:00:00Z","type":"arrival","data":{"floor":3}},
 {"seq":2,"time":"2026-11-24T09:00:04Z","type":"door_cycle","data":{"floor":3,"open_ms":4200,"reopens":1}}]}`

func TestDecodeBatch(t *testing.T) {
	b, err := wire.DecodeBatch([]byte(goodBatch))
	if err != nil {
		t.Fatal(err)
	}
	if b.Site != "les-pins" || b.Cabin != "a" || len(b.Events) != 2 || b.Events[1].Seq != 2 {
		t.Fatalf("decoded %+v", b)
	}
	var d wire.DoorCycleData
	if err := json.Unmarshal(b.Events[1].Data, &d); err != nil || d.Reopens != 1 || d.OpenMS != 4200 {
		t.Fatalf("door cycle data %+v, %v", d, err)
	}
}

func TestDecodeBatchNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name, edit, field string
	}{
		{"unknown version", `"v":1`, "v"},
		{"missing version", `"v":1,`, "v"},
		{"bad site", `"site":"les-pins"`, "site"},
		{"unknown type", `"type":"arrival"`, "events[0].type"},
		{"missing seq", `"seq":1,`, "events[0].seq"},
		{"bad data", `{"floor":3}`, "events[0].data.floor"},
		{"unknown data field", `{"floor":3}`, "events[0].data"},
		{"missing time", `"time":"2026-11-24T09:00:00Z",`, "events[0].time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repl := map[string]string{
				"unknown version":    `"v":2`,
				"missing version":    ``,
				"bad site":           `"site":"Les Pins"`,
				"unknown type":       `"type":"teleport"`,
				"missing seq":        ``,
				"bad data":           `{"floor":"three"}`,
				"unknown data field": `{"floor":3,"colour":"red"}`,
				"missing time":       ``,
			}[tc.name]
			in := strings.Replace(goodBatch, tc.edit, repl, 1)
			_, err := wire.DecodeBatch([]byte(in))
			var fe *wire.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			if !strings.HasPrefix(fe.Field, tc.field) {
				t.Fatalf("error names %q, want %q (%v)", fe.Field, tc.field, err)
			}
		})
	}
}

func TestDecodeBatchRefusesTrailingDataAndHugePayloads(t *testing.T) {
	if _, err := wire.DecodeBatch([]byte(goodBatch + `{}`)); err == nil {
		t.Fatal("trailing data accepted")
	}
	huge := make([]byte, wire.MaxBatchBytes+1)
	if _, err := wire.DecodeBatch(huge); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("huge payload: %v, want ErrTooLarge", err)
	}
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "les-pins", "cabin-2"} {
		if err := wire.ValidateID(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Les", "a.b", "a b", "a/b", "é", strings.Repeat("a", 65)} {
		if err := wire.ValidateID(bad); err == nil {
			t.Errorf("%q accepted; NATS would mangle it", bad)
		}
	}
}

func TestTopics(t *testing.T) {
	tp := wire.TopicsFor("les-pins", "a")
	if tp.Events != "palier/v1/les-pins/a/events" || tp.Notices != "palier/v1/les-pins/notices" || tp.Ack != "palier/v1/les-pins/a/ack" {
		t.Fatalf("topics %+v", tp)
	}
	if wire.AckSubject("les-pins", "a") != "palier.v1.les-pins.a.ack" {
		t.Fatal("ack subject")
	}
	if strings.Contains(wire.ClientID("les-pins", "a"), ".") {
		t.Fatal("client id has a dot; NATS refuses it")
	}
	// Ids may hold '-': two cabins must never share a client id (they would
	// take over each other's session, issue 14).
	ids := []string{"a", "b", "c", "a-b", "b-c", "a-b-c", "c-doctor"}
	seen := map[string][2]string{}
	for _, site := range ids {
		for _, cabin := range ids {
			id := wire.ClientID(site, cabin)
			if prev, ok := seen[id]; ok {
				t.Fatalf("site %s cabin %s and site %s cabin %s share client id %s", site, cabin, prev[0], prev[1], id)
			}
			seen[id] = [2]string{site, cabin}
			if strings.HasSuffix(id, "_doctor") {
				t.Fatalf("cabin client id %s looks like a doctor's", id)
			}
		}
	}
}

func TestEveryTypeRoundTrips(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for typ, data := range map[string]any{
		wire.TypeArrival: wire.ArrivalData{Floor: 2}, wire.TypeTrip: wire.TripData{From: 0, To: 2, Direction: wire.DirectionUp, DurationMS: 6000},
		wire.TypeFault: wire.FaultData{Code: 31, Severity: wire.SeveritySelfClearing, Active: true}, wire.TypeHeartbeat: wire.HeartbeatData{},
		wire.TypeHealth: wire.HealthData{UptimeSeconds: 5}, wire.TypeDropped: wire.DroppedData{Reason: "x"},
		wire.TypeCommissionReport: wire.CommissionReportData{Started: now, Trips: 3, Floors: []int{0, 3}, NotSeen: []string{"the alarm"}},
	} {
		ev, err := wire.NewEvent(now, typ, data)
		if err != nil {
			t.Fatal(err)
		}
		ev.Seq = 7
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestDecodeAck(t *testing.T) {
	a, err := wire.DecodeAck([]byte(`{"v":1,"epoch":"k3v9x2","seq":42}`))
	if err != nil || a.Seq != 42 {
		t.Fatalf("%+v %v", a, err)
	}
	for _, bad := range []string{`{"v":1,"epoch":"K","seq":1}`, `{"v":3,"epoch":"k","seq":1}`, `{"v":1,"epoch":"k","seq":-1}`, `[]`} {
		if _, err := wire.DecodeAck([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNoticeSetValidation(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	until := from.Add(-time.Hour)
	good := wire.Notice{ID: "n1", Category: wire.CategoryWater, Priority: wire.PriorityUrgent, Title: wire.Text{FR: "Coupure d'eau", IT: "Interruzione dell'acqua"}, Body: wire.Text{FR: "De 9h à 12h."}, ValidFrom: from}
	set := wire.NoticeSet{V: 1, Site: "les-pins", Version: 3, Notices: []wire.Notice{good}}
	b, _ := json.Marshal(set)
	got, err := wire.DecodeNoticeSet(b)
	if err != nil || got.Notices[0].Title.In(wire.LangEN) != "Coupure d'eau" || got.Notices[0].Title.In(wire.LangIT) != "Interruzione dell'acqua" {
		t.Fatalf("%+v %v", got, err)
	}
	for name, mutate := range map[string]func(*wire.Notice){
		"title.fr":    func(n *wire.Notice) { n.Title.FR = "" },
		"category":    func(n *wire.Notice) { n.Category = "party" },
		"valid_until": func(n *wire.Notice) { n.ValidUntil = &until },
		"media[0].sha256": func(n *wire.Notice) {
			n.Media = []wire.Media{{URL: "https://x/y.png", SHA256: "abc", Size: 3}}
		},
		"body.fr": func(n *wire.Notice) { n.Body.FR = strings.Repeat("é", wire.MaxBodyLen+1) },
	} {
		n := good
		mutate(&n)
		s := set
		s.Notices = []wire.Notice{n}
		b, _ := json.Marshal(s)
		_, err := wire.DecodeNoticeSet(b)
		var fe *wire.FieldError
		if !errors.As(err, &fe) || fe.Field != "notices[0]."+name {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// TestDecodeRefusesInvalidUTF8: a fault text with bytes that are not UTF-8
// is refused at the edge, in every message and in an event built by hand,
// since PostgreSQL refuses such text and a browser shows it mangled.
func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	fault := func(text string) string {
		return strings.Replace(goodBatch, `"type":"arrival","data":{"floor":3}`,
			`"type":"fault","data":{"code":7,"text":"`+text+`","severity":"error","active":true}`, 1)
	}
	if _, err := wire.DecodeBatch([]byte(fault("porte bloquée"))); err != nil {
		t.Fatalf("the same batch in UTF-8: %v", err)
	}
	bad := fault("porte bloqu\xe9e") // Latin-1
	if _, err := wire.DecodeBatch([]byte(bad)); err == nil || !strings.Contains(err.Error(), "not valid UTF-8 at byte") {
		t.Fatalf("batch with Latin-1 bytes: %v, want a UTF-8 error naming the byte", err)
	}
	for name, decode := range map[string]func([]byte) error{
		"notice set": func(b []byte) error { _, err := wire.DecodeNoticeSet(b); return err },
		"ack":        func(b []byte) error { _, err := wire.DecodeAck(b); return err },
		"state":      func(b []byte) error { _, err := wire.DecodeState(b); return err },
	} {
		if err := decode([]byte("{\"v\":1,\"site\":\"\xff\"}")); err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("%s with a 0xff byte: %v, want a UTF-8 error", name, err)
		}
	}
	ev := wire.Event{Seq: 1, Time: time.Now(), Type: "fault", Data: []byte("{\"code\":1,\"text\":\"\xc3\",\"severity\":\"error\",\"active\":true}")}
	var fe *wire.FieldError
	if err := ev.Validate(); !errors.As(err, &fe) || fe.Field != "data" {
		t.Fatalf("event with a cut UTF-8 sequence: %v, want a FieldError on data", err)
	}
}

// TestDecodeBatchForward: the receiver's decoder keeps what a newer agent of
// the same major version adds, and refuses what it cannot key or what it
// knows to be wrong; the agent's strict decoder still refuses the additions.
func TestDecodeBatchForward(t *testing.T) {
	newer := `{"v":1,"site":"s","cabin":"c","epoch":"e","agent_build":"v1.4","events":[
	 {"seq":1,"time":"2026-03-01T08:00:00Z","type":"arrival","data":{"floor":3,"position_mm":9120}},
	 {"seq":2,"time":"2026-03-01T08:00:01Z","type":"door_obstruction","data":{"door":"front"}}]}`
	b, err := wire.DecodeBatchForward([]byte(newer))
	if err != nil || len(b.Events) != 2 || b.Events[1].Type != "door_obstruction" || !strings.Contains(string(b.Events[0].Data), "position_mm") {
		t.Fatalf("newer agent's batch: %+v, %v", b, err)
	}
	if _, err := wire.DecodeBatch([]byte(newer)); err == nil {
		t.Fatal("the strict decoder accepted unknown fields and types")
	}
	for name, tc := range map[string]struct{ edit, with, field string }{
		"type not a name":    {`"door_obstruction"`, `"Door Obstruction"`, "events[1].type"},
		"type too long":      {`"door_obstruction"`, `"` + strings.Repeat("x", 41) + `"`, "events[1].type"},
		"unknown data array": {`{"door":"front"}`, `[1,2]`, "events[1].data"},
		"known field wrong":  {`"floor":3`, `"floor":"three"`, "events[0].data.floor"},
		"no sequence":        {`"seq":2,`, ``, "events[1].seq"},
		"other version":      {`"v":1`, `"v":2`, "v"},
	} {
		_, err := wire.DecodeBatchForward([]byte(strings.Replace(newer, tc.edit, tc.with, 1)))
		var fe *wire.FieldError
		if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, tc.field) {
			t.Errorf("%s: %v, want a FieldError on %s", name, err, tc.field)
		}
	}
}
