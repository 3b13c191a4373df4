package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/palier-lifts/palier/wire"
)

// loadCounters reads the persisted counters; a missing file is a fresh
// cabin, a damaged one is reported and replaced by zeros so the agent starts.
func loadCounters(path string) (wire.Counters, error) {
	var c wire.Counters
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read counters: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return wire.Counters{}, fmt.Errorf("decode counters %s: %w", path, err)
	}
	return c, nil
}

// saveCounters writes the counters atomically and durably: a power cut
// leaves either the old file or the new one, so totals never go backwards
// further than the last save.
func saveCounters(path string, c wire.Counters) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode counters: %w", err)
	}
	return writeFileAtomic(path, b)
}

// writeFileAtomic writes b to path through a synced temporary file and a
// rename, then syncs the folder: a power cut leaves the old file or the new.
func writeFileAtomic(path string, b []byte) error {
	return writeFileAs(path, b, 0o600, -1, -1)
}

// writeFileAs writes atomically with the mode and owner (-1: unchanged)
// set on the temporary file, so that the name never points at a file the
// agent cannot read or others can.
func writeFileAs(path string, b []byte, mode os.FileMode, uid, gid int) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	err = f.Chmod(mode)
	if err == nil && (uid >= 0 || gid >= 0) {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
