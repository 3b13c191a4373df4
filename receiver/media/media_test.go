package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestPutOpen(t *testing.T) {
	s, err := Open(t.TempDir())
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
	s, err := Open(t.TempDir())
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
