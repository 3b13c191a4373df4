package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/wire"
)

// noticeCache keeps the last notice set on disk so that a display restarted
// while the agent is away still shows the building's notices.
type noticeCache struct {
	dir string // "" disables the cache
	log *slog.Logger
}

func (c noticeCache) path() string { return filepath.Join(c.dir, "notices.json") }

// load returns the cached set, nil when there is none or it is unreadable
// (a bad cache is logged and ignored, never fatal).
func (c noticeCache) load() *wire.NoticeSet {
	if c.dir == "" {
		return nil
	}
	b, err := os.ReadFile(c.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		c.log.Warn("notice cache unreadable", "path", c.path(), "err", err)
		return nil
	}
	ns, err := wire.DecodeNoticeSet(b)
	if err != nil {
		c.log.Warn("notice cache invalid, ignored", "path", c.path(), "err", err)
		return nil
	}
	c.log.Info("notices loaded from cache", "version", ns.Version, "notices", len(ns.Notices))
	return &ns
}

// store writes the set atomically (temporary file, fsync, rename).
func (c noticeCache) store(ns *wire.NoticeSet) {
	if c.dir == "" || ns == nil {
		return
	}
	if err := c.write(ns); err != nil {
		c.log.Warn("notice cache not written", "path", c.path(), "err", err)
	}
}

func (c noticeCache) write(ns *wire.NoticeSet) error {
	b, err := json.Marshal(ns)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(c.path(), b, 0o600)
}
