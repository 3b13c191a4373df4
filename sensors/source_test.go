package sensors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/simulator/simtest"
)

func TestLoadControllerLoadsTheNamedMap(t *testing.T) {
	ctrl, err := LoadController(ControllerConfig{Source: SourceModbus, Profile: "profiles/palier-sim.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if ctrl.Name() != "profile palier-sim" || ctrl.Contacts != nil {
		t.Errorf("name %q, contacts %v", ctrl.Name(), ctrl.Contacts)
	}
	if text, sev := ctrl.FaultInfo(31); text != "Door lock contact bounce" || sev != "self_clearing" {
		t.Errorf("fault 31: %q %q", text, sev)
	}
	if text, sev := ctrl.FaultInfo(99); text != "" || sev != "" {
		t.Errorf("unknown fault: %q %q", text, sev)
	}

	ctrl, err = LoadController(ControllerConfig{Source: SourceContacts, Contacts: "profiles/contacts/relay-board.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if ctrl.Name() != "contacts relay-board" || ctrl.Profile != nil {
		t.Errorf("name %q, profile %v", ctrl.Name(), ctrl.Profile)
	}
	if text, sev := ctrl.FaultInfo(1); text != "" || sev != "" {
		t.Errorf("a contact map has no fault texts: %q %q", text, sev)
	}

	if _, err := LoadController(ControllerConfig{Source: SourceModbus, Profile: "profiles/nope.yaml"}); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing profile: %v", err)
	}
}

func TestControllerSourceReadsTheSimulator(t *testing.T) {
	_, path := simtest.Still(t)
	cc := DefaultControllerConfig()
	cc.Profile, cc.Port, cc.Baud, cc.ResponseTimeout = "profiles/palier-sim.yaml", path, 115200, time.Second
	ctrl, err := LoadController(cc)
	if err != nil {
		t.Fatal(err)
	}
	for _, resilient := range []bool{false, true} {
		at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		src, err := ctrl.Open(SourceOptions{Resilient: resilient, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatalf("resilient %t: %v", resilient, err)
		}
		s, err := src.Read(context.Background())
		if err != nil || s.Floor != 4 || !s.Time.Equal(at) {
			t.Errorf("resilient %t: read %+v, %v", resilient, s, err)
		}
		vals, s2, err := src.Signals(context.Background())
		if err != nil || vals["floor"] != "4" || vals["door_a"] != "closed" || s2.Floor != 4 || !s2.Time.Equal(at) {
			t.Errorf("resilient %t: signals %v, sample %+v, %v", resilient, vals, s2, err)
		}
		if src.Levels() != nil || !strings.Contains(src.LastExchange(), "03") {
			t.Errorf("resilient %t: levels %v, last exchange %q", resilient, src.Levels(), src.LastExchange())
		}
		if err := src.Close(); err != nil {
			t.Errorf("resilient %t: close: %v", resilient, err)
		}
	}

	// A missing port fails at once for the installer's tools, and only at
	// the first reading for the agent, which keeps trying.
	cc.Port = t.TempDir() + "/ttyNOPE0"
	ctrl, _ = LoadController(cc)
	if _, err := ctrl.Open(SourceOptions{}); err == nil {
		t.Error("opened a missing port")
	}
	src, err := ctrl.Open(SourceOptions{Resilient: true})
	if err != nil {
		t.Fatalf("resilient open of a missing port: %v", err)
	}
	defer src.Close()
	if _, err := src.Read(context.Background()); err == nil {
		t.Error("read from a missing port")
	}
}

func TestControllerSourceReadsContacts(t *testing.T) {
	b := board{}
	ctrl, err := LoadController(ControllerConfig{Source: SourceContacts, Contacts: "profiles/contacts/relay-board.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := ctrl.Open(SourceOptions{OpenGPIO: b.open})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, p := range b {
		p.L = true // active low: every contact open
	}
	b.set("GPIO25", true) // the alarm button
	vals, s, err := src.Signals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if vals["alarm (GPIO25)"] != "CLOSED" || vals["door_open (GPIO17)"] != "open" || len(vals) != 11 {
		t.Errorf("signals %v", vals)
	}
	if lv := src.Levels(); !lv["alarm (GPIO25)"] || lv["door_open (GPIO17)"] || src.LastExchange() != "" || src.Hint(err) != "" {
		t.Errorf("levels %v", lv)
	}
	if s.Floor != 0 {
		t.Errorf("sample %+v", s)
	}
}
