package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/palier-lifts/palier/atomicfile"
)

// Dir is a directory of files named by their SHA-256: dir/ab/ab…, a mark
// per site and file in dir/sites/{site}/{sum}, uploads being written in
// dir/tmp. It serves one receiver: a second one has a directory of its own.
type Dir struct {
	dir      string
	maxTotal int64
	mu       sync.Mutex // one Put decides against the bounds at a time
}

// OpenDir makes dir if needed. maxTotal bounds the bytes stored (0: no
// bound), so that uploads cannot fill the receiver's disk.
func OpenDir(dir string, maxTotal int64) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("open media dir %s: %w", dir, err)
	}
	return &Dir{dir: dir, maxTotal: maxTotal}, nil
}

// Put implements Store. The file is written aside in dir/tmp, fsync'd,
// checked and only then renamed into place.
func (d *Dir) Put(ctx context.Context, r io.Reader, u Upload) (string, int64, error) {
	return put(ctx, d, &d.mu, filepath.Join(d.dir, "tmp"), d.maxTotal, r, u)
}

// Open implements Store.
func (d *Dir) Open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	if err := CheckHash(sum); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("media %s: %w", sum, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", sum, err)
	}
	return f, nil
}

func (d *Dir) path(sum string) string { return filepath.Join(d.dir, sum[:2], sum) }

func (d *Dir) exists(_ context.Context, sum string) (bool, error) {
	_, err := os.Stat(d.path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// used is the bytes of the stored files (not those being written).
func (d *Dir) used(context.Context) (int64, error) {
	var n int64
	err := filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == "tmp" {
			return filepath.SkipDir
		}
		if e.Type().IsRegular() {
			info, err := e.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

func (d *Dir) siteUsed(_ context.Context, site string) (int64, error) {
	ents, err := os.ReadDir(filepath.Join(d.dir, "sites", site))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	var used int64
	for _, e := range ents {
		if CheckHash(e.Name()) != nil {
			continue
		}
		if fi, err := os.Stat(d.path(e.Name())); err == nil {
			used += fi.Size()
		}
	}
	return used, nil
}

func (d *Dir) marked(_ context.Context, site, sum string) (bool, error) {
	_, err := os.Stat(filepath.Join(d.dir, "sites", site, sum))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *Dir) mark(_ context.Context, site, sum string) error {
	dir := filepath.Join(d.dir, "sites", site)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, sum), nil, 0o640)
}

func (d *Dir) commit(_ context.Context, f *atomicfile.File, sum string, _ int64) error {
	return f.Commit(d.path(sum))
}
