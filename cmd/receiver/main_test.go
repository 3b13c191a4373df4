package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"config", "check", "../../packaging/receiver.yaml"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ok") {
		t.Fatalf("sample config: exit %d, %s %s", code, out.String(), errb.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("state_dir: rel\nhttp:\n  listen: 0.0.0.0:80\nstore:\n  driver: mysql\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := run([]string{"config", "check", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad config: exit %d, want 1", code)
	}
	for _, field := range []string{"state_dir", "http.listen", "store.driver"} {
		if !strings.Contains(errb.String(), field) {
			t.Errorf("output does not name %s:\n%s", field, errb.String())
		}
	}
	unknown := filepath.Join(t.TempDir(), "unknown.yaml")
	os.WriteFile(unknown, []byte("htp:\n  listen: x\n"), 0o600)
	errb.Reset()
	if code := run([]string{"config", "check", unknown}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "htp") || !strings.Contains(errb.String(), "line 1") {
		t.Fatalf("unknown key: exit %d, %s", code, errb.String())
	}
}

// TestConfigCheckMediaS3: config check reports each problem of
// media.s3 by its field.
func TestConfigCheckMediaS3(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "s3-access-key")
	os.WriteFile(key, []byte("palier\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("media:\n  s3:\n    endpoint: https://s3.example:9000\n    bucket: palier-media\n    region: us-east-1\n"+
		"    access_key_file: "+key+"\n    secret_key_file: "+key+"\n    path_style: true\n    prefix: palier/\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"config", "check", good}, &out, &errb); code != 0 {
		t.Fatalf("valid media.s3: exit %d, %s", code, errb.String())
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("http:\n  media_dir: /srv/media\nmedia:\n  s3:\n    endpoint: s3.example:9000\n    bucket: Palier_Media\n"+
		"    secret_key_file: "+filepath.Join(dir, "missing")+"\n    prefix: /palier\n"), 0o600)
	errb.Reset()
	if code := run([]string{"config", "check", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad media.s3: exit %d, want 1", code)
	}
	for _, field := range []string{"http.media_dir", "media.s3.endpoint", "media.s3.bucket", "media.s3.region",
		"media.s3.access_key_file", "media.s3.secret_key_file", "media.s3.prefix"} {
		if !strings.Contains(errb.String(), field+":") {
			t.Errorf("output does not name %s:\n%s", field, errb.String())
		}
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "palier receiver") {
		t.Fatalf("--version: exit %d, %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Fatalf("unknown command: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"--config", "/nonexistent/receiver.yaml"}, &out, &errb); code != 1 {
		t.Fatalf("missing config file: exit %d, want 1", code)
	}
}
