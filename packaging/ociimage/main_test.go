package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func testOptions(t *testing.T, dir string) Options {
	t.Helper()
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b.crt", "a.crt"} {
		if err := os.WriteFile(filepath.Join(certs, n), []byte(strings.Replace(testPEM, "MIIB", "MIIB"+n, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bins := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		p := filepath.Join(dir, "bin-"+arch)
		if err := os.WriteFile(p, []byte("binary for "+arch), 0o755); err != nil {
			t.Fatal(err)
		}
		bins["linux/"+arch] = p
	}
	return Options{
		Out: filepath.Join(dir, "layout"), Tar: filepath.Join(dir, "image.tar"), Tag: "1.2.3",
		CACerts: certs, Binaries: bins, Annotations: map[string]string{"org.opencontainers.image.version": "1.2.3"},
		Epoch: time.Unix(0, 0).UTC(),
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func blobPath(layoutDir, digest string) string {
	return filepath.Join(layoutDir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// Two builds of the same inputs, at different times and places, give the
// same bytes: the digest and the tarball.
func TestBuildReproducible(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	o1, o2 := testOptions(t, d1), testOptions(t, d2)
	dig1, err := Build(o1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a file time leaking in would differ
	dig2, err := Build(o2)
	if err != nil {
		t.Fatal(err)
	}
	if dig1 != dig2 {
		t.Fatalf("digests differ: %s and %s", dig1, dig2)
	}
	t1, _ := os.ReadFile(o1.Tar)
	t2, _ := os.ReadFile(o2.Tar)
	if !bytes.Equal(t1, t2) {
		t.Fatal("tarballs differ")
	}
	// A changed binary changes the digest.
	if err := os.WriteFile(o2.Binaries["linux/amd64"], []byte("another binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	dig3, err := Build(o2)
	if err != nil {
		t.Fatal(err)
	}
	if dig3 == dig1 {
		t.Fatal("a different binary gave the same digest")
	}
}

// The layout is what skopeo and crane read: index.json naming an image
// index by tag, one manifest per platform, a non-root config, and layers
// holding the user, the certificates and the binary.
func TestBuildLayout(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	digest, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	var top index
	readJSON(t, filepath.Join(o.Out, "index.json"), &top)
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != digest || top.Manifests[0].MediaType != mediaIndex ||
		top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "1.2.3" {
		t.Fatalf("index.json = %+v, want the image index %s tagged 1.2.3", top, digest)
	}
	var idx index
	readJSON(t, blobPath(o.Out, digest), &idx)
	if len(idx.Manifests) != 2 || idx.Manifests[0].Platform.Architecture != "amd64" || idx.Manifests[1].Platform.Variant != "v8" {
		t.Fatalf("image index = %+v, want amd64 then arm64/v8", idx)
	}
	var m manifest
	readJSON(t, blobPath(o.Out, idx.Manifests[0].Digest), &m)
	var cfg imageConfig
	readJSON(t, blobPath(o.Out, m.Config.Digest), &cfg)
	if cfg.Config.User != "65532:65532" || cfg.Config.Entrypoint[0] != binaryPath || cfg.Created != "1970-01-01T00:00:00Z" {
		t.Fatalf("config = %+v", cfg)
	}
	if len(m.Layers) != 2 || len(cfg.RootFS.DiffIDs) != 2 {
		t.Fatalf("want 2 layers and 2 diff ids, got %d and %d", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	files := map[string]*tar.Header{}
	contents := map[string]string{}
	for _, l := range m.Layers {
		f, err := os.Open(blobPath(o.Out, l.Digest))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h.ModTime.Equal(o.Epoch) {
				t.Errorf("%s: time %v, want %v", h.Name, h.ModTime, o.Epoch)
			}
			data, _ := io.ReadAll(tr)
			files[h.Name], contents[h.Name] = h, string(data)
		}
		f.Close()
	}
	if !strings.Contains(contents["etc/passwd"], "nonroot:x:65532:65532:") {
		t.Errorf("etc/passwd = %q, want the nonroot user 65532", contents["etc/passwd"])
	}
	if got, want := contents[caBundle], strings.Replace(testPEM, "MIIB", "MIIBa.crt", 1)+strings.Replace(testPEM, "MIIB", "MIIBb.crt", 1); got != want {
		t.Errorf("CA bundle = %q, want a.crt then b.crt: %q", got, want)
	}
	if contents["usr/bin/palier-receiver"] != "binary for amd64" || files["usr/bin/palier-receiver"].Mode != 0o755 {
		t.Errorf("usr/bin/palier-receiver = %q mode %o", contents["usr/bin/palier-receiver"], files["usr/bin/palier-receiver"].Mode)
	}
	if h := files["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp/ = %+v, want mode 1777", h)
	}
}

// TestBuildWithPreview: the preview's files go in a layer of their own,
// the same for every platform, where the chart's http.preview_dir points.
func TestBuildWithPreview(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	o.Preview = filepath.Join(dir, "preview")
	os.MkdirAll(o.Preview, 0o755)
	for _, n := range previewFiles {
		if err := os.WriteFile(filepath.Join(o.Preview, n), []byte("file "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digest, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	var idx index
	readJSON(t, blobPath(o.Out, digest), &idx)
	var layers [][]descriptor
	for _, md := range idx.Manifests {
		var m manifest
		readJSON(t, blobPath(o.Out, md.Digest), &m)
		var cfg imageConfig
		readJSON(t, blobPath(o.Out, m.Config.Digest), &cfg)
		if len(m.Layers) != 3 || len(cfg.RootFS.DiffIDs) != 3 || len(cfg.History) != 3 {
			t.Fatalf("%d layers, %d diff ids, %d history entries: want 3 (base, preview, binary)", len(m.Layers), len(cfg.RootFS.DiffIDs), len(cfg.History))
		}
		layers = append(layers, m.Layers)
	}
	if layers[0][1].Digest != layers[1][1].Digest || layers[0][2].Digest == layers[1][2].Digest {
		t.Fatalf("want one preview layer shared by both platforms and a binary layer each: %+v", layers)
	}
	f, err := os.Open(blobPath(o.Out, layers[0][1].Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	for _, n := range previewFiles {
		if got["usr/share/palier-receiver/preview/"+n] != "file "+n {
			t.Errorf("%s not in the preview layer: %v", n, got)
		}
	}
	os.Remove(filepath.Join(o.Preview, "wasm_exec.js"))
	if _, err := Build(o); err == nil || !strings.Contains(err.Error(), "wasm_exec.js") {
		t.Errorf("a preview folder without wasm_exec.js: %v, want an error naming it", err)
	}
}

func TestBuildRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, change := range map[string]func(*Options){
		"bad tag":      func(o *Options) { o.Tag = "v0.0.0-dev+abc" },
		"no certs":     func(o *Options) { o.CACerts = t.TempDir() },
		"bad platform": func(o *Options) { o.Binaries = map[string]string{"amd64": o.Binaries["linux/amd64"]} },
		"no binary":    func(o *Options) { o.Binaries = nil },
	} {
		o := testOptions(t, dir)
		change(&o)
		if _, err := Build(o); err == nil {
			t.Errorf("%s: Build succeeded", name)
		}
	}
}
