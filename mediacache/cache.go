package mediacache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Errors a download can end with.
var (
	ErrHashMismatch = errors.New("content does not match its SHA-256")
	ErrTooLarge     = errors.New("larger than the size cap")
)

// Options of a cache.
type Options struct {
	// MaxFileBytes caps one file; default 8 MiB (what the screen decodes).
	MaxFileBytes int64
	// MaxBytes bounds the folder; default 64 MiB.
	MaxBytes int64
	// Client makes the requests; default a client with a 60 s timeout.
	Client *http.Client
	Logger *slog.Logger
}

// Cache is the agent's media folder.
type Cache struct {
	dir string
	o   Options
	mu  sync.Mutex // one Sync at a time
}

// Open prepares the folder.
func Open(dir string, o Options) (*Cache, error) {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 8 << 20
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("media cache: %w", err)
	}
	return &Cache{dir: dir, o: o}, nil
}

// Dir is the folder the screen reads.
func (c *Cache) Dir() string { return c.dir }

// Result says what a Sync did.
type Result struct {
	Fetched int     // files downloaded and verified
	Present int     // files already there
	Failed  []error // one per file that could not be fetched
	Evicted int     // files removed to respect MaxBytes
}

// Sync makes sure every media item the notice set references is in the
// folder, then trims the folder to its bound. It never fails as a whole:
// each failed item is in Result.Failed, and the screen shows a placeholder
// for it.
func (c *Cache) Sync(ctx context.Context, set wire.NoticeSet) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	var res Result
	keep := map[string]bool{}
	for _, n := range set.Notices {
		for _, m := range n.Media {
			if keep[m.SHA256] {
				continue
			}
			keep[m.SHA256] = true
			if c.has(m.SHA256) {
				res.Present++
				continue
			}
			if err := c.fetch(ctx, m); err != nil {
				c.o.Logger.Warn("media not fetched", "notice", n.ID, "url", m.URL, "err", err)
				res.Failed = append(res.Failed, fmt.Errorf("notice %s: %w", n.ID, err))
				continue
			}
			res.Fetched++
		}
	}
	n, err := c.trim(keep)
	if err != nil {
		res.Failed = append(res.Failed, err)
	}
	res.Evicted = n
	return res
}

func (c *Cache) path(sha string) string { return filepath.Join(c.dir, sha) }

func (c *Cache) has(sha string) bool {
	_, err := os.Stat(c.path(sha))
	return err == nil
}

// fetch downloads one item into a temporary file, checks its size and hash,
// and renames it into place: the screen never sees a partial file.
func (c *Cache) fetch(ctx context.Context, m wire.Media) error {
	if m.Size > c.o.MaxFileBytes {
		return fmt.Errorf("fetch %s: announced %d bytes: %w (%d)", m.URL, m.Size, ErrTooLarge, c.o.MaxFileBytes)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: HTTP %s", m.URL, resp.Status)
	}
	tmp, err := os.CreateTemp(c.dir, ".download-*")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, c.o.MaxFileBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	if n > c.o.MaxFileBytes {
		return fmt.Errorf("fetch %s: %w (%d bytes)", m.URL, ErrTooLarge, c.o.MaxFileBytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("fetch %s: %w (got %s, want %s)", m.URL, ErrHashMismatch, got, m.SHA256)
	}
	if err := os.Rename(tmp.Name(), c.path(m.SHA256)); err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	return nil
}

// trim removes files past MaxBytes: unreferenced ones first, oldest first;
// referenced ones only if they alone exceed the bound.
func (c *Cache) trim(keep map[string]bool) (int, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, fmt.Errorf("trim media cache: %w", err)
	}
	type file struct {
		name string
		size int64
		mod  time.Time
		keep bool
	}
	var files []file
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		files = append(files, file{e.Name(), info.Size(), info.ModTime(), keep[e.Name()]})
		total += info.Size()
	}
	slices.SortFunc(files, func(a, b file) int {
		if a.keep != b.keep {
			if a.keep {
				return 1
			}
			return -1
		}
		return a.mod.Compare(b.mod)
	})
	evicted := 0
	for _, f := range files {
		if total <= c.o.MaxBytes {
			break
		}
		if err := os.Remove(c.path(f.name)); err != nil {
			return evicted, fmt.Errorf("trim media cache: %w", err)
		}
		total -= f.size
		evicted++
	}
	return evicted, nil
}
