package configfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Broker string        `yaml:"broker"`
	Every  time.Duration `yaml:"every"`
}

type outer struct {
	Site   string  `yaml:"site"`
	Uplink inner   `yaml:"uplink"`
	Tokens []inner `yaml:"tokens"`
}

func TestDecodeOverDefaults(t *testing.T) {
	v := outer{Site: "default", Uplink: inner{Broker: "tcp://x"}}
	if err := Decode(strings.NewReader("uplink:\n  every: 2s\n"), 1<<10, &v); err != nil {
		t.Fatal(err)
	}
	if v.Site != "default" || v.Uplink.Broker != "tcp://x" || v.Uplink.Every != 2*time.Second {
		t.Fatalf("decoded %+v", v)
	}
	if err := Decode(strings.NewReader("# nothing\n"), 1<<10, &v); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty document: %v, want ErrEmpty", err)
	}
}

func TestDecodeNamesEveryUnknownKeyWithLineAndValidKeys(t *testing.T) {
	var v outer
	err := Decode(strings.NewReader("site: a\nuplink:\n  brokr: x\ntokens:\n  - evry: 1s\nsiet: b\n"), 1<<10, &v)
	probs := Each(err)
	if len(probs) != 3 {
		t.Fatalf("%d problems, want 3: %v", len(probs), err)
	}
	var fe *FieldError
	if !errors.As(probs[0], &fe) || fe.Field != "uplink.brokr" || fe.Line != 3 || !strings.Contains(fe.Problem, "broker, every") {
		t.Fatalf("first problem %#v", fe)
	}
	if !errors.As(probs[1], &fe) || fe.Field != "tokens[0].evry" || fe.Line != 5 {
		t.Fatalf("second problem %#v", fe)
	}
	if !strings.Contains(err.Error(), "line 6: siet: not a known key (want one of site, uplink, tokens)") {
		t.Fatalf("message %q", err)
	}
}

func TestDecodeTypeAndSyntaxErrorsHaveLines(t *testing.T) {
	var v outer
	err := Decode(strings.NewReader("site: a\nuplink:\n  every: soon\n"), 1<<10, &v)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line != 3 || fe.Field != "" {
		t.Fatalf("bad duration: %#v (%v)", fe, err)
	}
	err = Decode(strings.NewReader("site: [\n"), 1<<10, &v)
	if !errors.As(err, &fe) || fe.Field != "" || fe.Problem == "" {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestDecodeRefusesOversizedFile(t *testing.T) {
	var v outer
	err := Decode(strings.NewReader("site: "+strings.Repeat("a", 2048)), 1<<10, &v)
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "larger than 1 KiB") {
		t.Fatalf("oversized: %v", err)
	}
}

func TestProblemsKeepOrderAndNest(t *testing.T) {
	var part Problems
	part.Add("broker", "%q is not a URL", "x")
	part.Add("tls.ca_file", "missing")
	var p Problems
	p.Add("site", "missing")
	p.Nest("uplink", part.Err())
	p.Nest("events", errors.New("debounce too short"))
	err := p.Err()
	want := "site: missing\nuplink.broker: \"x\" is not a URL\nuplink.tls.ca_file: missing\nevents: debounce too short"
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "site" {
		t.Fatalf("errors.As: %#v", fe)
	}
	if len(Each(err)) != 4 {
		t.Fatalf("%d problems", len(Each(err)))
	}
	var none Problems
	if none.Err() != nil {
		t.Fatal("no problems, but an error")
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "password")
	os.WriteFile(path, []byte("s3cret\r\n"), 0o600)
	if s, err := ReadSecret(path); err != nil || s != "s3cret" {
		t.Fatalf("%q, %v", s, err)
	}
	os.WriteFile(path, []byte("\n"), 0o600)
	if _, err := ReadSecret(path); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := ReadSecret(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file: want an error")
	}
	// A secret every user may read or write is none (issue 20, 11).
	for _, mode := range []os.FileMode{0o644, 0o602} {
		os.WriteFile(path, []byte("s3cret\n"), 0o600)
		os.Chmod(path, mode)
		if _, err := ReadSecret(path); err == nil || !strings.Contains(err.Error(), "every user") || !strings.Contains(err.Error(), "chmod") {
			t.Errorf("mode %04o: %v, want a refusal saying what to do", mode, err)
		}
	}
	os.Chmod(path, 0o640)
	if s, err := ReadSecret(path); err != nil || s != "s3cret" {
		t.Fatalf("mode 0640 (a group of readers, as the packages install): %q, %v", s, err)
	}
}

// FuzzDecode: config files are outside input. Decoding must not panic, and
// every refusal is ErrEmpty or *FieldError values a caller can show.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("site: a\nuplink:\n  brokr: x\ntokens:\n  - evry: 1s\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("site: [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v outer
		err := Decode(strings.NewReader(string(b)), 1<<10, &v)
		if err == nil || errors.Is(err, ErrEmpty) {
			return
		}
		for _, e := range Each(err) {
			var fe *FieldError
			if !errors.As(e, &fe) || fe.Problem == "" {
				t.Fatalf("refusal %v is not a *FieldError with a problem", e)
			}
		}
	})
}

// TestDecodeRefusesASecondDocument: a second document was ignored without a
// word, so what an operator read in the file was not what ran (issue 20).
func TestDecodeRefusesASecondDocument(t *testing.T) {
	var v outer
	err := Decode(strings.NewReader("site: a\n---\nsite: b\n"), 1<<10, &v)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), "second YAML document") {
		t.Fatalf("two documents: %v, want an error naming line 2, where it starts", err)
	}
	if err := Decode(strings.NewReader("---\nsite: a\n...\n"), 1<<10, &v); err != nil {
		t.Fatalf("one document with its markers: %v", err)
	}
}

// TestDecodeStopsAtTheLimitOnEndlessInput: a device file that never ends
// (agent config check /dev/zero read without end) costs at most the limit.
func TestDecodeStopsAtTheLimitOnEndlessInput(t *testing.T) {
	var v outer
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Decode(f, 1<<20, &v); err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Fatalf("/dev/zero: %v, want larger than 1024 KiB", err)
	}
}
