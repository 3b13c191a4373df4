package agentconfig_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agentconfig"
	"github.com/palier-lifts/palier/wire"
)

func str(s string) *string { return &s }

func TestCheckOverlayNamesEveryProblem(t *testing.T) {
	good := wire.ConfigOverlay{
		Events:     &wire.EventsOverlay{TripTooLong: str("2m")},
		Controller: &wire.ControllerOverlay{PollInterval: str("500ms")},
		LogLevel:   str("debug"),
	}
	if err := agentconfig.CheckOverlay(good); err != nil {
		t.Fatal(err)
	}
	rate := -1.0
	small := int64(1000)
	bad := wire.ConfigOverlay{
		Events:     &wire.EventsOverlay{TripTooLong: str("-1m")},
		Controller: &wire.ControllerOverlay{PollInterval: str("5ms"), Profile: str("name: x\nsignals:\n  floor: {register: 1, tpye: uint16}\n")},
		Outbox:     &wire.OutboxOverlay{MaxBytes: &small},
		Uplink:     &wire.UplinkOverlay{RateLimit: &rate},
		LogLevel:   str("verbose"),
	}
	err := agentconfig.CheckOverlay(bad)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, field := range []string{"events: machine config: trip_too_long", "controller.poll_interval:", "controller.profile:", "outbox.max_bytes:", "uplink.rate_limit:", "log_level:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("no problem names %s:\n%v", field, err)
		}
	}
	lines := agentconfig.Problems(err, 3, 40)
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "and more") || len(lines[0]) > 40 {
		t.Errorf("Problems: %q", lines)
	}
}

func TestApplyOverlaysInOrder(t *testing.T) {
	s := agentconfig.Defaults()
	site := wire.ConfigOverlay{Events: &wire.EventsOverlay{TripTooLong: str("2m"), DoorOpenTooLong: str("3m")}, LogLevel: str("warn")}
	cabin := wire.ConfigOverlay{Events: &wire.EventsOverlay{TripTooLong: str("3m")}}
	if err := s.Apply(site); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(cabin); err != nil {
		t.Fatal(err)
	}
	if s.Events.TripTooLong != 3*time.Minute || s.Events.DoorOpenTooLong != 3*time.Minute || s.LogLevel != "warn" {
		t.Fatalf("merged %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestShippedProfilesPass(t *testing.T) {
	b, err := os.ReadFile("../sensors/profiles/palier-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := agentconfig.CheckProfile(string(b)); err != nil {
		t.Fatal(err)
	}
}
