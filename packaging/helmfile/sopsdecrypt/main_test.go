package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"
	"gopkg.in/yaml.v3"
)

const example = "../environments/production/secrets.sops.yaml"

func identity(t *testing.T) age.Identity {
	t.Helper()
	f, err := os.Open("../example-age-key.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil || len(ids) != 1 {
		t.Fatalf("example identity: %v", err)
	}
	return ids[0]
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The files sops wrote decrypt, their MACs check, and the clear YAML holds
// the example values without the sops key.
func TestExampleFilesDecrypt(t *testing.T) {
	files, _ := filepath.Glob("../environments/*/*.sops.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d example SOPS files, want the receiver's and both NATS releases'", len(files))
	}
	for _, f := range files {
		out, err := Decrypt([]byte(read(t, f)), identity(t))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var clear map[string]any
		if err := yaml.Unmarshal(out, &clear); err != nil {
			t.Fatalf("%s: clear output is not YAML: %v", f, err)
		}
		if _, ok := clear["sops"]; ok || strings.Contains(string(out), "ENC[") {
			t.Fatalf("%s: output still carries sops metadata or an encrypted value:\n%s", f, out)
		}
	}
	out, err := Decrypt([]byte(read(t, example)), identity(t))
	if err != nil {
		t.Fatal(err)
	}
	var clear struct {
		SecretFiles map[string]string `yaml:"secretFiles"`
	}
	if err := yaml.Unmarshal(out, &clear); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(clear.SecretFiles["nats-ca.pem"], "-----BEGIN CERTIFICATE-----") || clear.SecretFiles["mqtt.password"] == "" {
		t.Fatalf("decrypted secretFiles lack the example values: %v", clear.SecretFiles)
	}
}

// Each way of changing a file without sops is refused, naming what.
func TestChangesWithoutSopsAreRefused(t *testing.T) {
	orig := read(t, example)
	encLine := regexp.MustCompile(`(?m)^    (token-backend|token-admin): (ENC\[[^\n]*\])$`)
	m := encLine.FindAllStringSubmatch(orig, -1)
	if len(m) != 2 {
		t.Fatalf("fixture changed: %d token lines", len(m))
	}
	cases := []struct {
		name, in, want string
	}{
		{"a secret in clear", strings.Replace(orig, "secretFiles:\n", "secretFiles:\n    leaked: hunter2\n", 1), "secretFiles.leaked: a clear value"},
		{"two values swapped", strings.NewReplacer(m[0][2], m[1][2], m[1][2], m[0][2]).Replace(orig), "secretFiles.token-backend: does not decrypt"},
		{"a value removed", strings.Replace(orig, m[0][0]+"\n", "", 1), "MAC mismatch"},
		{"a clear value changed", strings.Replace(orig, "secretFiles:", "extra: 1\nsecretFiles:", 1), "MAC mismatch"},
		{"a KMS key", strings.Replace(orig, "sops:\n", "sops:\n    kms: []\n", 1), "sops.kms: not read by this check"},
		{"not encrypted", "a: b\n", "no sops key"},
	}
	for _, c := range cases {
		_, err := Decrypt([]byte(c.in), identity(t))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt([]byte(orig), other); err == nil || !strings.Contains(err.Error(), "no identity opens the data key") {
		t.Errorf("another identity: %v", err)
	}
}
