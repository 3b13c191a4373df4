package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // notices may carry GIF, JPEG or PNG images
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
)

// Media limits: the screen reads files the agent downloaded from the
// building manager's server, so it bounds what it decodes.
const (
	MaxMediaBytes  = 8 << 20
	MaxMediaPixels = 4096 * 4096
)

// ErrMediaMissing is returned when the media cache has no file for a hash
// (not downloaded yet, or evicted): the screen shows a placeholder.
var ErrMediaMissing = errors.New("media not in cache")

// MediaDir is the agent's media cache as the display reads it: one file per
// image, named by its lower-case hex SHA-256.
type MediaDir string

// Load reads, verifies and decodes the image with the given SHA-256.
func (d MediaDir) Load(sha string) (image.Image, error) {
	if len(sha) != 64 || !isHex(sha) {
		return nil, fmt.Errorf("load media %q: not a SHA-256", sha)
	}
	f, err := os.Open(filepath.Join(string(d), sha))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load media %s: %w", sha, ErrMediaMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("load media %s: %w", sha, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxMediaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load media %s: %w", sha, err)
	}
	img, err := VerifyMedia(sha, b)
	if err != nil {
		return nil, fmt.Errorf("load media %s: %w", sha, err)
	}
	return img, nil
}

// VerifyMedia checks that b has the SHA-256 sha and decodes it with
// DecodeMedia: what the screen does with a file, wherever it came from
// (the notice preview fetches it from the receiver).
func VerifyMedia(sha string, b []byte) (image.Image, error) {
	if len(b) > MaxMediaBytes {
		return nil, fmt.Errorf("%d bytes (at most %d)", len(b), MaxMediaBytes)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != sha {
		return nil, errors.New("content does not match its SHA-256")
	}
	return DecodeMedia(b)
}

// DecodeMedia decodes a GIF, JPEG or PNG image within the size limits. It
// reads the header first so that a small file claiming a huge picture is
// refused before any pixel memory is allocated.
func DecodeMedia(b []byte) (image.Image, error) {
	if len(b) > MaxMediaBytes {
		return nil, fmt.Errorf("decode image of %d bytes (at most %d)", len(b), MaxMediaBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode image header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxMediaPixels || cfg.Width > 1<<14 || cfg.Height > 1<<14 {
		return nil, fmt.Errorf("decode %s image of %dx%d pixels (at most %d pixels)", format, cfg.Width, cfg.Height, MaxMediaPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode %s image: %w", format, err)
	}
	return img, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
