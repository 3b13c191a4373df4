package mediacache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palier-lifts/palier/mediacache"
	"github.com/palier-lifts/palier/wire"
)

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// server serves files by path and counts requests.
type server struct {
	*httptest.Server
	files    map[string][]byte
	requests atomic.Int64 // handlers run concurrently
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		b, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func set(media ...wire.Media) wire.NoticeSet {
	return wire.NoticeSet{V: 1, Site: "s", Version: 1, Notices: []wire.Notice{{ID: "n1", Category: "works", Priority: "normal",
		Title: wire.Text{FR: "t"}, Body: wire.Text{FR: "b"}, ValidFrom: time.Now(), Media: media}}}
}

func TestSyncFetchesVerifiesAndKeeps(t *testing.T) {
	img := bytes.Repeat([]byte("png!"), 1000)
	srv := newServer(t, map[string][]byte{"/a.png": img, "/bad.png": []byte("tampered")})
	c, err := mediacache.Open(t.TempDir(), mediacache.Options{TrustedHosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	good := wire.Media{URL: srv.URL + "/a.png", SHA256: sum(img), Type: "image/png", Size: int64(len(img))}
	bad := wire.Media{URL: srv.URL + "/bad.png", SHA256: sum([]byte("original")), Type: "image/png", Size: 8}
	missing := wire.Media{URL: srv.URL + "/gone.png", SHA256: sum([]byte("gone")), Type: "image/png", Size: 4}

	res := c.Sync(context.Background(), set(good, bad, missing))
	if res.Fetched != 1 || len(res.Failed) != 2 {
		t.Fatalf("result %+v, want 1 fetched and 2 failed", res)
	}
	if !errors.Is(res.Failed[0], mediacache.ErrHashMismatch) {
		t.Fatalf("tampered file: %v, want ErrHashMismatch", res.Failed[0])
	}
	got, err := os.ReadFile(filepath.Join(c.Dir(), good.SHA256))
	if err != nil || !bytes.Equal(got, img) {
		t.Fatalf("cached file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), bad.SHA256)); err == nil {
		t.Fatal("a file that does not match its hash was stored")
	}
	entries, _ := os.ReadDir(c.Dir())
	if len(entries) != 1 {
		t.Fatalf("%d files in the cache, want only the verified one (no partial downloads)", len(entries))
	}

	before := srv.requests.Load()
	res = c.Sync(context.Background(), set(good))
	if res.Present != 1 || srv.requests.Load() != before {
		t.Fatalf("second sync %+v fetched again (%d requests)", res, srv.requests.Load()-before)
	}
}

func TestSizeCapAndBound(t *testing.T) {
	big := bytes.Repeat([]byte{1}, 3000)
	files := map[string][]byte{"/big": big}
	var media []wire.Media
	for i := range 4 {
		b := bytes.Repeat([]byte{byte(i + 2)}, 1000)
		name := "/f" + string(rune('0'+i))
		files[name] = b
		media = append(media, wire.Media{URL: "", SHA256: sum(b), Type: "image/png", Size: 1000})
		media[i].URL = name
	}
	srv := newServer(t, files)
	for i := range media {
		media[i].URL = srv.URL + media[i].URL
	}
	c, err := mediacache.Open(t.TempDir(), mediacache.Options{TrustedHosts: []string{"127.0.0.1"}, MaxFileBytes: 2000, MaxBytes: 2500})
	if err != nil {
		t.Fatal(err)
	}
	// A file larger than announced is refused while streaming.
	lying := wire.Media{URL: srv.URL + "/big", SHA256: sum(big), Type: "image/png", Size: 10}
	if res := c.Sync(context.Background(), set(lying)); len(res.Failed) != 1 || !errors.Is(res.Failed[0], mediacache.ErrTooLarge) {
		t.Fatalf("oversized file: %+v", res)
	}
	// Two old files, then a set referencing two others: the old ones go.
	c.Sync(context.Background(), set(media[0], media[1]))
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(c.Dir(), media[0].SHA256), old, old)
	res := c.Sync(context.Background(), set(media[2], media[3]))
	if res.Fetched != 2 || res.Evicted != 2 {
		t.Fatalf("result %+v, want 2 fetched and the 2 unreferenced evicted", res)
	}
	for _, m := range media[2:] {
		if _, err := os.Stat(filepath.Join(c.Dir(), m.SHA256)); err != nil {
			t.Fatalf("a referenced file was evicted: %v", err)
		}
	}
}

// TestOnlyTrustedHosts: a notice cannot send the agent to a host it does
// not trust, directly or through a redirect (issue 20, finding 10).
func TestOnlyTrustedHosts(t *testing.T) {
	img := []byte("a picture")
	srv := newServer(t, map[string][]byte{"/a.png": img})
	// The trusted host redirects to the untrusted one (the same server
	// under the name localhost, which is not trusted).
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/a.png", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	c, err := mediacache.Open(t.TempDir(), mediacache.Options{TrustedHosts: []string{redirect.Listener.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	direct := wire.Media{URL: srv.URL + "/a.png", SHA256: sum(img), Type: "image/png", Size: int64(len(img))}
	res := c.Sync(context.Background(), set(direct))
	if len(res.Failed) != 1 || !errors.Is(res.Failed[0], mediacache.ErrUntrustedHost) || srv.requests.Load() != 0 {
		t.Fatalf("untrusted host: %+v after %d requests, want ErrUntrustedHost and none", res, srv.requests.Load())
	}
	redirected := direct
	redirected.URL = redirect.URL + "/a.png"
	res = c.Sync(context.Background(), set(redirected))
	if len(res.Failed) != 1 || !errors.Is(res.Failed[0], mediacache.ErrUntrustedHost) || srv.requests.Load() != 0 {
		t.Fatalf("redirect to an untrusted host: %+v after %d requests, want ErrUntrustedHost and none", res, srv.requests.Load())
	}
	file := direct
	file.URL = "file:///etc/passwd"
	if res := c.Sync(context.Background(), set(file)); len(res.Failed) != 1 || !errors.Is(res.Failed[0], mediacache.ErrUntrustedHost) {
		t.Fatalf("file URL: %+v", res)
	}
}

// TestSlowHostHoldsOnlyItsItem: a host that never answers costs its own
// item one ItemTimeout; the other items of the set are fetched.
func TestSlowHostHoldsOnlyItsItem(t *testing.T) {
	files := map[string][]byte{}
	var media []wire.Media
	for i := range 5 {
		b := bytes.Repeat([]byte{byte(i + 1)}, 100)
		files["/f"+string(rune('0'+i))] = b
		media = append(media, wire.Media{SHA256: sum(b), Type: "image/png", Size: 100})
	}
	srv := newServer(t, files)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(stuck.Close)
	for i := range media {
		media[i].URL = srv.URL + "/f" + string(rune('0'+i))
	}
	slow := wire.Media{URL: stuck.URL + "/slow.png", SHA256: sum([]byte("slow")), Type: "image/png", Size: 4}
	c, err := mediacache.Open(t.TempDir(), mediacache.Options{TrustedHosts: []string{"127.0.0.1"}, ItemTimeout: time.Second, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	res := c.Sync(context.Background(), set(append([]wire.Media{slow, slow, slow}, media...)...))
	if res.Fetched != 5 || len(res.Failed) != 1 || !errors.Is(res.Failed[0], context.DeadlineExceeded) {
		t.Fatalf("result %+v, want the 5 fetched and the slow one timed out", res)
	}
}

// TestDamagedCachedFileFetchedAgain: a cached file cut short (a power loss
// mid-write, a bad card) is not trusted for ever: it is fetched again.
func TestDamagedCachedFileFetchedAgain(t *testing.T) {
	img := bytes.Repeat([]byte("png!"), 1000)
	srv := newServer(t, map[string][]byte{"/a.png": img})
	dir := t.TempDir()
	m := wire.Media{URL: srv.URL + "/a.png", SHA256: sum(img), Type: "image/png", Size: int64(len(img))}
	c, err := mediacache.Open(dir, mediacache.Options{TrustedHosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res := c.Sync(context.Background(), set(m)); res.Fetched != 1 {
		t.Fatalf("first sync %+v", res)
	}
	for name, damage := range map[string]func(string) error{
		"cut short":        func(p string) error { return os.Truncate(p, 100) },
		"same size, wrong": func(p string) error { return os.WriteFile(p, bytes.Repeat([]byte("x"), len(img)), 0o644) },
	} {
		if err := damage(filepath.Join(dir, m.SHA256)); err != nil {
			t.Fatal(err)
		}
		// A new process (the agent restarted) checks what it finds.
		c, err := mediacache.Open(dir, mediacache.Options{TrustedHosts: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		if res := c.Sync(context.Background(), set(m)); res.Fetched != 1 || res.Present != 0 {
			t.Fatalf("%s: %+v, want it fetched again", name, res)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, m.SHA256)); !bytes.Equal(got, img) {
			t.Fatalf("%s: the file is still damaged", name)
		}
	}
}
