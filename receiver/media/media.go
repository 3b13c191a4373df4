package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

// Store keeps files by their SHA-256: Dir on one machine, Bucket when
// several receivers share their media.
type Store interface {
	// Put stores what r holds within u's limits and returns its hash and
	// size. The same bytes again are stored once and cost nothing more.
	Put(ctx context.Context, r io.Reader, u Upload) (sum string, size int64, err error)
	// Open opens the file of hash sum (ErrBadHash, ErrNotFound). It
	// seeks, as http.ServeContent needs for the size and for ranges.
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, error)
}

var (
	_ Store = (*Dir)(nil)
	_ Store = (*Bucket)(nil)
)

// Upload is what Put accepts.
type Upload struct {
	// Max is the most bytes the file may have (ErrTooLarge past it).
	Max int64
	// Site, if not empty, is the site the file is uploaded for: its files
	// together may not pass SiteMax bytes (0: no bound of its own), so one
	// site's manager cannot fill what every site shares. A file is a
	// site's once it uploaded it; the same bytes uploaded by two sites
	// count for each.
	Site    string
	SiteMax int64
	// Check, if not nil, runs on the whole file before it gets its name
	// (e.g. CheckType): a refused file is never stored.
	Check func(io.ReadSeeker) error
}

// keeper is what differs between stores: where files and the marks of
// which site uploaded which file live. put does the rest, the same for
// every store.
type keeper interface {
	// exists says whether the file of sum is stored.
	exists(ctx context.Context, sum string) (bool, error)
	// used is the bytes of every stored file.
	used(ctx context.Context) (int64, error)
	// siteUsed is the bytes of the stored files marked as site's.
	siteUsed(ctx context.Context, site string) (int64, error)
	// marked says whether sum is marked as one of site's files.
	marked(ctx context.Context, site, sum string) (bool, error)
	// mark marks sum as one of site's files.
	mark(ctx context.Context, site, sum string) error
	// commit stores f, whose hash is sum, under that name in one step: a
	// reader sees all of it or nothing. f is read from the start.
	commit(ctx context.Context, f *atomicfile.File, sum string, size int64) error
}

// put is Put for every store: the upload is spooled to a temporary file in
// spool (hashed on the way, at most u.Max bytes), checked, measured against
// the bounds and committed. mu makes the decisions of this process one at
// a time, held until the file has its name so that the next one sees it;
// receivers sharing a bucket do not share it (see Bucket).
func put(ctx context.Context, k keeper, mu *sync.Mutex, spool string, maxTotal int64, r io.Reader, u Upload) (sum string, size int64, err error) {
	tmp, err := atomicfile.Create(spool, "upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("store media: %w", err)
	}
	defer tmp.Abort() // nothing once committed
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, u.Max+1))
	if err != nil {
		return "", 0, fmt.Errorf("store media: %w", err)
	}
	if size > u.Max {
		return "", 0, fmt.Errorf("store media: more than %d bytes: %w", u.Max, ErrTooLarge)
	}
	if size == 0 {
		return "", 0, errors.New("store media: empty file")
	}
	if u.Check != nil {
		if err = u.Check(tmp); err != nil {
			return "", 0, fmt.Errorf("store media: %w", err)
		}
	}
	if _, err = tmp.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("store media: %w", err)
	}
	sum = hex.EncodeToString(h.Sum(nil))

	mu.Lock()
	defer mu.Unlock()
	// The site's bound first: a file the site has not uploaded yet costs
	// it its size even when another site stored the same bytes.
	claim := false
	if u.Site != "" {
		if claim, err = needsClaim(ctx, k, u.Site, u.SiteMax, sum, size); err != nil {
			return "", 0, err
		}
	}
	stored, err := k.exists(ctx, sum)
	if err != nil {
		return "", 0, fmt.Errorf("store media: %w", err)
	}
	if !stored {
		if maxTotal > 0 {
			used, err := k.used(ctx)
			if err != nil {
				return "", 0, fmt.Errorf("store media: measure the store: %w", err)
			}
			if used+size > maxTotal {
				return "", 0, fmt.Errorf("store media: %d bytes stored, %d more would pass the bound of %d: %w", used, size, maxTotal, ErrQuota)
			}
		}
		if err = k.commit(ctx, tmp, sum, size); err != nil {
			return "", 0, fmt.Errorf("store media: %w", err)
		}
	}
	// Marked only once the file is stored: a mark always stands for a file
	// that counted against the site's bound when it was made.
	if claim {
		if err = k.mark(ctx, u.Site, sum); err != nil {
			return "", 0, fmt.Errorf("store media: mark %s as site %s's: %w", sum, u.Site, err)
		}
	}
	return sum, size, nil
}

// needsClaim says whether sum must be marked as site's (it is not yet),
// and refuses it if that would take the site's files past siteMax.
func needsClaim(ctx context.Context, k keeper, site string, siteMax int64, sum string, size int64) (bool, error) {
	marked, err := k.marked(ctx, site, sum)
	if err != nil {
		return false, fmt.Errorf("store media: %w", err)
	}
	if marked {
		return false, nil // the site's already
	}
	if siteMax > 0 {
		used, err := k.siteUsed(ctx, site)
		if err != nil {
			return false, fmt.Errorf("store media: measure site %s: %w", site, err)
		}
		if used+size > siteMax {
			return false, fmt.Errorf("store media: site %s has %d bytes, %d more would pass its bound of %d: %w", site, used, size, siteMax, ErrSiteQuota)
		}
	}
	return true, nil
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
