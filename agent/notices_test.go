package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/palier-lifts/palier/internal/logtest"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/wire"
)

// TestAgentKeepsItsNoticesWhenASetCannotBeDecoded is what an agent meets
// when the receiver is newer than it (a notice with a schedule, before
// agents knew schedules): over a real nats-server's MQTT listener, a set
// with a notice field this agent does not know is refused, strictly, with
// the field named in the log and counted; the screen keeps the previous
// set, so does the cache on disk, the agent keeps running, and the next
// set it can read is delivered.
func TestAgentKeepsItsNoticesWhenASetCannotBeDecoded(t *testing.T) {
	const site, cabin = "s", "c"
	c := startCloud(t, site, cabin)
	cfg := contactsConfig(t)
	cfg.Uplink.Broker = "tcp://" + c.srv.MQTTAddr()
	cfg.Controller.PollInterval = 50 * time.Millisecond
	cfg.Events.HeartbeatInterval = time.Hour
	pins := map[string]*gpiotest.Pin{}
	var logs logtest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.SetGPIOOpener(func(name string) (gpio.PinIn, error) {
		if pins[name] == nil {
			pins[name] = &gpiotest.Pin{N: name, L: gpio.High}
		}
		return pins[name], nil
	})
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	screen := &livefeed.Subscriber{Path: cfg.Screen.Socket, Logger: slog.New(slog.DiscardHandler)}
	go screen.Run(ctx)
	screenVersion := func() uint64 {
		if _, ns := screen.Last(); ns != nil {
			return ns.Version
		}
		return 0
	}
	cachedVersion := func() uint64 {
		b, err := os.ReadFile(filepath.Join(cfg.StateDir, "notices.json"))
		if err != nil {
			return 0
		}
		ns, err := wire.DecodeNoticeSet(b)
		if err != nil {
			t.Fatalf("cache holds a set this agent cannot read: %v", err)
		}
		return ns.Version
	}
	publish := func(body string) {
		t.Helper()
		if tok := c.pub.Publish(wire.NoticesTopic(site), 1, true, []byte(body)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish notices: %v", tok.Error())
		}
	}
	set := func(version uint64, extra string) string {
		n := wire.Notice{ID: "cleaning", Category: wire.CategoryCleaning, Priority: wire.PriorityNormal,
			Title: wire.Text{FR: "Nettoyage"}, Body: wire.Text{FR: "Hall."}, ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		b, err := json.Marshal(wire.NoticeSet{V: wire.Version, Site: site, Version: version, Notices: []wire.Notice{n}})
		if err != nil {
			t.Fatal(err)
		}
		if extra == "" {
			return string(b)
		}
		return strings.Replace(string(b), `"valid_from"`, extra+`,"valid_from"`, 1)
	}

	publish(set(1, ""))
	waitFor(t, "set 1 on the screen and in the cache", func() bool { return screenVersion() == 1 && cachedVersion() == 1 })

	// A field from a newer receiver, as "schedule" is to agents before it.
	publish(set(2, `"recurrence":{"every":"week"}`))
	waitFor(t, "set 2 refused", func() bool { return a.Stats().Uplink.BadNotices == 1 })
	if log := logs.String(); !strings.Contains(log, "ignoring invalid notice set") || !strings.Contains(log, `unknown field \"recurrence\"`) {
		t.Fatalf("the log does not say why set 2 was refused:\n%s", log)
	}
	if v, cv := screenVersion(), cachedVersion(); v != 1 || cv != 1 {
		t.Fatalf("after a set it cannot read, the screen has version %d and the cache %d, want 1 both", v, cv)
	}
	select {
	case err := <-done:
		t.Fatalf("the agent stopped: %v", err)
	default:
	}

	publish(set(3, ""))
	waitFor(t, "set 3 on the screen and in the cache", func() bool { return screenVersion() == 3 && cachedVersion() == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
