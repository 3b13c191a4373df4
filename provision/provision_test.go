package provision

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/wire"
)

const testPassword = "s3cret-Pa55-for-les-pins-a"

// testCA returns a freshly made self-signed CA certificate, PEM.
func testCA(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "palier test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// provisionFixture is an installed device: the packaged config (with the
// profile pointing into the repository) and a boot partition folder.
type provisionFixture struct {
	etc, boot  string
	opts       Options
	configOrig []byte
}

func newProvisionFixture(t *testing.T, bootYAML string) *provisionFixture {
	t.Helper()
	f := &provisionFixture{etc: t.TempDir(), boot: t.TempDir()}
	sample, err := os.ReadFile("../packaging/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	profile, _ := filepath.Abs("../sensors/profiles/palier-sim.yaml")
	f.configOrig = bytes.Replace(sample, []byte("/usr/share/palier/profiles/palier-sim.yaml"), []byte(profile), 1)
	f.opts = Options{
		BootFile:   filepath.Join(f.boot, "palier.yaml"),
		ConfigFile: filepath.Join(f.etc, "agent.yaml"),
		Now:        func() time.Time { return time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC) },
	}
	if err := os.WriteFile(f.opts.ConfigFile, f.configOrig, 0o640); err != nil {
		t.Fatal(err)
	}
	if bootYAML != "" {
		if err := os.WriteFile(f.opts.BootFile, []byte(bootYAML), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func goodBoot(ca string) string {
	return "site: villa-marina\ncabin: b\nbroker: ssl://leaf.palier.example:8883\nusername: villa-marina-b\npassword: " + testPassword + "\nca_pem: |\n" +
		indent(ca, "  ")
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return by + strings.Join(lines, "\n"+by) + "\n"
}

// noSecretsOnBoot fails if any file of the boot folder holds the password
// or a certificate.
func noSecretsOnBoot(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(b, []byte(testPassword)) || bytes.Contains(b, []byte("CERTIFICATE")) {
			t.Errorf("boot partition file %s still holds a secret:\n%s", e.Name(), b)
		}
		if e.Name() != "palier.yaml" {
			t.Errorf("boot partition left with %s", e.Name())
		}
	}
}

func TestProvisionTakesSecretsOnce(t *testing.T) {
	ca := testCA(t)
	f := newProvisionFixture(t, goodBoot(ca))
	res, err := Run(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Done || res.Site != "villa-marina" || len(res.Written) != 3 {
		t.Fatalf("result %+v", res)
	}

	// The agent config loads, with the new identity and credentials.
	cfg, err := agent.LoadConfig(f.opts.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Site != "villa-marina" || cfg.Cabin != "b" || cfg.Uplink.Broker != "ssl://leaf.palier.example:8883" || cfg.Uplink.Username != "villa-marina-b" {
		t.Fatalf("config identity/uplink: %+v %+v", cfg.Site, cfg.Uplink)
	}
	if cfg.Uplink.PasswordFile != filepath.Join(f.etc, "mqtt.password") || cfg.Uplink.TLS.CAFile != filepath.Join(f.etc, "ca.pem") {
		t.Fatalf("secret files: %q %q", cfg.Uplink.PasswordFile, cfg.Uplink.TLS.CAFile)
	}
	// The installer's other settings and the comments are kept.
	merged, _ := os.ReadFile(f.opts.ConfigFile)
	for _, keep := range []string{"# The cabin's identity", "parity: E", "poll_interval: 200ms", "heartbeat_interval: 5m", "listen: 127.0.0.1:9464"} {
		if !bytes.Contains(merged, []byte(keep)) {
			t.Errorf("merged config lost %q:\n%s", keep, merged)
		}
	}
	if bytes.Contains(merged, []byte(testPassword)) {
		t.Fatal("password written into the config")
	}
	if st, _ := os.Stat(f.opts.ConfigFile); st.Mode().Perm() != 0o640 {
		t.Errorf("config mode %v, want the installer's 0640", st.Mode().Perm())
	}
	pw, err := os.ReadFile(cfg.Uplink.PasswordFile)
	if err != nil || strings.TrimSpace(string(pw)) != testPassword {
		t.Fatalf("password file %q, %v", pw, err)
	}
	if st, _ := os.Stat(cfg.Uplink.PasswordFile); st.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(cfg.Uplink.TLS.CAFile); string(b) != ca {
		t.Errorf("CA file differs from the provisioned PEM")
	}

	// The boot partition keeps a record without secrets.
	noSecretsOnBoot(t, f.boot)
	record, _ := os.ReadFile(f.opts.BootFile)
	p, err := Parse("record", bytes.NewReader(record))
	if err != nil || p.Provisioned == nil || !p.Provisioned.Equal(f.opts.Now()) || p.Site != "villa-marina" {
		t.Fatalf("record %+v, %v:\n%s", p, err, record)
	}

	// A second run (every start of the unit) changes nothing.
	res, err = Run(context.Background(), f.opts)
	if err != nil || res.Status != AlreadyDone {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if again, _ := os.ReadFile(f.opts.ConfigFile); !bytes.Equal(again, merged) {
		t.Fatal("second run rewrote the config")
	}
	if again, _ := os.ReadFile(f.opts.BootFile); !bytes.Equal(again, record) {
		t.Fatal("second run rewrote the boot record")
	}
}

func TestProvisionWithoutBootFileDoesNothing(t *testing.T) {
	f := newProvisionFixture(t, "")
	res, err := Run(context.Background(), f.opts)
	if err != nil || res.Status != NoFile {
		t.Fatalf("%+v, %v", res, err)
	}
	if b, _ := os.ReadFile(f.opts.ConfigFile); !bytes.Equal(b, f.configOrig) {
		t.Fatal("config changed")
	}
}

func TestProvisionIdentityOnly(t *testing.T) {
	f := newProvisionFixture(t, "site: les-pins\ncabin: c2\nbroker: tcp://10.0.0.5:1883\n")
	if res, err := Run(context.Background(), f.opts); err != nil || res.Status != Done || len(res.Written) != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	cfg, err := agent.LoadConfig(f.opts.ConfigFile)
	if err != nil || cfg.Cabin != "c2" || cfg.Uplink.Broker != "tcp://10.0.0.5:1883" || cfg.Uplink.PasswordFile != "" {
		t.Fatalf("%+v, %v", cfg.Uplink, err)
	}
	if _, err := os.Stat(filepath.Join(f.etc, "mqtt.password")); err == nil {
		t.Fatal("password file written without a password")
	}
}

func TestProvisionRefusesBadFileAndChangesNothing(t *testing.T) {
	ca := testCA(t)
	good := goodBoot(ca)
	for _, tc := range []struct {
		name, boot, field string
	}{
		{"unknown key", strings.Replace(good, "password:", "pasword:", 1), "pasword"},
		{"bad site", strings.Replace(good, "villa-marina\n", "Villa Marina\n", 1), "site"},
		{"missing cabin", strings.Replace(good, "cabin: b\n", "", 1), "cabin"},
		{"bad broker", strings.Replace(good, "ssl://leaf.palier.example:8883", "http://leaf", 1), "broker"},
		{"password without username", strings.Replace(good, "username: villa-marina-b\n", "", 1), "username"},
		{"username without password", strings.Replace(good, "password: "+testPassword+"\n", "", 1), "password"},
		{"CA not PEM", strings.Replace(good, "BEGIN CERTIFICATE", "BEGIN CERTIFICAT", 1), "ca_pem"},
		{"CA with plain TCP", strings.Replace(good, "ssl://", "tcp://", 1), "ca_pem"},
		{"not YAML", "site: [\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newProvisionFixture(t, tc.boot)
			_, err := Run(context.Background(), f.opts)
			var pe *configfile.FieldError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *configfile.FieldError", err)
			}
			if pe.Field != tc.field || !strings.Contains(err.Error(), f.opts.BootFile) {
				t.Fatalf("error %q names field %q, want %q", err, pe.Field, tc.field)
			}
			if b, _ := os.ReadFile(f.opts.ConfigFile); !bytes.Equal(b, f.configOrig) {
				t.Error("config changed")
			}
			if b, _ := os.ReadFile(f.opts.BootFile); string(b) != tc.boot {
				t.Error("boot file changed")
			}
			if entries, _ := os.ReadDir(f.etc); len(entries) != 1 {
				t.Errorf("files written to /etc: %v", entries)
			}
		})
	}
}

func TestProvisionRefusesToMergeIntoABrokenConfig(t *testing.T) {
	f := newProvisionFixture(t, goodBoot(testCA(t)))
	broken := append(append([]byte{}, f.configOrig...), []byte("\nlog_levle: debug\n")...)
	os.WriteFile(f.opts.ConfigFile, broken, 0o640)
	_, err := Run(context.Background(), f.opts)
	if err == nil || !strings.Contains(err.Error(), "log_levle") || !strings.Contains(err.Error(), f.opts.ConfigFile) {
		t.Fatalf("error %v does not name the config's bad key", err)
	}
	if b, _ := os.ReadFile(f.opts.BootFile); !bytes.Contains(b, []byte(testPassword)) {
		t.Fatal("secrets removed from the boot file while the config was refused: they would be lost")
	}
	if _, err := os.Stat(filepath.Join(f.etc, "mqtt.password")); err == nil {
		t.Fatal("password file written although the merge was refused")
	}
}

// TestProvisionRecoversFromEveryCrashPoint rebuilds the files as a power cut
// between two steps leaves them, and checks that the next run ends with the
// credentials in /etc and none on the boot partition.
func TestProvisionRecoversFromEveryCrashPoint(t *testing.T) {
	ca := testCA(t)
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, f *provisionFixture, orig, record []byte)
		want  Status
	}{
		{"before anything", func(t *testing.T, f *provisionFixture, orig, record []byte) {
			os.WriteFile(f.opts.ConfigFile, f.configOrig, 0o640)
			os.Remove(filepath.Join(f.etc, "mqtt.password"))
			os.WriteFile(f.opts.BootFile, orig, 0o644)
		}, Done},
		{"secrets written, config not", func(t *testing.T, f *provisionFixture, orig, record []byte) {
			os.WriteFile(f.opts.ConfigFile, f.configOrig, 0o640)
			os.WriteFile(f.opts.BootFile, orig, 0o644)
		}, Done},
		{"record half written", func(t *testing.T, f *provisionFixture, orig, record []byte) {
			os.WriteFile(f.opts.BootFile, orig, 0o644)
			os.WriteFile(f.opts.BootFile+".new", record[:len(record)/2], 0o644)
		}, Done},
		{"original set aside", func(t *testing.T, f *provisionFixture, orig, record []byte) {
			os.Remove(f.opts.BootFile)
			os.WriteFile(f.opts.BootFile+".scrub", orig, 0o644)
			os.WriteFile(f.opts.BootFile+".new", record, 0o644)
		}, Finished},
		{"record in place, original not erased", func(t *testing.T, f *provisionFixture, orig, record []byte) {
			os.WriteFile(f.opts.BootFile+".scrub", orig, 0o644)
		}, Finished},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := goodBoot(ca)
			f := newProvisionFixture(t, orig)
			if _, err := Run(context.Background(), f.opts); err != nil {
				t.Fatal(err)
			}
			record, _ := os.ReadFile(f.opts.BootFile)
			tc.crash(t, f, []byte(orig), record)

			res, err := Run(context.Background(), f.opts)
			if err != nil || res.Status != tc.want {
				t.Fatalf("run after the crash: %+v, %v; want %v", res, err, tc.want)
			}
			cfg, err := agent.LoadConfig(f.opts.ConfigFile)
			if err != nil || cfg.Uplink.Username != "villa-marina-b" {
				t.Fatalf("config after recovery: %v", err)
			}
			if pw, _ := os.ReadFile(cfg.Uplink.PasswordFile); strings.TrimSpace(string(pw)) != testPassword {
				t.Fatal("no password after recovery")
			}
			noSecretsOnBoot(t, f.boot)
			if res, err := Run(context.Background(), f.opts); err != nil || res.Status != AlreadyDone {
				t.Fatalf("third run: %+v, %v", res, err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("site: les-pins\ncabin: a\nbroker: tcp://127.0.0.1:1883\n"))
	f.Add([]byte("site: les-pins\ncabin: a\nbroker: ssl://h:8883\nusername: u\npassword: p\nca_pem: x\n"))
	f.Add([]byte("provisioned: 2026-11-24T09:30:00Z\nsite: a\ncabin: b\nbroker: tcp://h:1\nusername: u\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		// Whatever is accepted becomes topic parts and a config: it must be valid.
		if wire.ValidateID(p.Site) != nil || wire.ValidateID(p.Cabin) != nil || p.Broker == "" {
			t.Fatalf("accepted %+v", p)
		}
		if p.Password != "" && (p.Username == "" || strings.ContainsAny(p.Password, "\r\n")) {
			t.Fatalf("accepted a password that cannot be used: %+v", p)
		}
	})
}
