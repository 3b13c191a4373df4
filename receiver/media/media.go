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
	// ErrSiteQuota: the site's uploads together would pass its bound.
	ErrSiteQuota = errors.New("site's media quota reached")
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
	return s.PutFor("", 0, r, max, check)
}

// PutFor is Put for a site, whose uploads together may not pass siteMax
// bytes (0: no bound of its own): one site's manager cannot fill what
// every site shares. A file is a site's once it uploaded it (a marker in
// sites/{site}); the same bytes uploaded by two sites count for each.
func (s *Store) PutFor(site string, siteMax int64, r io.Reader, max int64, check func(io.ReadSeeker) error) (sum string, size int64, err error) {
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
	// One decision against the bounds at a time, held until the file has
	// its name: the next one sees it.
	s.mu.Lock()
	defer s.mu.Unlock()
	if site != "" {
		if err = s.claim(site, siteMax, sum, size); err != nil {
			return "", 0, err
		}
	}
	if _, serr := os.Stat(final); serr == nil {
		return sum, size, nil // stored already: the same bytes under the same name
	}
	if s.maxTotal > 0 {
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

// claim marks sum as one of site's files, unless that would take the
// site's files past siteMax. s.mu must be held.
func (s *Store) claim(site string, siteMax int64, sum string, size int64) error {
	dir := filepath.Join(s.dir, "sites", site)
	marker := filepath.Join(dir, sum)
	if _, err := os.Stat(marker); err == nil {
		return nil // the site's already
	}
	if siteMax > 0 {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store media: measure site %s: %w", site, err)
		}
		var used int64
		for _, e := range ents {
			if fi, err := os.Stat(s.path(e.Name())); err == nil && CheckHash(e.Name()) == nil {
				used += fi.Size()
			}
		}
		if used+size > siteMax {
			return fmt.Errorf("store media: site %s has %d bytes, %d more would pass its bound of %d: %w", site, used, size, siteMax, ErrSiteQuota)
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("store media: %w", err)
	}
	if err := atomicfile.Write(marker, nil, 0o640); err != nil {
		return fmt.Errorf("store media: %w", err)
	}
	return nil
}

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
