package main

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScreenshotFollowsSchedules: the real binary reads a set with a
// scheduled urgent notice (Tuesdays 15:00-16:00) and draws its banner on
// the screen's clock (Europe/Monaco, the default): at 15:07 there, not at
// 16:07 nor on Wednesday; a screen configured in New York draws it at 15:07
// New York time, not when it is 15:07 in Monaco (09:07 in New York).
func TestScreenshotFollowsSchedules(t *testing.T) {
	dir := t.TempDir()
	notices := filepath.Join(dir, "notices.json")
	if err := os.WriteFile(notices, []byte(`{"v":1,"site":"les-pins","version":3,"notices":[
 {"id":"eau","category":"water","priority":"urgent",
  "title":{"fr":"Coupure d'eau"},"body":{"fr":"Remplacement d'une vanne."},
  "valid_from":"2026-11-01T00:00:00Z","valid_until":"2026-12-01T00:00:00Z",
  "schedule":{"days":["tue"],"hours":[{"from":"15:00","to":"16:00"}]}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile("testdata/display.yaml")
	if err != nil {
		t.Fatal(err)
	}
	newYork := filepath.Join(dir, "display.yaml")
	if err := os.WriteFile(newYork, append(base, "time_zone: America/New_York\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	banner := func(img image.Image) bool {
		return count(img, image.Rect(0, 440, 800, 480), 0xc6, 0x28, 0x28) >= 800*20
	}
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{"Monaco, Tuesday 15:07", []string{"--at", "2026-11-24T14:07:00Z"}, true},
		{"Monaco, Tuesday 16:07", []string{"--at", "2026-11-24T15:07:00Z"}, false},
		{"Monaco, Wednesday 15:07", []string{"--at", "2026-11-25T14:07:00Z"}, false},
		{"New York, Tuesday 09:07", []string{"--config", newYork, "--at", "2026-11-24T14:07:00Z"}, false},
		{"New York, Tuesday 15:07", []string{"--config", newYork, "--at", "2026-11-24T20:07:00Z"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A later --config wins over shoot's fixture one.
			img := shoot(t, append([]string{"--state", "testdata/state.json", "--notices", notices}, tc.args...)...)
			if got := banner(img); got != tc.want {
				t.Fatalf("urgent banner drawn: %v, want %v", got, tc.want)
			}
		})
	}
	if strings.Contains(string(base), "time_zone") {
		t.Fatal("the fixture config sets time_zone: the Monaco cases test nothing")
	}
}
