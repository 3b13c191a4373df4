package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/agent"
)

func TestProvisionCommand(t *testing.T) {
	etc, boot := t.TempDir(), t.TempDir()
	profile, _ := filepath.Abs("../../sensors/profiles/palier-sim.yaml")
	config := filepath.Join(etc, "agent.yaml")
	os.WriteFile(config, []byte("# installer's settings\nsite: les-pins\ncabin: a\ncontroller:\n  profile: "+profile+"\n  baud: 9600\n"), 0o640)
	bootFile := filepath.Join(boot, "palier.yaml")
	args := []string{"provision", "--boot", bootFile, "--config", config}

	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 || !strings.Contains(out.String(), "nothing to do") {
		t.Fatalf("no boot file: exit %d, %q %q", code, out.String(), errOut.String())
	}

	// A typo: refused, the field named, nothing changed.
	os.WriteFile(bootFile, []byte("site: les-pins\ncabin: b\nbroker: ssl://leaf:8883\nusername: les-pins-b\npassword: pw-123456\nbrokr: x\n"), 0o644)
	out.Reset()
	if code := run(args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "brokr") || !strings.Contains(errOut.String(), "nothing was changed") {
		t.Fatalf("bad file: exit %d, %q", code, errOut.String())
	}

	os.WriteFile(bootFile, []byte("site: les-pins\ncabin: b\nbroker: ssl://leaf:8883\nusername: les-pins-b\npassword: pw-123456\n"), 0o644)
	out.Reset()
	if code := run(args, &out, &errOut); code != 0 || !strings.Contains(out.String(), "provisioned cabin les-pins/b") {
		t.Fatalf("exit %d, %q %q", code, out.String(), errOut.String())
	}
	cfg, err := agent.LoadConfig(config)
	if err != nil || cfg.Cabin != "b" || cfg.Controller.Baud != 9600 || cfg.Uplink.Username != "les-pins-b" {
		t.Fatalf("config after provisioning: %+v, %v", cfg.Uplink, err)
	}
	if b, _ := os.ReadFile(bootFile); bytes.Contains(b, []byte("pw-123456")) {
		t.Fatal("password left on the boot partition")
	}
	out.Reset()
	if code := run(args, &out, &errOut); code != 0 || !strings.Contains(out.String(), "already provisioned") {
		t.Fatalf("second run: exit %d, %q", code, out.String())
	}
}
