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
	requests int
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests++
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
	c, err := mediacache.Open(t.TempDir(), mediacache.Options{})
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

	before := srv.requests
	res = c.Sync(context.Background(), set(good))
	if res.Present != 1 || srv.requests != before {
		t.Fatalf("second sync %+v fetched again (%d requests)", res, srv.requests-before)
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
	c, err := mediacache.Open(t.TempDir(), mediacache.Options{MaxFileBytes: 2000, MaxBytes: 2500})
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
