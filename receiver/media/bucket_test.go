package media

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/internal/s3test"
)

// TestBucketShared: two stores on one bucket, as two receivers: what one
// stores the other serves, and each measures the bounds with the other's
// files counted.
func TestBucketShared(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.Bucket(t)
	one := openBucket(t, srv, bucket, "palier/", 2500)
	two := openBucket(t, srv, bucket, "palier/", 2500)
	other := openBucket(t, srv, bucket, "other/", 2500) // another prefix: another store

	a := strings.Repeat("a", 1000)
	sum, _, err := upload(t, one, a, Upload{Site: "les-pins", SiteMax: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, two, sum); got != a {
		t.Fatalf("the second store reads %d bytes, want the first's %d", len(got), len(a))
	}
	if _, err := other.Open(context.Background(), sum); !errors.Is(err, ErrNotFound) {
		t.Fatalf("under another prefix: %v, want ErrNotFound", err)
	}
	if _, _, err := upload(t, two, strings.Repeat("b", 1000), Upload{Site: "les-pins", SiteMax: 1500}); !errors.Is(err, ErrSiteQuota) {
		t.Fatalf("les-pins' second file through the other store: %v, want ErrSiteQuota", err)
	}
	if _, _, err := upload(t, two, strings.Repeat("b", 1000), Upload{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := upload(t, one, strings.Repeat("c", 1000), Upload{}); !errors.Is(err, ErrQuota) || !strings.Contains(err.Error(), "2000 bytes stored") {
		t.Fatalf("third file through the first store: %v, want ErrQuota counting both stores' files", err)
	}
	if _, _, err := upload(t, other, strings.Repeat("c", 1000), Upload{}); err != nil {
		t.Fatalf("another prefix has its own bound: %v", err)
	}
}

// TestOpenBucketRefuses: a bucket that is not there, a wrong secret and a
// certificate from an unknown CA each stop OpenBucket with an error that
// says so, not the first upload.
func TestOpenBucketRefuses(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{TLS: true})
	bucket := srv.Bucket(t)
	good := BucketConfig{
		Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true, RootCAs: srv.RootCAs,
		SpoolDir: t.TempDir(),
	}
	if _, err := OpenBucket(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*BucketConfig)
		want string
	}{
		{"missing bucket", func(c *BucketConfig) { c.Bucket = "no-such-bucket" }, "no such bucket"},
		{"wrong secret", func(c *BucketConfig) { c.SecretKey += "x" }, "Access Denied"},
		{"unknown CA", func(c *BucketConfig) { c.RootCAs = nil }, "certificate"},
		{"plain HTTP to TLS", func(c *BucketConfig) { c.Endpoint = strings.Replace(c.Endpoint, "https:", "http:", 1) }, bucket},
		{"not a URL", func(c *BucketConfig) { c.Endpoint = "127.0.0.1:9000" }, "not http(s)://host[:port]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			_, err := OpenBucket(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("OpenBucket: %v, want an error saying %q", err, c.want)
			}
		})
	}
}
