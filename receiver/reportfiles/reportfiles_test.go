package reportfiles

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/palier-lifts/palier/internal/s3test"
	"github.com/palier-lifts/palier/receiver/media"
)

// stores are the two kinds of Store, the bucket on a real S3 server
// (versitygw), under a prefix shared with other files.
func stores(t *testing.T) map[string]Store {
	dir := t.TempDir()
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.Bucket(t)
	cl, err := media.Client(context.Background(), media.BucketConfig{
		Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Store{"dir": NewDir(filepath.Join(dir, "reports")), "bucket": NewBucket(cl, bucket, "palier/reports/")}
}

func TestPutOpen(t *testing.T) {
	ctx := context.Background()
	for kind, st := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			const name = "les-pins/2026-11.fr.pdf"
			if _, err := st.Open(ctx, name); !errors.Is(err, ErrNotFound) {
				t.Fatalf("before the job: %v, want ErrNotFound", err)
			}
			first := bytes.Repeat([]byte("%PDF-1.7 first "), 1000)
			second := []byte("%PDF-1.7 rendered again")
			for _, pdf := range [][]byte{first, second} {
				if err := st.Put(ctx, name, pdf); err != nil {
					t.Fatal(err)
				}
				f, err := st.Open(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(f)
				f.Close()
				if err != nil || !bytes.Equal(got, pdf) || f.Size != int64(len(pdf)) || f.ModTime.IsZero() {
					t.Fatalf("read back %d bytes (size %d, mod %v, err %v), want the %d written", len(got), f.Size, f.ModTime, err, len(pdf))
				}
			}
			// The API serves ranges: the file seeks.
			f, err := st.Open(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Seek(9, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			if tail, _ := io.ReadAll(f); string(tail) != "rendered again" {
				t.Fatalf("after seeking: %q", tail)
			}
			if _, err := st.Open(ctx, "les-pins/2026-10.fr.pdf"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("another month: %v, want ErrNotFound", err)
			}
		})
	}
}

// A directory's PDF is readable by the receiver's group only, and no
// temporary file is left beside it.
func TestDirLeavesOnlyThePDF(t *testing.T) {
	dir := t.TempDir()
	st := NewDir(dir)
	if err := st.Put(context.Background(), "a/2026-11.en.pdf", []byte("%PDF")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "a"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "2026-11.en.pdf" {
		t.Fatalf("directory holds %v (%v), want only the PDF", entries, err)
	}
	if fi, _ := entries[0].Info(); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}
}
