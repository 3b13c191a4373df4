package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWithMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "counters.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new" {
		t.Fatalf("content %q, %v", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWriteIntoMissingFolderFails(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "no", "f"), nil, 0o600); err == nil {
		t.Fatal("write into a missing folder: want an error")
	}
}

func TestFileCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(dir, ".part-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("streamed"); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(dir, "sub", "name")
	if _, err := os.Stat(final); !os.IsNotExist(err) {
		t.Fatalf("the final name exists before Commit: %v", err)
	}
	if err := f.Commit(final); err != nil {
		t.Fatal(err)
	}
	f.Abort() // after Commit: nothing
	if b, err := os.ReadFile(final); err != nil || string(b) != "streamed" {
		t.Fatalf("after Commit: %q, %v", b, err)
	}
	g, err := Create(dir, ".part-*")
	if err != nil {
		t.Fatal(err)
	}
	g.Abort()
	if _, err := os.Stat(g.Name()); !os.IsNotExist(err) {
		t.Fatalf("Abort left %s: %v", g.Name(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "sub" {
		t.Fatalf("left in the folder: %v", ents)
	}
}
