package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// File is a file written under a temporary name, for content streamed in
// (an upload, a download) rather than held in memory. Commit makes it
// durable and gives it its name; until then, or after Abort, no reader
// sees it under that name.
type File struct {
	*os.File
	done bool
}

// Create makes the temporary file in dir, which must be on the file system
// of the final name (a rename does not cross file systems).
func Create(dir, pattern string) (*File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("create a temporary file in %s: %w", dir, err)
	}
	return &File{File: f}, nil
}

// Commit syncs the content, closes the file, renames it to path (making
// path's folder if needed) and syncs that folder: after a power cut, path
// is either absent or whole.
func (f *File) Commit(path string) error {
	if f.done {
		return fmt.Errorf("commit %s: %w", path, os.ErrClosed)
	}
	f.done = true
	tmp := f.Name()
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o750)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("commit %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// Abort closes and removes the temporary file; after Commit it does
// nothing, so it may be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}
