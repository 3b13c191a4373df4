package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/palier-lifts/palier/atomicfile"
)

// Errors callers branch on.
var (
	ErrTooLarge = errors.New("file too large")
	ErrBadHash  = errors.New("not a SHA-256 in lower-case hex")
	ErrNotFound = errors.New("no such file")
	// ErrQuota is returned by Put when the store would grow past its bound.
	ErrQuota = errors.New("media store full")
)

// Store is a directory of files named by their SHA-256.
type Store struct {
	dir      string
	maxTotal int64
	mu       sync.Mutex // one Put decides against the bound at a time
}

// Open makes dir if needed. maxTotal bounds the bytes stored (0: no bound),
// so that uploads cannot fill the receiver's disk.
func Open(dir string, maxTotal int64) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("open media dir %s: %w", dir, err)
	}
	return &Store{dir: dir, maxTotal: maxTotal}, nil
}

// used is the bytes of the stored files (not those being written).
func (s *Store) used() (int64, error) {
	var n int64
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// Put stores what r holds, at most max bytes, and returns its hash and size.
// The file is written aside, fsync'd, checked by check (if not nil: e.g.
// CheckType) and only then renamed into place, so a reader never sees a
// partial or refused file under a hash.
func (s *Store) Put(r io.Reader, max int64, check func(io.ReadSeeker) error) (sum string, size int64, err error) {
	tmp, err := atomicfile.Create(filepath.Join(s.dir, "tmp"), "upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("store media: %w", err)
	}
	defer tmp.Abort() // nothing once committed
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err != nil {
		return "", 0, fmt.Errorf("store media: %w", err)
	}
	if size > max {
		return "", 0, fmt.Errorf("store media: more than %d bytes: %w", max, ErrTooLarge)
	}
	if size == 0 {
		return "", 0, errors.New("store media: empty file")
	}
	if check != nil {
		if err = check(tmp); err != nil {
			return "", 0, fmt.Errorf("store media: %w", err)
		}
	}
	sum = hex.EncodeToString(h.Sum(nil))
	final := s.path(sum)
	if _, serr := os.Stat(final); serr == nil {
		return sum, size, nil // stored already: the same bytes under the same name
	}
	if s.maxTotal > 0 {
		s.mu.Lock()
		defer s.mu.Unlock() // held until the rename: the bound sees this file
		var used int64
		if used, err = s.used(); err != nil {
			return "", 0, fmt.Errorf("store media: measure the store: %w", err)
		}
		if used+size > s.maxTotal {
			err = fmt.Errorf("store media: %d bytes stored, %d more would pass the bound of %d: %w", used, size, s.maxTotal, ErrQuota)
			return "", 0, err
		}
	}
	if err = tmp.Commit(final); err != nil {
		return "", 0, fmt.Errorf("store media: %w", err)
	}
	return sum, size, nil
}

func (s *Store) path(sum string) string { return filepath.Join(s.dir, sum[:2], sum) }

// CheckHash says whether sum is a SHA-256 in lower-case hex.
func CheckHash(sum string) error {
	if len(sum) != 64 {
		return fmt.Errorf("%w: %d characters", ErrBadHash, len(sum))
	}
	for _, c := range sum {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: %q", ErrBadHash, c)
		}
	}
	return nil
}

// Open opens the file of hash sum.
func (s *Store) Open(sum string) (*os.File, error) {
	if err := CheckHash(sum); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("media %s: %w", sum, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", sum, err)
	}
	return f, nil
}
