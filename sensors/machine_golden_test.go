package sensors

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/scenarios/*.golden")

// TestGolden plays every scenario and compares its events with the golden
// file. go test ./sensors -run Golden -update rewrites them.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.samples"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"door_reopen", "faults", "fire_service", "inspection", "line_noise", "normal_traffic", "power_loss", "stuck_between_floors"}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".samples"))
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("scenario %s.samples is missing", w)
		}
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".samples")
		t.Run(name, func(t *testing.T) {
			sc, err := readScenario(p)
			if err != nil {
				t.Fatal(err)
			}
			m, events := sc.run(wire.Counters{})
			for i := range events {
				e := events[i]
				e.Seq = uint64(i + 1)
				if err := e.Validate(); err != nil {
					t.Errorf("event %d (%s) does not validate: %v", i, e.Type, err)
				}
			}
			got := goldenLines(m, events)
			golden := strings.TrimSuffix(p, ".samples") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantB, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, wantB) {
				t.Errorf("events differ from %s (run with -update after checking):\n%s", golden, lineDiff(string(wantB), string(got)))
			}
		})
	}
}

// lineDiff shows the lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}
