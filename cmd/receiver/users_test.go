package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/palier-lifts/palier/natsauth"
)

const validHash = "$2a$04$5ZTpChCbjK6vr8vkrBNjDeu9d4DPW2S0Rh5M2tsDOOumzqCuwzA0." // bcrypt of "x", cost 4

func TestUsers(t *testing.T) {
	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(fleet, []byte("devices:\n  - site: s\n    cabin: c\n    password_hash: \""+validHash+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "accounts.conf")
	if code := users([]string{"render", "--fleet", fleet, "--out", out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte(`"palier.v1.s.c.events"`)) {
		t.Fatalf("render wrote %q, %v", b, err)
	}
	if code := users([]string{"check", fleet}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "ok (1 devices") {
		t.Fatalf("check: exit %d, %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"users", "check", fleet}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "ok (1 devices") {
		t.Fatalf("receiver users check: exit %d, %q", code, stdout.String())
	}
	stdout.Reset()
	// A device's password: a machine-made secret, hashed at the cost a
	// reconnect storm can pay; a service's at the full cost.
	for _, tc := range []struct {
		args     []string
		password string
		cost     int
	}{
		{[]string{"hash"}, "a-device-secret-of-32-characters", natsauth.DeviceCost},
		{[]string{"hash", "--service"}, "a long enough password", natsauth.ServiceCost},
	} {
		stdout.Reset()
		if code := users(tc.args, strings.NewReader(tc.password+"\n"), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr.String())
		}
		h := strings.TrimSpace(stdout.String())
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(tc.password)); err != nil {
			t.Fatalf("%v: hash %q does not match the password: %v", tc.args, h, err)
		}
		if cost, _ := bcrypt.Cost([]byte(h)); cost != tc.cost {
			t.Fatalf("%v: cost %d, want %d", tc.args, cost, tc.cost)
		}
	}
	stderr.Reset()
	if code := users([]string{"hash"}, strings.NewReader("a long enough password\n"), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "openssl rand") {
		t.Fatalf("hash of a 22-character device password: exit %d, %q; want 1 saying how to make one", code, stderr.String())
	}
	if code := users([]string{"hash", "--service"}, strings.NewReader("short\n"), &stdout, &stderr); code != 1 {
		t.Fatalf("hash of a short service password: exit %d, want 1", code)
	}
	if code := users([]string{"hash", "--bogus"}, strings.NewReader("x\n"), &stdout, &stderr); code != 2 {
		t.Fatalf("hash --bogus: exit %d, want 2", code)
	}
	// Many devices at once: one hash per line, in order; a bad line is
	// named and nothing is printed.
	stdout.Reset()
	pw := []string{"first-device-secret-of-32-chars", "second-device-secret-of-32-char"}
	if code := users([]string{"hash", "--each-line"}, strings.NewReader(pw[0]+"\n"+pw[1]+"\r\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("hash --each-line: exit %d: %s", code, stderr.String())
	}
	hashes := strings.Fields(stdout.String())
	if len(hashes) != len(pw) {
		t.Fatalf("hash --each-line: %d hashes for %d passwords: %q", len(hashes), len(pw), stdout.String())
	}
	for i, h := range hashes {
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(pw[i])); err != nil {
			t.Fatalf("hash --each-line: line %d's hash does not match its password: %v", i+1, err)
		}
	}
	stdout.Reset()
	stderr.Reset()
	if code := users([]string{"hash", "--each-line"}, strings.NewReader(pw[0]+"\nshort\n"), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "line 2:") || stdout.Len() != 0 {
		t.Fatalf("hash --each-line with a short line 2: exit %d, stderr %q, stdout %q; want 1 naming line 2 and no hash printed", code, stderr.String(), stdout.String())
	}
	if code := users([]string{"render"}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("render without --fleet: exit %d, want 2", code)
	}
	if code := users([]string{"check", filepath.Join(dir, "missing.yaml")}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("check of a missing file: exit %d, want 1", code)
	}
}
