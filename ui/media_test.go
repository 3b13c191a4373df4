package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{0xff, 0, 0, 0xff})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func shaOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestMediaDirLoad(t *testing.T) {
	dir := t.TempDir()
	good := pngBytes(t, 4, 3)
	os.WriteFile(filepath.Join(dir, shaOf(good)), good, 0o644)
	// A file whose content does not match its name: a broken download.
	other := pngBytes(t, 2, 2)
	wrongName := shaOf([]byte("something else"))
	os.WriteFile(filepath.Join(dir, wrongName), other, 0o644)
	notImage := []byte("<html>404</html>")
	os.WriteFile(filepath.Join(dir, shaOf(notImage)), notImage, 0o644)

	md := MediaDir(dir)
	img, err := md.Load(shaOf(good))
	if err != nil || img.Bounds().Dx() != 4 || img.Bounds().Dy() != 3 {
		t.Fatalf("good image: %v %v", img, err)
	}
	for _, tc := range []struct {
		name, sha string
		missing   bool
	}{
		{"not cached", shaOf([]byte("never downloaded")), true},
		{"hash mismatch", wrongName, false},
		{"not an image", shaOf(notImage), false},
		{"path traversal", "../../etc/passwd", false},
	} {
		_, err := md.Load(tc.sha)
		if err == nil || errors.Is(err, ErrMediaMissing) != tc.missing {
			t.Errorf("%s: %v (missing %v)", tc.name, err, tc.missing)
		}
	}
}

func TestDecodeMediaRefusesHugePictures(t *testing.T) {
	// A PNG header claiming 100000x100000 pixels in a few bytes.
	b := pngBytes(t, 1, 1)
	b[16], b[17], b[18], b[19] = 0, 1, 0x86, 0xa0 // width 100000
	b[20], b[21], b[22], b[23] = 0, 1, 0x86, 0xa0 // height 100000
	if _, err := DecodeMedia(b); err == nil {
		t.Fatal("decoded a 10-gigapixel claim")
	}
}

// FuzzDecodeMedia: image files come from outside; decoding must not panic
// and what it accepts is within the limits.
func FuzzDecodeMedia(f *testing.F) {
	f.Add(pngBytes(f, 3, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeMedia(b)
		if err != nil {
			return
		}
		if r := img.Bounds(); r.Dx()*r.Dy() > MaxMediaPixels {
			t.Fatalf("accepted %v", r)
		}
	})
}
