package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// agent config show names where each value comes from: the file, or the
// site's or the cabin's configuration set from a distance (the cabin's
// winning), as kept in the state directory.
func TestConfigShowNamesEachSource(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o750); err != nil {
		t.Fatal(err)
	}
	profile, _ := filepath.Abs("../../sensors/profiles/palier-sim.yaml")
	path := filepath.Join(dir, "agent.yaml")
	os.WriteFile(path, []byte("site: les-pins\ncabin: a\nstate_dir: "+state+"\ncontroller:\n  profile: "+profile+"\nevents:\n  trip_too_long: 100s\n"), 0o600)
	remote := `{
  "site": {"v": 1, "site": "les-pins", "version": 2, "at": "2026-12-01T09:00:00Z",
           "config": {"events": {"trip_too_long": "2m", "door_open_too_long": "3m"}, "log_level": "warn"}},
  "cabin": {"v": 1, "site": "les-pins", "cabin": "a", "version": 3, "at": "2026-12-01T09:05:00Z",
            "config": {"events": {"trip_too_long": "150s"}}}
}`
	if err := os.WriteFile(filepath.Join(state, "remote-config.json"), []byte(remote), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"config", "show", "--config", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for field, want := range map[string]string{
		"events.trip_too_long":      `2m30s\s+cabin v3`,
		"events.door_open_too_long": `3m0s\s+site v2`,
		"log_level":                 `warn\s+site v2`,
		"events.entrapment_after":   `1m0s\s+file`,
		"controller.poll_interval":  `200ms\s+file`,
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(field) + `\s+` + want + `$`).MatchString(out.String()) {
			t.Errorf("%s: no line matching %q in:\n%s", field, want, out.String())
		}
	}

	// A remote configuration that no longer fits the file is left out,
	// and the output says so, as the agent does.
	bad := strings.Replace(remote, `"150s"`, `"-1s"`, 1)
	os.WriteFile(filepath.Join(state, "remote-config.json"), []byte(bad), 0o600)
	out.Reset()
	errOut.Reset()
	if code := run([]string{"config", "show", "--config", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "left out") || !regexp.MustCompile(`(?m)^events.trip_too_long\s+1m40s\s+file$`).MatchString(out.String()) {
		t.Errorf("a bad remote configuration:\n%s\n%s", errOut.String(), out.String())
	}
}
