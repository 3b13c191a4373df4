package ui

import (
	"strings"
	"testing"
)

// FuzzParseConfig: a config file is outside input; parsing must not panic,
// and an accepted config must build a Model.
func FuzzParseConfig(f *testing.F) {
	f.Add("building: Les Pins\nfloor_labels: {0: RDC}\n")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseConfig(strings.NewReader(s))
		if err != nil {
			return
		}
		m, err := NewModel(cfg)
		if err != nil {
			t.Fatalf("accepted config does not build a model: %v", err)
		}
		m.View(Input{Now: t0})
	})
}
