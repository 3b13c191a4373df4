package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

// TestScheduledNoticeThroughTheChain: a notice with a schedule, posted
// through the API of a real receiver, crosses embedded NATS's MQTT
// listener, the agent's strict decoder and its live feed, and reaches the
// screen's side with its schedule as sent; the screen's model shows it on
// a Monday at 08:30 in Monaco, not at 10:00 nor on Saturday.
func TestScheduledNoticeThroughTheChain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	log := logger(t)
	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))
	_, pty, _ := playScenario(t, ctx, "idle", "start_floor: 0\nsteps:\n  - wait: 30m\n", 1)
	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	runAgent(t, ctx, acfg, log.With("part", "agent"), nil)

	schedule := &wire.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"},
		Hours: []wire.Window{{From: "08:00", To: "10:00"}, {From: "17:00", To: "19:00"}}}
	until := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	notice := wire.Notice{ID: "hall-cleaning", Category: wire.CategoryCleaning, Priority: wire.PriorityNormal,
		Title: wire.Text{FR: "Nettoyage du hall"}, Body: wire.Text{FR: "Sol mouillé."},
		ValidFrom: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ValidUntil: &until, Schedule: schedule}
	post := func(n any) (int, []byte) {
		b, _ := json.Marshal(n)
		resp, err := http.Post("http://"+rcv.HTTPAddr()+"/api/v1/sites/"+site+"/notices", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	bad := notice
	bad.Schedule = &wire.Schedule{Hours: []wire.Window{{From: "22:00", To: "02:00"}}}
	if code, body := post(bad); code != http.StatusBadRequest || !bytes.Contains(body, []byte(`"param":"schedule.hours[0].to"`)) {
		t.Fatalf("a window across midnight: %d %s", code, body)
	}
	if code, body := post(notice); code != http.StatusCreated {
		t.Fatalf("post notice: %d %s", code, body)
	}

	sub := &livefeed.Subscriber{Path: acfg.Screen.Socket, Logger: log.With("part", "display"), MinBackoff: 50 * time.Millisecond}
	subCtx, subCancel := context.WithCancel(ctx)
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Run(subCtx) }()
	defer func() { subCancel(); <-subDone }()
	var set *wire.NoticeSet
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var state *wire.State
		state, set = sub.Last()
		if set != nil && len(set.Notices) == 1 {
			break
		}
		if time.Now().After(deadline) {
			// What the feed had says where the chain stopped.
			t.Fatalf("not within 60s: the scheduled notice on the screen's feed (the feed had a state: %v; a notice set: %v; %d bad lines)",
				state != nil, set != nil, sub.Skipped())
		}
	}
	if got := set.Notices[0].Schedule; !reflect.DeepEqual(got, schedule) {
		t.Fatalf("the screen received schedule %+v, the manager sent %+v", got, schedule)
	}

	model, err := ui.NewModel(ui.DefaultConfig()) // Europe/Monaco
	if err != nil {
		t.Fatal(err)
	}
	monaco, err := time.LoadLocation("Europe/Monaco")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 12, 7, 8, 30, 0, 0, monaco), "hall-cleaning"},
		{time.Date(2026, 12, 7, 10, 0, 0, 0, monaco), ""},
		{time.Date(2026, 12, 5, 8, 30, 0, 0, monaco), ""},
	} {
		if got := model.View(ui.Input{Notices: set, AgentUp: true, Now: tc.at}).Notice.ID; got != tc.want {
			t.Errorf("at %s the screen shows %q, want %q", tc.at.Format("Mon 15:04"), got, tc.want)
		}
	}
}
