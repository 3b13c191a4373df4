// Command ociimage writes the receiver's container image as an OCI image
// layout (and optionally a tarball of it) from static binaries, without a
// container daemon or a registry, byte for byte the same on every run.
//
// Tools like ko or docker build start from a base image pulled from a
// registry; the machines that build Palier reach only the Go module proxy,
// Debian and npm. The receiver is a static CGO_ENABLED=0 binary, so its
// image needs little besides it, and this program assembles that little
// itself, in the shape of Google's distroless "static" image:
//
//   - a base layer: /etc/passwd and /etc/group with root and nonroot
//     (uid/gid 65532, the chart's runAsUser), /home/nonroot, /tmp (1777)
//     and /etc/ssl/certs/ca-certificates.crt, the bundle of the PEM files
//     given with -ca-certs (Debian's ca-certificates, sorted by name, as
//     update-ca-certificates joins them); the same for every platform;
//   - with -preview, a layer with the notice preview's files (the screen's
//     drawing in WebAssembly, the same for every platform) in
//     /usr/share/palier-receiver/preview, which the chart's http.preview_dir
//     names;
//   - a layer per platform with the binary at /usr/bin/palier-receiver;
//   - a config: user 65532:65532, entrypoint the binary;
//   - an image index over the platforms, which index.json names with the
//     tag (org.opencontainers.image.ref.name), as skopeo and crane expect.
//
// Reproducible: tar entries in a fixed order with fixed owners, modes and
// times (-epoch, default 0), gzip without name or time, JSON from structs
// and sorted maps. Two runs on the same inputs give the same digest (the
// index's, printed on stdout). scripts/package.sh runs it.
//
//	ociimage -out dist/oci/palier-receiver -tar dist/palier-receiver.oci.tar -tag 1.2.3 \
//	  -ca-certs /usr/share/ca-certificates/mozilla \
//	  -binary linux/amd64=dist/linux-amd64/palier-receiver \
//	  -binary linux/arm64=dist/linux-arm64/palier-receiver \
//	  -annotation org.opencontainers.image.version=1.2.3
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Media types of the OCI image specification.
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// Where things are inside the image.
const (
	binaryPath = "/usr/bin/palier-receiver"
	previewDir = "usr/share/palier-receiver/preview"
	caBundle   = "etc/ssl/certs/ca-certificates.crt"
	nonroot    = 65532
)

// Options say what to build; main fills them from flags.
type Options struct {
	Out         string            // OCI layout directory (made or replaced)
	Tar         string            // tarball of the layout; empty: none
	Tag         string            // org.opencontainers.image.ref.name in index.json
	CACerts     string            // directory of PEM files (*.crt)
	Binaries    map[string]string // "linux/amd64" -> path of the static binary
	Preview     string            // folder of the preview's files; empty: none
	Annotations map[string]string // on the index and every manifest
	Epoch       time.Time         // every timestamp
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

type index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type imageConfig struct {
	Created      string    `json:"created"`
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	Variant      string    `json:"variant,omitempty"`
	Config       runConfig `json:"config"`
	RootFS       rootFS    `json:"rootfs"`
	History      []history `json:"history"`
}

type runConfig struct {
	User       string            `json:"User"`
	Env        []string          `json:"Env"`
	Entrypoint []string          `json:"Entrypoint"`
	WorkingDir string            `json:"WorkingDir"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// entry is one file or directory of a layer.
type entry struct {
	name     string // without a leading slash
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layout accumulates blobs under Out/blobs/sha256.
type layout struct{ dir string }

func (l layout) blob(mediaType string, data []byte) (descriptor, error) {
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(l.dir, "blobs", "sha256", hexSum), data, 0o644); err != nil {
		return descriptor{}, fmt.Errorf("write blob: %w", err)
	}
	return descriptor{MediaType: mediaType, Digest: "sha256:" + hexSum, Size: int64(len(data))}, nil
}

func (l layout) jsonBlob(mediaType string, v any) (descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	return l.blob(mediaType, data)
}

// Build writes the layout (and tarball) and returns the index's digest.
func Build(o Options) (string, error) {
	if o.Out == "" || o.Tag == "" || o.CACerts == "" || len(o.Binaries) == 0 {
		return "", errors.New("want -out, -tag, -ca-certs and at least one -binary")
	}
	if !tagRE.MatchString(o.Tag) {
		return "", fmt.Errorf("tag %q is not a valid image tag (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", o.Tag)
	}
	bundle, err := caCertificates(o.CACerts)
	if err != nil {
		return "", err
	}
	// Made beside Out and renamed over it: a failed run leaves the old one.
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(o.Out)), ".ociimage-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	l := layout{dir: tmp}
	if err := os.MkdirAll(filepath.Join(tmp, "blobs", "sha256"), 0o755); err != nil {
		return "", err
	}
	created := o.Epoch.UTC().Format(time.RFC3339)

	base, baseDiff, err := l.layer(baseEntries(bundle), o.Epoch)
	if err != nil {
		return "", fmt.Errorf("base layer: %w", err)
	}
	layers, diffs := []descriptor{base}, []string{baseDiff}
	built := []history{{Created: created, CreatedBy: "ociimage: passwd, group, CA certificates (" + filepath.Base(o.CACerts) + ")"}}
	if o.Preview != "" {
		entries, err := previewEntries(o.Preview)
		if err != nil {
			return "", err
		}
		pv, pvDiff, err := l.layer(entries, o.Epoch)
		if err != nil {
			return "", fmt.Errorf("preview layer: %w", err)
		}
		layers, diffs = append(layers, pv), append(diffs, pvDiff)
		built = append(built, history{Created: created, CreatedBy: "ociimage: /" + previewDir})
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	var manifests []descriptor
	for _, p := range platforms {
		plat, err := parsePlatform(p)
		if err != nil {
			return "", err
		}
		bin, err := os.ReadFile(o.Binaries[p])
		if err != nil {
			return "", fmt.Errorf("binary for %s: %w", p, err)
		}
		app, appDiff, err := l.layer(appEntries(bin), o.Epoch)
		if err != nil {
			return "", fmt.Errorf("%s layer: %w", p, err)
		}
		cfg, err := l.jsonBlob(mediaConfig, imageConfig{
			Created: created, Architecture: plat.Architecture, OS: plat.OS, Variant: plat.Variant,
			Config: runConfig{
				User:       fmt.Sprintf("%d:%d", nonroot, nonroot),
				Env:        []string{"PATH=/usr/bin:/bin", "SSL_CERT_FILE=/" + caBundle},
				Entrypoint: []string{binaryPath},
				WorkingDir: "/",
				Labels:     o.Annotations,
			},
			RootFS:  rootFS{Type: "layers", DiffIDs: append(slices.Clone(diffs), appDiff)},
			History: append(slices.Clone(built), history{Created: created, CreatedBy: "ociimage: " + binaryPath}),
		})
		if err != nil {
			return "", err
		}
		m, err := l.jsonBlob(mediaManifest, manifest{
			SchemaVersion: 2, MediaType: mediaManifest, Config: cfg,
			Layers: append(slices.Clone(layers), app), Annotations: o.Annotations,
		})
		if err != nil {
			return "", err
		}
		pl := plat
		m.Platform = &pl
		manifests = append(manifests, m)
	}
	idx, err := l.jsonBlob(mediaIndex, index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: manifests, Annotations: o.Annotations})
	if err != nil {
		return "", err
	}
	idx.Annotations = map[string]string{"org.opencontainers.image.ref.name": o.Tag}
	top, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []descriptor{idx}})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, "index.json"), top, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return "", err
	}
	if o.Tar != "" {
		if err := tarDir(tmp, o.Tar, o.Epoch); err != nil {
			return "", fmt.Errorf("tarball: %w", err)
		}
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, o.Out); err != nil {
		return "", err
	}
	return idx.Digest, nil
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func parsePlatform(s string) (platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "linux" || parts[1] == "" {
		return platform{}, fmt.Errorf("platform %q (want linux/ARCH or linux/ARCH/VARIANT, e.g. linux/amd64)", s)
	}
	p := platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	} else if p.Architecture == "arm64" {
		p.Variant = "v8" // what registries and runtimes match arm64 nodes with
	}
	return p, nil
}

// caCertificates joins the *.crt PEM files of dir, sorted by name.
func caCertificates(dir string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("ca-certs: no *.crt in %s (want Debian's /usr/share/ca-certificates/mozilla)", dir)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
			return nil, fmt.Errorf("ca-certs: %s holds no PEM certificate", n)
		}
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

func baseEntries(bundle []byte) []entry {
	return []entry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonroot))},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonroot, nonroot))},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: caBundle, mode: 0o644, data: bundle},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, dir: true, uid: nonroot, gid: nonroot},
		{name: "root", mode: 0o700, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
	}
}

// previewFiles are the files of the preview folder the receiver serves
// (internal/previewbuild writes them).
var previewFiles = []string{"screen.wasm", "screen.wasm.gz", "wasm_exec.js"}

func previewEntries(dir string) ([]entry, error) {
	entries := []entry{
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/share", mode: 0o755, dir: true},
		{name: "usr/share/palier-receiver", mode: 0o755, dir: true},
		{name: previewDir, mode: 0o755, dir: true},
	}
	for _, name := range previewFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("preview: %w", err)
		}
		entries = append(entries, entry{name: previewDir + "/" + name, mode: 0o644, data: b})
	}
	return entries, nil
}

func appEntries(bin []byte) []entry {
	return []entry{
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/bin", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(binaryPath, "/"), mode: 0o755, data: bin},
	}
}

// layer writes a gzip'd tar of entries as a blob; it returns its
// descriptor and its diff id (the uncompressed tar's digest).
func (l layout) layer(entries []entry, epoch time.Time) (descriptor, string, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: epoch, Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return descriptor{}, "", err
		}
		if _, err := tw.Write(e.data); err != nil {
			return descriptor{}, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return descriptor{}, "", err
	}
	diff := sha256.Sum256(raw.Bytes())
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return descriptor{}, "", err
	}
	// No name and a zero time in the gzip header: nothing of this run.
	if _, err := io.Copy(zw, &raw); err != nil {
		return descriptor{}, "", err
	}
	if err := zw.Close(); err != nil {
		return descriptor{}, "", err
	}
	d, err := l.blob(mediaLayer, gz.Bytes())
	return d, "sha256:" + hex.EncodeToString(diff[:]), err
}

// tarDir writes dir as an uncompressed tarball (an "oci-archive" for
// skopeo and podman), entries sorted, owners and times fixed.
func tarDir(dir, out string, epoch time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		names = append(names, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	f, err := os.CreateTemp(filepath.Dir(out), ".ociimage-tar-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	tw := tar.NewWriter(f)
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return err
		}
		h := &tar.Header{Name: n, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX, Typeflag: tar.TypeReg}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, path.Clean(n)+"/", 0o755
		} else {
			h.Size = fi.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.IsDir() {
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
			if err != nil {
				return err
			}
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

// keyValues is a repeatable -flag KEY=VALUE.
type keyValues map[string]string

func (kv keyValues) String() string { return fmt.Sprint(map[string]string(kv)) }

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	kv[k] = v
	return nil
}

func main() {
	o := Options{Binaries: keyValues{}, Annotations: keyValues{}}
	flag.StringVar(&o.Out, "out", "", "OCI image layout directory to write (replaced)")
	flag.StringVar(&o.Tar, "tar", "", "also write a tarball of the layout here (oci-archive)")
	flag.StringVar(&o.Tag, "tag", "", "the image's tag (org.opencontainers.image.ref.name)")
	flag.StringVar(&o.CACerts, "ca-certs", "", "directory of the CA certificates (*.crt, PEM)")
	flag.Var(keyValues(o.Binaries), "binary", "linux/ARCH=PATH of a static binary (repeat per platform)")
	flag.StringVar(&o.Preview, "preview", "", "folder of the notice preview's files (screen.wasm, screen.wasm.gz, wasm_exec.js)")
	flag.Var(keyValues(o.Annotations), "annotation", "KEY=VALUE on the index, manifests and config labels (repeatable)")
	epoch := flag.Int64("epoch", 0, "seconds since 1970 of every timestamp (SOURCE_DATE_EPOCH)")
	flag.Parse()
	o.Epoch = time.Unix(*epoch, 0).UTC()
	digest, err := Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}
