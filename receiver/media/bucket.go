package media

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/palier-lifts/palier/atomicfile"
)

// BucketConfig says where a Bucket's files live.
type BucketConfig struct {
	// Endpoint is the S3 server's URL: https://host[:port], or http://
	// (no path).
	Endpoint string
	Bucket   string
	Region   string
	// AccessKey and SecretKey are the receiver's credentials.
	AccessKey, SecretKey string
	// PathStyle addresses the bucket as endpoint/bucket/key, as most
	// S3-compatible servers expect; else as bucket.endpoint/key (virtual
	// host, AWS S3's way).
	PathStyle bool
	// RootCAs checks the endpoint's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Prefix starts every key, e.g. "palier/" (empty or ending in "/").
	Prefix string
	// SpoolDir is the local folder uploads are written to while they are
	// hashed and checked, at most one upload's size each.
	SpoolDir string
	// MaxTotal bounds the bytes of every file in the bucket under Prefix
	// (0: no bound).
	MaxTotal int64
}

// Bucket keeps the files in an S3-compatible bucket, so that every
// receiver sharing it serves what any of them stored: Prefix+"files/"+sum
// holds the file, Prefix+"sites/"+site+"/"+sum (empty) marks it as one of
// site's uploads.
//
// An upload is spooled and hashed locally, then sent in one PUT, which S3
// makes visible whole or not at all, with its MD5 for the server to check
// what it received. The same bytes again are not sent again.
//
// The bounds are measured by listing the bucket at each upload that needs
// them (uploads are rare; a listing page holds 1,000 keys). Within one
// receiver the decisions are one at a time and exact; receivers do not
// lock each other out, so uploads running at the same moment on n
// receivers may together pass a bound by at most n-1 uploads. Nothing is
// stored partly or under a wrong name either way.
type Bucket struct {
	c        *minio.Client
	bucket   string
	prefix   string
	spool    string
	maxTotal int64
	mu       sync.Mutex // this receiver's decisions against the bounds, one at a time
}

// OpenBucket connects to the bucket and checks that it exists and that the
// credentials may read it.
func OpenBucket(ctx context.Context, c BucketConfig) (*Bucket, error) {
	cl, err := Client(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("open media bucket: %w", err)
	}
	if err := os.MkdirAll(c.SpoolDir, 0o750); err != nil {
		return nil, fmt.Errorf("open media bucket: spool folder: %w", err)
	}
	return &Bucket{c: cl, bucket: c.Bucket, prefix: c.Prefix, spool: c.SpoolDir, maxTotal: c.MaxTotal}, nil
}

// Put implements Store.
func (b *Bucket) Put(ctx context.Context, r io.Reader, u Upload) (string, int64, error) {
	return put(ctx, b, &b.mu, b.spool, b.maxTotal, r, u)
}

// Open implements Store: the file is streamed from the bucket, each seek
// after a read starting a new ranged GET.
func (b *Bucket) Open(ctx context.Context, sum string) (io.ReadSeekCloser, error) {
	if err := CheckHash(sum); err != nil {
		return nil, err
	}
	o, err := b.c.GetObject(ctx, b.bucket, b.file(sum), minio.GetObjectOptions{})
	if err == nil {
		_, err = o.Stat() // sends the GET: a missing file shows here
	}
	if err != nil {
		if o != nil {
			o.Close()
		}
		if notFound(err) {
			return nil, fmt.Errorf("media %s: %w", sum, ErrNotFound)
		}
		return nil, fmt.Errorf("media %s: %w", sum, err)
	}
	return o, nil
}

func (b *Bucket) file(sum string) string         { return b.prefix + "files/" + sum }
func (b *Bucket) siteDir(site string) string     { return b.prefix + "sites/" + site + "/" }
func (b *Bucket) markOf(site, sum string) string { return b.siteDir(site) + sum }

// notFound says whether err is S3's answer for a missing key (a HEAD's 404
// has no body, hence the status too).
func notFound(err error) bool {
	e := minio.ToErrorResponse(err)
	return e.Code == "NoSuchKey" || e.StatusCode == http.StatusNotFound
}

func (b *Bucket) has(ctx context.Context, key string) (bool, error) {
	_, err := b.c.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if notFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("stat %s: %w", key, err)
}

func (b *Bucket) exists(ctx context.Context, sum string) (bool, error) {
	return b.has(ctx, b.file(sum))
}

// sizes lists the files: each hash's size.
func (b *Bucket) sizes(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := b.list(ctx, b.prefix+"files/", func(name string, size int64) {
		out[name] = size
	})
	return out, err
}

// list calls each with the name (after prefix) and size of every key
// under prefix.
func (b *Bucket) list(ctx context.Context, prefix string, each func(name string, size int64)) error {
	ctx, cancel := context.WithCancel(ctx) // stops the listing if we leave early
	defer cancel()
	for o := range b.c.ListObjectsIter(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list %s: %w", prefix, o.Err)
		}
		each(strings.TrimPrefix(o.Key, prefix), o.Size)
	}
	return nil
}

func (b *Bucket) used(ctx context.Context) (int64, error) {
	var n int64
	err := b.list(ctx, b.prefix+"files/", func(_ string, size int64) { n += size })
	return n, err
}

// siteUsed adds up the sizes of the files the site's marks name.
func (b *Bucket) siteUsed(ctx context.Context, site string) (int64, error) {
	var marks []string
	if err := b.list(ctx, b.siteDir(site), func(name string, _ int64) { marks = append(marks, name) }); err != nil {
		return 0, err
	}
	if len(marks) == 0 {
		return 0, nil
	}
	sizes, err := b.sizes(ctx)
	if err != nil {
		return 0, err
	}
	var used int64
	for _, m := range marks {
		used += sizes[m]
	}
	return used, nil
}

func (b *Bucket) marked(ctx context.Context, site, sum string) (bool, error) {
	return b.has(ctx, b.markOf(site, sum))
}

func (b *Bucket) mark(ctx context.Context, site, sum string) error {
	key := b.markOf(site, sum)
	if _, err := b.c.PutObject(ctx, b.bucket, key, strings.NewReader(""), 0, minio.PutObjectOptions{DisableMultipart: true}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// commit sends f in one PUT (never multipart: one request is one atomic
// write). Its Content-MD5 has the server check the body it received: every
// S3-compatible server checks it, where a SHA-256 checksum header needs
// trailing headers (aws-chunked) that not all of them take.
func (b *Bucket) commit(ctx context.Context, f *atomicfile.File, sum string, size int64) error {
	key := b.file(sum)
	_, err := b.c.PutObject(ctx, b.bucket, key, f, size, minio.PutObjectOptions{
		ContentType:      "application/octet-stream", // served with the type its content shows
		DisableMultipart: true,
		SendContentMd5:   true,
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Client connects to c's S3 server and checks that c.Bucket exists; the
// report PDFs (receiver/reportfiles) use it too. Only Endpoint, Bucket,
// Region, the keys, PathStyle and RootCAs are read.
func Client(ctx context.Context, c BucketConfig) (*minio.Client, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not http(s)://host[:port]", c.Endpoint)
	}
	secure := u.Scheme == "https"
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	if secure {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.RootCAs}
	}
	lookup := minio.BucketLookupDNS
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	cl, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       secure,
		Region:       c.Region,
		BucketLookup: lookup,
		Transport:    tr,
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s at %s: %w", c.Bucket, c.Endpoint, err)
	}
	ok, err := cl.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s at %s: %w", c.Bucket, c.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("bucket %s at %s: no such bucket (create it, or fix the bucket's name)", c.Bucket, c.Endpoint)
	}
	return cl, nil
}
