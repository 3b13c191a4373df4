package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSampleConfigIsValidAndMatchesDefaults(t *testing.T) {
	cfg, err := ParseConfig(mustOpen(t, "../packaging/agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	def.Site, def.Cabin = "les-pins", "a"
	if cfg.Controller != def.Controller || cfg.Outbox != def.Outbox || cfg.Uplink != def.Uplink || cfg.Events.HeartbeatInterval != def.Events.HeartbeatInterval || cfg.Events.Debounce != def.Events.Debounce || cfg.Events.EntrapmentAfter != def.Events.EntrapmentAfter || cfg.ConfigGrace != def.ConfigGrace {
		t.Fatalf("packaging/agent.yaml drifted from DefaultConfig:\n%+v\n%+v", cfg, def)
	}
	cfg.Controller.Profile = "../sensors/profiles/palier-sim.yaml"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	_, err := ParseConfig(strings.NewReader("site: a\ncabin: b\ncontroler:\n  port: /dev/x\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "controler") {
		t.Fatalf("error %v does not name the key and its line", err)
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	os.WriteFile(path, []byte(`site: Les Pins
cabin: a.1
controller:
  profile: missing.yaml
  baud: 19000
  parity: X
uplink:
  broker: "nats://"
  protocol: "4"
`), 0o600)
	_, err := LoadConfig(path)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, field := range []string{"site:", "cabin:", "controller.profile:", "controller.baud:", "controller.parity:", "uplink.broker:", "uplink.protocol:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("no problem reported for %s in:\n%v", field, err)
		}
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file: %v", err)
	}
}

func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	os.WriteFile(filepath.Join(dir, "p.yaml"), nil, 0o600)
	os.WriteFile(path, []byte("site: s\ncabin: c\nstate_dir: state\ncontroller:\n  profile: p.yaml\n"), 0o600)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != filepath.Join(dir, "state") || cfg.Controller.Profile != filepath.Join(dir, "p.yaml") {
		t.Fatalf("paths not resolved: %q %q", cfg.StateDir, cfg.Controller.Profile)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("site: s\ncabin: c\n"))
	f.Add([]byte("controller:\n  baud: [1,2]\n"))
	f.Add([]byte("uplink: {broker: 3}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(strings.NewReader(string(b)))
		if err == nil {
			_ = cfg.Validate()
		}
	})
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestMediaHosts: the broker's host is always trusted for notice media,
// screen.media_hosts add others, and an entry that is not a host is named.
func TestMediaHosts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Uplink.Broker = "ssl://leaf.palier.example:8883"
	cfg.Screen.MediaHosts = []string{"media.palier.example", "cdn.example:8443"}
	got := strings.Join(cfg.MediaHosts(), " ")
	if got != "media.palier.example cdn.example:8443 leaf.palier.example" {
		t.Fatalf("MediaHosts() = %s", got)
	}
	cfg.Site, cfg.Cabin = "s", "c"
	cfg.Controller.Profile = "../sensors/profiles/palier-sim.yaml"
	cfg.Screen.MediaHosts = []string{"ok.example", "https://x.example", "x.example/path", ""}
	err := cfg.Validate()
	for _, want := range []string{"screen.media_hosts[1]", "screen.media_hosts[2]", "screen.media_hosts[3]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no problem reported for %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "media_hosts[0]") {
		t.Errorf("a good host was refused: %v", err)
	}
}
