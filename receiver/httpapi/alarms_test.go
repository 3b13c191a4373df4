package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// ackRecorder is an AlarmAckPublisher that keeps what it was given, or fails.
type ackRecorder struct {
	mu   sync.Mutex
	acks []wire.AlarmAck
	fail error
}

func (r *ackRecorder) PublishAlarmAck(_ context.Context, a wire.AlarmAck) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.acks = append(r.acks, a)
	return nil
}

// An operator acknowledges a trapped cabin's alarm and entrapment through
// the API: only operators and admins may, every bad body is refused naming
// its field, the acknowledgement is published to the cabin naming the
// raising events, and the cabin's situations and alarms say so.
func TestAcknowledgeAndCloseAlarms(t *testing.T) {
	acks := &ackRecorder{}
	f := newFixture(t, map[string]Role{"r-token": RoleRead, "o-token": RoleOperator, "a-token": RoleAdmin},
		func(o *Options) { o.AlarmAcks = acks })
	ctx := context.Background()
	now := time.Now()
	alarm := storetest.Event(7, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 2})
	ent := storetest.Event(8, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Reason: "stopped between floors", Floor: 2})
	alarm.Time, ent.Time = now.Add(-time.Minute), now.Add(-50*time.Second)
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{{V: 1, Site: "les-pins", Cabin: "a", Epoch: "e1", Events: []wire.Event{alarm, ent}}}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.InsertBatches(ctx, []wire.Batch{storetest.Batch("les-pins", "b", "e1", 1)}, now); err != nil {
		t.Fatal(err)
	}
	const path = "/api/v1/cabins/les-pins/a/acknowledgements"
	body := []byte(`{"by":"Chiara","message":"technician in 15 min"}`)

	f.token = ""
	if code, _, _ := f.do(t, "POST", path, "application/json", body); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	f.token = "r-token"
	if code, _, _ := f.do(t, "POST", path, "application/json", body); code != 403 {
		t.Fatalf("read token: %d, want 403", code)
	}
	f.token = "o-token"
	for _, tc := range []struct{ body, param string }{
		{`{"message":"x"}`, "by"},
		{`{"by":"` + strings.Repeat("a", wire.MaxAckByLen+1) + `"}`, "by"},
		{`{"by":"Chiara\u0007"}`, "by"},
		{`{"by":"Chiara","message":"` + strings.Repeat("m", wire.MaxAckMessageLen+1) + `"}`, "message"},
		{`{"by":"Chiara","who":"x"}`, ""},
		{`{"by":"Chiara"} {}`, ""},
	} {
		code, b, _ := f.do(t, "POST", path, "application/json", []byte(tc.body))
		var e APIError
		json.Unmarshal(b, &e)
		if code != 400 || e.Param != tc.param || e.Error == "" {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.body, code, b, tc.param)
		}
	}
	if code, b, _ := f.do(t, "POST", "/api/v1/cabins/les-pins/b/acknowledgements", "application/json", body); code != 409 || !strings.Contains(string(b), "no open alarm") {
		t.Fatalf("a cabin without alarms: %d %s, want 409", code, b)
	}
	if len(acks.acks) != 0 {
		t.Fatalf("refused acknowledgements were published: %+v", acks.acks)
	}

	code, b, _ := f.do(t, "POST", path, "application/json", body)
	var res Acknowledgement
	if err := json.Unmarshal(b, &res); code != 201 || err != nil || !res.Published || len(res.Alarms) != 2 || res.By != "Chiara" {
		t.Fatalf("acknowledge: %d %s", code, b)
	}
	if len(acks.acks) != 1 || !acks.acks[0].Covers("e1", 7) || !acks.acks[0].Covers("e1", 8) || acks.acks[0].Validate() != nil {
		t.Fatalf("published %+v, want one naming both raising events", acks.acks)
	}
	var cab struct {
		Situations []struct {
			Name         string `json:"name"`
			Acknowledged *struct {
				By string `json:"by"`
			} `json:"acknowledged"`
		} `json:"situations"`
	}
	if code := f.get(t, "/api/v1/cabins/les-pins/a", &cab); code != 200 {
		t.Fatalf("GET cabin: %d", code)
	}
	seen := 0
	for _, s := range cab.Situations {
		if s.Name == "alarm" || s.Name == "entrapment" {
			seen++
			if s.Acknowledged == nil || s.Acknowledged.By != "Chiara" {
				t.Errorf("situation %s not acknowledged: %+v", s.Name, s)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("situations %+v, want the alarm and the entrapment", cab.Situations)
	}

	// A failed publish is stored, answered as such, and republished later.
	acks.fail = errors.New("broker away")
	code, b, _ = f.do(t, "POST", path, "application/json", []byte(`{"by":"Marc"}`))
	if json.Unmarshal(b, &res); code != 201 || res.Published || !strings.Contains(res.Error, "broker away") {
		t.Fatalf("acknowledge with the broker away: %d %s", code, b)
	}

	var list struct {
		Alarms []AlarmJSON `json:"alarms"`
	}
	if code := f.get(t, "/api/v1/cabins/les-pins/a/alarms", &list); code != 200 || len(list.Alarms) != 2 {
		t.Fatalf("GET alarms: %d %+v", code, list)
	}
	for _, a := range list.Alarms {
		if a.State != "acknowledged" || a.AcknowledgedBy != "Marc" || a.AcknowledgedAt == nil || a.ClosedAt != nil {
			t.Errorf("alarm %+v", a)
		}
	}
	entID := list.Alarms[0].ID // newest first: the entrapment
	if list.Alarms[0].Kind != "entrapment" || entID != "e1.8" {
		t.Fatalf("newest alarm %+v, want the entrapment e1.8", list.Alarms[0])
	}

	closePath := "/api/v1/cabins/les-pins/a/alarms/" + entID + "/close"
	for _, tc := range []struct{ path, body, param string }{
		{"/api/v1/cabins/les-pins/a/alarms/nodot/close", `{"by":"Chiara","reason":"x"}`, "id"},
		{"/api/v1/cabins/les-pins/a/alarms/e1.0/close", `{"by":"Chiara","reason":"x"}`, "id"},
		{closePath, `{"by":"Chiara"}`, "reason"},
	} {
		code, b, _ := f.do(t, "POST", tc.path, "application/json", []byte(tc.body))
		var e APIError
		json.Unmarshal(b, &e)
		if code != 400 || e.Param != tc.param {
			t.Errorf("close %s %s: %d %s, want 400 naming %q", tc.path, tc.body, code, b, tc.param)
		}
	}
	if code, _, _ := f.do(t, "POST", "/api/v1/cabins/les-pins/a/alarms/e1.99/close", "application/json", []byte(`{"by":"Chiara","reason":"x"}`)); code != 404 {
		t.Fatalf("close an unknown alarm: %d, want 404", code)
	}
	f.token = "a-token"
	code, b, _ = f.do(t, "POST", closePath, "application/json", []byte(`{"by":"Chiara","reason":"passengers out, lift checked"}`))
	var closed AlarmJSON
	if json.Unmarshal(b, &closed); code != 200 || closed.State != "closed" || closed.ClosedBy != "Chiara" || closed.CloseReason != "passengers out, lift checked" {
		t.Fatalf("close: %d %s", code, b)
	}
	if code, _, _ := f.do(t, "POST", closePath, "application/json", []byte(`{"by":"Marc","reason":"again"}`)); code != 409 {
		t.Fatalf("close twice: %d, want 409", code)
	}
}
