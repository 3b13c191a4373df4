package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/palier-lifts/palier/internal/s3test"
)

// opener makes an empty store bounded by maxTotal (0: none) and returns
// it with its spool folder, where no upload may stay behind.
type opener func(t *testing.T, maxTotal int64) (Store, string)

// eachStore runs the suite against every store: the directory, and a
// bucket of a real S3-compatible server (versitygw) over HTTP and HTTPS.
func eachStore(t *testing.T, suite func(t *testing.T, open opener)) {
	t.Run("dir", func(t *testing.T) {
		suite(t, func(t *testing.T, maxTotal int64) (Store, string) {
			dir := t.TempDir()
			s, err := OpenDir(dir, maxTotal)
			if err != nil {
				t.Fatal(err)
			}
			return s, filepath.Join(dir, "tmp")
		})
	})
	for _, tls := range []bool{false, true} {
		name := "s3"
		if tls {
			name = "s3-tls"
		}
		t.Run(name, func(t *testing.T) {
			srv := s3test.Start(t, s3test.Options{TLS: tls})
			suite(t, func(t *testing.T, maxTotal int64) (Store, string) {
				return openBucket(t, srv, srv.Bucket(t), "palier/", maxTotal), ""
			})
		})
	}
}

func openBucket(t *testing.T, srv *s3test.Server, bucket, prefix string, maxTotal int64) *Bucket {
	t.Helper()
	spool := t.TempDir()
	b, err := OpenBucket(context.Background(), BucketConfig{
		Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true, RootCAs: srv.RootCAs,
		Prefix: prefix, SpoolDir: spool, MaxTotal: maxTotal,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { noneLeft(t, spool) })
	return b
}

func noneLeft(t *testing.T, spool string) {
	t.Helper()
	if spool == "" {
		return
	}
	entries, err := os.ReadDir(spool)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%d temporary files left behind in %s", len(entries), spool)
	}
}

func upload(t *testing.T, s Store, body string, u Upload) (string, int64, error) {
	t.Helper()
	if u.Max == 0 {
		u.Max = 4096
	}
	return s.Put(context.Background(), strings.NewReader(body), u)
}

func read(t *testing.T, s Store, sum string) string {
	t.Helper()
	f, err := s.Open(context.Background(), sum)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

func TestPutOpen(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s, spool := open(t, 0)
		body := "PNG pretend"
		sum, size, err := upload(t, s, body, Upload{Max: 1024})
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256([]byte(body))
		if sum != hex.EncodeToString(want[:]) || size != int64(len(body)) {
			t.Fatalf("Put = %s, %d; want %x, %d", sum, size, want, len(body))
		}
		again, _, err := upload(t, s, body, Upload{Max: 1024})
		if err != nil || again != sum {
			t.Fatalf("same content again: %s, %v", again, err)
		}
		if got := read(t, s, sum); got != body {
			t.Fatalf("read back %q", got)
		}
		// http.ServeContent learns the size by seeking to the end, and
		// serves a range by seeking into the file.
		f, err := s.Open(context.Background(), sum)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if n, err := f.Seek(0, io.SeekEnd); err != nil || n != int64(len(body)) {
			t.Fatalf("seek to the end: %d, %v; want %d", n, err, len(body))
		}
		if _, err := f.Seek(4, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if tail, err := io.ReadAll(f); err != nil || string(tail) != body[4:] {
			t.Fatalf("from byte 4: %q, %v", tail, err)
		}
		noneLeft(t, spool)
	})
}

func TestLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s, spool := open(t, 0)
		if _, _, err := upload(t, s, strings.Repeat("x", 11), Upload{Max: 10}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("11 bytes with max 10: %v, want ErrTooLarge", err)
		}
		if _, _, err := upload(t, s, "", Upload{Max: 10}); err == nil {
			t.Fatal("empty file accepted")
		}
		if _, err := s.Open(context.Background(), "../../etc/passwd"); !errors.Is(err, ErrBadHash) {
			t.Fatalf("path traversal: %v, want ErrBadHash", err)
		}
		if _, err := s.Open(context.Background(), strings.Repeat("a", 64)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown hash: %v, want ErrNotFound", err)
		}
		noneLeft(t, spool)
	})
}

// TestCheckRefusesBeforeStoring: a file its check refuses is never stored
// under its hash.
func TestCheckRefusesBeforeStoring(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s, spool := open(t, 0)
		body := "<html>not a picture</html>"
		_, _, err := upload(t, s, body, Upload{Check: CheckType("image/png")})
		if !errors.Is(err, ErrWrongType) {
			t.Fatalf("markup declared a PNG: %v, want ErrWrongType", err)
		}
		sum := sha256.Sum256([]byte(body))
		if _, err := s.Open(context.Background(), hex.EncodeToString(sum[:])); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the refused file: %v, want ErrNotFound", err)
		}
		noneLeft(t, spool)
	})
}

// TestQuota: uploads cannot fill the disk; the same file again costs
// nothing and is accepted at the bound (issue 20: 15 uploads of 20 MB were
// all accepted).
func TestQuota(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s, spool := open(t, 2500)
		a := strings.Repeat("a", 1000)
		for _, body := range []string{a, strings.Repeat("b", 1000)} {
			if _, _, err := upload(t, s, body, Upload{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := upload(t, s, strings.Repeat("c", 1000), Upload{}); !errors.Is(err, ErrQuota) || !strings.Contains(err.Error(), "2000 bytes stored") {
			t.Fatalf("third upload: %v, want ErrQuota saying what is stored", err)
		}
		if _, _, err := upload(t, s, a, Upload{}); err != nil {
			t.Fatalf("the same file again at the bound: %v", err)
		}
		noneLeft(t, spool)
	})
}

// TestSiteQuota: a site's uploads stay within its bound; the same bytes
// again cost it nothing; bytes another site stored count for this one
// too once it uploads them; a refused upload marks nothing.
func TestSiteQuota(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s, spool := open(t, 0)
		a, b, c := strings.Repeat("a", 1000), strings.Repeat("b", 1000), strings.Repeat("c", 1000)
		pins := Upload{Site: "les-pins", SiteMax: 2500}
		for _, body := range []string{a, b, a} {
			if _, _, err := upload(t, s, body, pins); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := upload(t, s, c, pins)
		if !errors.Is(err, ErrSiteQuota) || !strings.Contains(err.Error(), "site les-pins has 2000 bytes") {
			t.Fatalf("third file of les-pins: %v, want ErrSiteQuota saying what the site has", err)
		}
		// Another site may store c, and the fleet too: the bound is les-pins'.
		if _, _, err := upload(t, s, c, Upload{Site: "le-port", SiteMax: 2500}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := upload(t, s, c, Upload{}); err != nil {
			t.Fatal(err)
		}
		// c being stored does not make it les-pins': still refused.
		if _, _, err := upload(t, s, c, pins); !errors.Is(err, ErrSiteQuota) {
			t.Fatalf("c for les-pins once le-port stored it: %v, want ErrSiteQuota", err)
		}
		noneLeft(t, spool)
	})
}

// TestQuotaRefusalMarksNothing: a file the store's bound refuses does not
// become the site's: a mark would later let it count for the site without
// having been measured against its bound.
func TestQuotaRefusalMarksNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s, _ := open(t, 1500)
		a, b := strings.Repeat("a", 1000), strings.Repeat("b", 1000)
		pins := Upload{Site: "les-pins", SiteMax: 1500}
		if _, _, err := upload(t, s, a, Upload{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := upload(t, s, b, pins); !errors.Is(err, ErrQuota) {
			t.Fatalf("b past the store's bound: %v, want ErrQuota", err)
		}
		sum := sha256.Sum256([]byte(b))
		if marked, err := s.(keeper).marked(context.Background(), "les-pins", hex.EncodeToString(sum[:])); err != nil || marked {
			t.Fatalf("refused b marked as les-pins': %v, %v", marked, err)
		}
		// a is stored (the fleet's): les-pins may take it, within its bound.
		if _, _, err := upload(t, s, a, pins); err != nil {
			t.Fatalf("a for les-pins: %v", err)
		}
	})
}

// TestConcurrentPuts: uploads at once through one store stay within its
// bound exactly, and the same bytes uploaded at once are stored once.
func TestConcurrentPuts(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s, spool := open(t, 5010)
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Go(func() {
				_, _, errs[i] = upload(t, s, strings.Repeat(fmt.Sprint(i), 1000), Upload{})
			})
		}
		for range 4 {
			wg.Go(func() {
				if _, _, err := upload(t, s, "same bytes", Upload{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		stored := 0
		for _, err := range errs {
			switch {
			case err == nil:
				stored++
			case !errors.Is(err, ErrQuota):
				t.Fatal(err)
			}
		}
		if stored != 5 {
			t.Fatalf("%d files of 1000 bytes stored (and 10 bytes four times) within a bound of 5010, want 5", stored)
		}
		noneLeft(t, spool)
	})
}
