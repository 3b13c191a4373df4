package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	profile, _ := filepath.Abs("../../sensors/profiles/palier-sim.yaml")
	os.WriteFile(good, []byte("site: les-pins\ncabin: a\ncontroller:\n  profile: "+profile+"\n"), 0o600)
	var out, errOut bytes.Buffer
	if code := run([]string{"config", "check", good}, &out, &errOut); code != 0 {
		t.Fatalf("good config: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "ok") {
		t.Fatalf("good config: %q", out.String())
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("site: Les Pins\ncabin: a\ncontroller:\n  profile: "+profile+"\n  parity: X\n  baud: 3\n"), 0o600)
	out.Reset()
	errOut.Reset()
	if code := run([]string{"config", "check", bad}, &out, &errOut); code != 1 {
		t.Fatalf("bad config: exit %d, want 1", code)
	}
	for _, want := range []string{"site:", "controller.parity:", "controller.baud:"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("config check did not report %s:\n%s", want, errOut.String())
		}
	}
}

func TestUnknownCommandAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "frobnicate") {
		t.Fatalf("unknown command: exit %d, %q", code, errOut.String())
	}
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "palier agent") {
		t.Fatalf("version: exit %d, %q", code, out.String())
	}
}

func TestSingleProcUnlessGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	runtime.GOMAXPROCS(2)
	singleProc(func(string) string { return "2" })
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Errorf("GOMAXPROCS set in the environment: %d procs, want 2 kept", n)
	}
	singleProc(func(string) string { return "" })
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("no GOMAXPROCS in the environment: %d procs, want 1", n)
	}
}
