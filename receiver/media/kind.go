package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // the decoders Sniff knows, as the cabin screen does
	_ "image/jpeg"
	_ "image/png"
	"io"

	_ "golang.org/x/image/webp"
)

// ErrWrongType is returned for a file that is not what its declared type
// says, or of no accepted type.
var ErrWrongType = errors.New("not a file of an accepted type")

// Types are the accepted media types.
var Types = []string{"image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf"}

// MaxPixels bounds an image's width times height: the cabin screen decodes
// it whole, and a small file can declare a huge canvas.
const MaxPixels = 40_000_000

// Sniff says what r holds by reading it, never by what anyone declared: an
// image whose header decodes (within MaxPixels), or a PDF. Anything else is
// ErrWrongType. It reads from the start of r.
func Sniff(r io.ReadSeeker) (string, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("sniff media: %w", err)
	}
	head := make([]byte, 5)
	if n, _ := io.ReadFull(r, head); bytes.Equal(head[:n], []byte("%PDF-")) {
		return "application/pdf", nil
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("sniff media: %w", err)
	}
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return "", fmt.Errorf("%w: neither a PDF nor an image that decodes (%v)", ErrWrongType, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return "", fmt.Errorf("%w: a %s image of %dx%d pixels (at most %d pixels)", ErrWrongType, format, cfg.Width, cfg.Height, MaxPixels)
	}
	return "image/" + format, nil
}

// CheckType returns a check for Put that refuses a file unless it sniffs as
// the declared type.
func CheckType(declared string) func(io.ReadSeeker) error {
	return func(r io.ReadSeeker) error {
		got, err := Sniff(r)
		if err != nil {
			return err
		}
		if got != declared {
			return fmt.Errorf("%w: declared %s, holds %s", ErrWrongType, declared, got)
		}
		return nil
	}
}
