package previewbuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuild builds the real preview: a WebAssembly module, its gzip of the
// same bytes, and the wasm_exec.js that runs it.
func TestBuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "preview")
	if err := Build(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, WasmFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) || len(wasm) < 1<<20 {
		t.Fatalf("screen.wasm: %d bytes starting %q, want a WebAssembly module", len(wasm), wasm[:min(4, len(wasm))])
	}
	f, err := os.Open(filepath.Join(dir, WasmGzipFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, wasm) {
		t.Fatalf("screen.wasm.gz does not hold screen.wasm (err %v)", err)
	}
	js, err := os.ReadFile(filepath.Join(dir, ExecFile))
	if err != nil || !strings.Contains(string(js), "globalThis.Go") {
		t.Fatalf("wasm_exec.js: %v, want the toolchain's", err)
	}
	t.Logf("screen.wasm %d bytes, gzip %d bytes", len(wasm), mustSize(t, filepath.Join(dir, WasmGzipFile)))
	left, _ := filepath.Glob(filepath.Join(dir, ".build-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func mustSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
