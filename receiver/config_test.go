package receiver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/configfile"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestSampleConfigMatchesDefaults(t *testing.T) {
	f, err := os.Open("../packaging/receiver.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		t.Fatalf("sample config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("sample config invalid: %v", err)
	}
	def := DefaultConfig()
	if cfg.Stream != def.Stream || cfg.Acks != def.Acks || cfg.NATS.Embedded != def.NATS.Embedded || cfg.HTTP.Listen != def.HTTP.Listen {
		t.Fatalf("sample config and DefaultConfig disagree:\n%+v\n%+v", cfg, def)
	}
}

func TestParseEmptyIsDefaults(t *testing.T) {
	cfg, err := Parse(strings.NewReader(""))
	if err != nil || cfg.Stream.Name != "PALIER_EVENTS" {
		t.Fatalf("empty config: %+v, %v", cfg.Stream, err)
	}
}

func TestParseUnknownKeyNamesKeyAndLine(t *testing.T) {
	_, err := Parse(strings.NewReader("state_dir: /x\nstream:\n  max_agee: 1h\n"))
	if err == nil {
		t.Fatal("unknown key accepted")
	}
	if !strings.Contains(err.Error(), "max_agee") || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("error %q does not name the key and its line", err)
	}
}

func TestParseBadDuration(t *testing.T) {
	_, err := Parse(strings.NewReader("acks:\n  resend_interval: soon\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StateDir = "relative"
	cfg.Stream.MaxAge = 0
	cfg.Stream.Name = "has space"
	cfg.Store.Driver = "mysql"
	cfg.HTTP.Listen = "0.0.0.0:8080" // not loopback and no tokens
	cfg.HTTP.Tokens = nil
	cfg.Log.Level = "loud"
	cfg.NATS.TLS.CertFile = filepath.Join(t.TempDir(), "missing.pem")
	err := cfg.Validate()
	want := []string{"state_dir", "stream.max_age", "stream.name", "store.driver", "http.listen", "log.level", "nats.tls.cert_file", "nats.tls"}
	var fields []string
	for _, e := range unwrapAll(err) {
		var ce *configfile.FieldError
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *configfile.FieldError", e)
		}
		fields = append(fields, ce.Field)
		if !strings.Contains(ce.Problem, "want") {
			t.Errorf("%s: %q does not say what would be valid", ce.Field, ce.Problem)
		}
	}
	for _, f := range want {
		found := false
		for _, g := range fields {
			found = found || g == f
		}
		if !found {
			t.Errorf("no problem reported for %s (got %v)", f, fields)
		}
	}
}

func TestValidateExternalNATS(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NATS.URL = "http://nats:4222"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "nats.url") || !strings.Contains(err.Error(), "nats.mqtt_url") {
		t.Fatalf("external NATS without scheme or MQTT URL: %v", err)
	}
	creds := filepath.Join(t.TempDir(), "r.creds")
	os.WriteFile(creds, []byte("x"), 0o600)
	cfg.NATS.URL = "tls://a:4222, tls://b:4222"
	cfg.NATS.MQTTURL = "ssl://mqtt:8883"
	cfg.NATS.CredentialsFile = creds
	cfg.Stream.Replicas = 3
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid external config refused: %v", err)
	}
	// A user and password instead of a .creds file: both, and not with it.
	cfg.NATS.Username = "palier-receiver"
	for _, tc := range []struct {
		creds, pw, field string
	}{
		{creds, creds, "nats.credentials_file"},
		{"", "", "nats.password_file"},
		{"", filepath.Join(t.TempDir(), "missing"), "nats.password_file"},
	} {
		cfg.NATS.CredentialsFile, cfg.NATS.PasswordFile = tc.creds, tc.pw
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("username with credentials %q and password file %q: %v, want %s named", tc.creds, tc.pw, err, tc.field)
		}
	}
	cfg.NATS.CredentialsFile, cfg.NATS.PasswordFile = "", creds
	if err := cfg.Validate(); err != nil {
		t.Fatalf("external NATS with a user refused: %v", err)
	}
}

func TestValidateTokensAllowPublicListen(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	cfg := DefaultConfig()
	cfg.HTTP.Listen = "0.0.0.0:8080"
	cfg.HTTP.Tokens = []TokenConfig{{Name: "backend", Role: "read", File: tok}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("tokens + public listen refused: %v", err)
	}
	cfg.HTTP.Tokens = append(cfg.HTTP.Tokens, TokenConfig{Name: "backend", Role: "root", File: tok})
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "http.tokens[1].name") || !strings.Contains(err.Error(), "http.tokens[1].role") {
		t.Fatalf("duplicate name and bad role: %v", err)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func FuzzParseConfig(f *testing.F) {
	sample, _ := os.ReadFile("../packaging/receiver.yaml")
	f.Add(sample)
	f.Add([]byte("stream:\n  max_age: 1h\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		_ = cfg.Validate() // must not panic, whatever was parsed
	})
}

func FuzzCheckMessage(f *testing.F) {
	f.Add("palier.v1.s1.c1.events", []byte(`{"v":1,"site":"s1","cabin":"c1","epoch":"e1","events":[{"seq":1,"time":"2026-03-01T08:00:00Z","type":"arrival","data":{"floor":3}}]}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		b, err := CheckMessage(subject, data)
		if err != nil {
			var bb *BadBatchError
			if !errors.As(err, &bb) || bb.Class == "" || bb.Reason == "" {
				t.Fatalf("error %v is not a classified BadBatchError", err)
			}
			return
		}
		// Accepted: it must be storable and on its own subject.
		if subject != "palier.v1."+b.Site+"."+b.Cabin+".events" {
			t.Fatalf("batch of %s/%s accepted on %s", b.Site, b.Cabin, subject)
		}
		for _, e := range b.Events {
			if e.Seq == 0 || e.Seq > 1<<63-1 {
				t.Fatalf("seq %d accepted", e.Seq)
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("online"))
	f.Add([]byte(`"offline"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		online, err := ParseStatus(b)
		if err == nil && online != strings.Contains(string(b), "online") {
			t.Fatalf("%q parsed as online=%v", b, online)
		}
	})
}

func TestValidatePostgres(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Store.Driver = "postgres"
	cfg.Store.URL = "postgres://palier:hunter2@db:5432/palier"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "store.url") || !strings.Contains(err.Error(), "password") {
		t.Fatalf("password in URL: %v", err)
	}
	cfg.Store.URL = "mysql://db"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "store.url") {
		t.Fatalf("bad scheme: %v", err)
	}
	cfg.Store.URL = "postgres://palier@db:5432/palier?sslmode=verify-full"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid postgres config refused: %v", err)
	}
}
