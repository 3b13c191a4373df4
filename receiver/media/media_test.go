package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPutOpen(t *testing.T) {
	s, err := Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	body := "PNG pretend"
	sum, size, err := s.Put(strings.NewReader(body), 1024, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte(body))
	if sum != hex.EncodeToString(want[:]) || size != int64(len(body)) {
		t.Fatalf("Put = %s, %d; want %x, %d", sum, size, want, len(body))
	}
	again, _, err := s.Put(strings.NewReader(body), 1024, nil)
	if err != nil || again != sum {
		t.Fatalf("same content again: %s, %v", again, err)
	}
	f, err := s.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	if string(got) != body {
		t.Fatalf("read back %q", got)
	}
}

func TestLimits(t *testing.T) {
	s, err := Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(strings.NewReader(strings.Repeat("x", 11)), 10, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("11 bytes with max 10: %v, want ErrTooLarge", err)
	}
	if _, _, err := s.Put(strings.NewReader(""), 10, nil); err == nil {
		t.Fatal("empty file accepted")
	}
	if _, err := s.Open("../../etc/passwd"); !errors.Is(err, ErrBadHash) {
		t.Fatalf("path traversal: %v, want ErrBadHash", err)
	}
	if _, err := s.Open(strings.Repeat("a", 64)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown hash: %v, want ErrNotFound", err)
	}
}

// TestQuota: uploads cannot fill the disk; the same file again costs
// nothing and is accepted at the bound (issue 20: 15 uploads of 20 MB were
// all accepted).
func TestQuota(t *testing.T) {
	s, err := Open(t.TempDir(), 2500)
	if err != nil {
		t.Fatal(err)
	}
	a := strings.Repeat("a", 1000)
	for _, body := range []string{a, strings.Repeat("b", 1000)} {
		if _, _, err := s.Put(strings.NewReader(body), 4096, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Put(strings.NewReader(strings.Repeat("c", 1000)), 4096, nil); !errors.Is(err, ErrQuota) || !strings.Contains(err.Error(), "2000 bytes stored") {
		t.Fatalf("third upload: %v, want ErrQuota saying what is stored", err)
	}
	if _, _, err := s.Put(strings.NewReader(a), 4096, nil); err != nil {
		t.Fatalf("the same file again at the bound: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if len(entries) != 0 {
		t.Fatalf("%d temporary files left behind", len(entries))
	}
}
