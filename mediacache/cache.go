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
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/wire"
)

// Errors a download can end with.
var (
	ErrHashMismatch = errors.New("content does not match its SHA-256")
	ErrTooLarge     = errors.New("larger than the size cap")
)

// ErrUntrustedHost is returned for a URL, or a redirect, to a host the
// cache was not told to trust.
var ErrUntrustedHost = errors.New("host not trusted for media")

// Options of a cache.
type Options struct {
	// TrustedHosts are the hosts media may come from, "host" (any port) or
	// "host:port"; a URL or a redirect elsewhere is refused, so a notice
	// cannot point the agent at a service on the cabin's network or its
	// own loopback. Empty trusts no host.
	TrustedHosts []string
	// MaxFileBytes caps one file; default 8 MiB (what the screen decodes).
	MaxFileBytes int64
	// MaxBytes bounds the folder; default 64 MiB.
	MaxBytes int64
	// ItemTimeout bounds one download, so a slow host costs its own items
	// only; default 30 s.
	ItemTimeout time.Duration
	// Parallel is how many downloads run at once; default 3.
	Parallel int
	// Client makes the requests; default a plain client. Its redirects are
	// checked against TrustedHosts either way.
	Client *http.Client
	Logger *slog.Logger
}

// Cache is the agent's media folder.
type Cache struct {
	dir    string
	o      Options
	client *http.Client
	mu     sync.Mutex // one Sync at a time

	// verified holds the files whose hash was checked since Open: a file
	// cut by a power loss is caught once, not trusted for ever.
	verified map[string]bool
}

// Open prepares the folder.
func Open(dir string, o Options) (*Cache, error) {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 8 << 20
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.ItemTimeout <= 0 {
		o.ItemTimeout = 30 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 3
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("media cache: %w", err)
	}
	c := &Cache{dir: dir, o: o, verified: map[string]bool{}}
	client := *o.Client
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("more than 3 redirects")
		}
		return c.checkHost(req.URL)
	}
	c.client = &client
	return c, nil
}

// checkHost refuses a URL that is not http(s) on a trusted host.
func (c *Cache) checkHost(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q (want http or https)", ErrUntrustedHost, u.Scheme)
	}
	for _, h := range c.o.TrustedHosts {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q (trusted: %v)", ErrUntrustedHost, u.Host, c.o.TrustedHosts)
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
	type item struct {
		notice string
		m      wire.Media
		err    error
	}
	var todo []*item
	for _, n := range set.Notices {
		for _, m := range n.Media {
			if keep[m.SHA256] {
				continue
			}
			keep[m.SHA256] = true
			if c.has(m) {
				res.Present++
				continue
			}
			todo = append(todo, &item{notice: n.ID, m: m})
		}
	}
	// A few at a time, each under its own deadline: one slow host holds
	// one worker for ItemTimeout, never the whole set.
	work := make(chan *item)
	var wg sync.WaitGroup
	for range min(c.o.Parallel, len(todo)) {
		wg.Go(func() {
			for it := range work {
				it.err = c.fetch(ctx, it.m)
			}
		})
	}
	for _, it := range todo {
		work <- it
	}
	close(work)
	wg.Wait()
	for _, it := range todo { // in the set's order
		if it.err != nil {
			c.o.Logger.Warn("media not fetched", "notice", it.notice, "url", it.m.URL, "err", it.err)
			res.Failed = append(res.Failed, fmt.Errorf("notice %s: %w", it.notice, it.err))
			continue
		}
		c.verified[it.m.SHA256] = true
		res.Fetched++
	}
	n, err := c.trim(keep)
	if err != nil {
		res.Failed = append(res.Failed, err)
	}
	res.Evicted = n
	return res
}

func (c *Cache) path(sha string) string { return filepath.Join(c.dir, sha) }

// has says whether m's file is in the folder, whole: its size as announced
// and, the first time since Open, its hash. A file that fails is removed
// and fetched again.
func (c *Cache) has(m wire.Media) bool {
	p := c.path(m.SHA256)
	info, err := os.Stat(p)
	if err != nil {
		return false
	}
	if m.Size > 0 && info.Size() != m.Size || !c.verified[m.SHA256] && !matches(p, m.SHA256) {
		c.o.Logger.Warn("cached media damaged; fetching it again", "sha256", m.SHA256, "size", info.Size(), "want", m.Size)
		os.Remove(p)
		return false
	}
	c.verified[m.SHA256] = true
	return true
}

func matches(path, sum string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == sum
}

// fetch downloads one item into a temporary file, checks its size and hash,
// and renames it into place: the screen never sees a partial file.
func (c *Cache) fetch(ctx context.Context, m wire.Media) error {
	if m.Size > c.o.MaxFileBytes {
		return fmt.Errorf("fetch %s: announced %d bytes: %w (%d)", m.URL, m.Size, ErrTooLarge, c.o.MaxFileBytes)
	}
	u, err := url.Parse(m.URL)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	if err := c.checkHost(u); err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.ItemTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: HTTP %s", m.URL, resp.Status)
	}
	tmp, err := atomicfile.Create(c.dir, ".download-*")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	defer tmp.Abort() // nothing once committed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, c.o.MaxFileBytes+1))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", m.URL, err)
	}
	if n > c.o.MaxFileBytes {
		return fmt.Errorf("fetch %s: %w (%d bytes)", m.URL, ErrTooLarge, c.o.MaxFileBytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("fetch %s: %w (got %s, want %s)", m.URL, ErrHashMismatch, got, m.SHA256)
	}
	// Synced before it has its name: a power cut leaves no half file under it.
	if err := tmp.Commit(c.path(m.SHA256)); err != nil {
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
