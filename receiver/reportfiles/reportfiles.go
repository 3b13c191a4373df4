package reportfiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/palier-lifts/palier/atomicfile"
)

// ErrNotFound says the PDF has not been rendered (yet).
var ErrNotFound = errors.New("no such report PDF")

// File is one PDF being read.
type File struct {
	io.ReadSeekCloser
	ModTime time.Time
	Size    int64
}

// Store keeps the PDFs. name is report.PDFPath's, whose parts the callers
// have checked: it never leaves the directory or prefix.
type Store interface {
	Put(ctx context.Context, name string, pdf []byte) error
	Open(ctx context.Context, name string) (File, error)
	// Where says where the files are, for logs and the job's output.
	Where(name string) string
}

// Dir keeps the PDFs under a directory.
type Dir struct{ dir string }

// NewDir returns the store of dir (created on the first Put).
func NewDir(dir string) Dir { return Dir{dir: dir} }

// Put writes the PDF through a temporary file (atomicfile), so that the
// API never serves half of one, even after a power cut.
func (d Dir) Put(_ context.Context, name string, pdf []byte) error {
	path := d.Where(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := atomicfile.Create(filepath.Dir(path), ".report-*.pdf")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer f.Abort()
	if _, err := f.Write(pdf); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o640); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit(path)
}

// Open implements Store.
func (d Dir) Open(_ context.Context, name string) (File, error) {
	f, err := os.Open(d.Where(name))
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return File{}, err
	}
	return File{ReadSeekCloser: f, ModTime: st.ModTime(), Size: st.Size()}, nil
}

// Where implements Store.
func (d Dir) Where(name string) string { return filepath.Join(d.dir, filepath.FromSlash(name)) }

// Bucket keeps the PDFs in an S3 bucket under a prefix (empty or ending
// in "/").
type Bucket struct {
	c      *minio.Client
	bucket string
	prefix string
}

// NewBucket returns the store of bucket on c (media.Client connects and
// checks the bucket exists).
func NewBucket(c *minio.Client, bucket, prefix string) Bucket {
	return Bucket{c: c, bucket: bucket, prefix: prefix}
}

// Put sends the PDF in one PUT, which S3 makes visible whole or not at
// all, with its MD5 for the server to check.
func (b Bucket) Put(ctx context.Context, name string, pdf []byte) error {
	_, err := b.c.PutObject(ctx, b.bucket, b.prefix+name, bytes.NewReader(pdf), int64(len(pdf)),
		minio.PutObjectOptions{ContentType: "application/pdf", SendContentMd5: true})
	if err != nil {
		return fmt.Errorf("write %s: %w", b.Where(name), err)
	}
	return nil
}

// Open implements Store.
func (b Bucket) Open(ctx context.Context, name string) (File, error) {
	info, err := b.c.StatObject(ctx, b.bucket, b.prefix+name, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return File{}, ErrNotFound
		}
		return File{}, fmt.Errorf("read %s: %w", b.Where(name), err)
	}
	// The ETag pins the version stated: a PDF rendered again meanwhile
	// fails the read instead of mixing two files.
	var opts minio.GetObjectOptions
	if err := opts.SetMatchETag(info.ETag); err != nil {
		return File{}, fmt.Errorf("read %s: %w", b.Where(name), err)
	}
	o, err := b.c.GetObject(ctx, b.bucket, b.prefix+name, opts)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", b.Where(name), err)
	}
	return File{ReadSeekCloser: o, ModTime: info.LastModified, Size: info.Size}, nil
}

// Where implements Store.
func (b Bucket) Where(name string) string { return "s3://" + b.bucket + "/" + b.prefix + name }
