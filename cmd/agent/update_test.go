package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpdateStatusShowsTheAttempt: what a technician sees while an update
// waits for the helper, from the files the agent and the helper write.
func TestUpdateStatusShowsTheAttempt(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"update.json":    `{"pending":{"from":"v1.4.0","to":"v1.4.1","channel":"canary","wave":7,"at":"2026-12-05T08:00:00Z"},"previous":"v1.3.2","failed":["v1.3.9"]}`,
		"update-request": "version=1.4.1\nchannel=canary\nwave=7\n",
		"update-result":  "status=failed\nversion=1.4.0\nprevious=1.3.2\nreason=an older attempt\x1b[0m\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"update", "status", "--state-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{
		"under way:   v1.4.0 to v1.4.1 (channel canary, wave 7), requested",
		"previous:    v1.3.2",
		"not retried: v1.3.9",
		"request:     version=1.4.1 channel=canary wave=7 (waiting for the helper",
		"verdict:     none",
		"helper:      status=failed version=1.4.0 previous=1.3.2 reason=an older attempt [0m",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "update.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"update", "status", "--state-dir", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "update record unreadable") {
		t.Fatalf("a damaged record: exit %d, %s", code, errb.String())
	}
}
