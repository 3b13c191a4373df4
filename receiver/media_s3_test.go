package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/internal/s3test"
	"github.com/palier-lifts/palier/wire"
)

// s3Config is a valid media.s3 whose files exist.
func s3Config(t *testing.T) S3Config {
	dir := t.TempDir()
	access, secret := filepath.Join(dir, "access"), filepath.Join(dir, "secret")
	for _, p := range []string{access, secret} {
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return S3Config{Endpoint: "https://s3.eu-west-3.amazonaws.com", Bucket: "palier-media", Region: "eu-west-3",
		AccessKeyFile: access, SecretKeyFile: secret, Prefix: "palier/media/"}
}

func TestValidateMediaS3(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Media.S3 = s3Config(t)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid media.s3 refused: %v", err)
	}
	// As the chart's production example has it (Cloudflare R2's region).
	cfg.Media.S3.Region, cfg.Media.S3.Prefix = "auto", "media/"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("region auto, prefix media/ refused: %v", err)
	}
	for _, c := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no endpoint", func(c *Config) { c.Media.S3.Endpoint = "" }, "media.s3.endpoint"},
		{"no scheme", func(c *Config) { c.Media.S3.Endpoint = "s3.example:9000" }, "media.s3.endpoint"},
		{"path", func(c *Config) { c.Media.S3.Endpoint = "https://s3.example/palier-media" }, "media.s3.endpoint"},
		{"credentials in the URL", func(c *Config) { c.Media.S3.Endpoint = "https://key:secret@s3.example" }, "media.s3.endpoint"},
		{"upper-case bucket", func(c *Config) { c.Media.S3.Bucket = "Palier" }, "media.s3.bucket"},
		{"no bucket", func(c *Config) { c.Media.S3.Bucket = "" }, "media.s3.bucket"},
		{"bucket ending in -", func(c *Config) { c.Media.S3.Bucket = "palier-" }, "media.s3.bucket"},
		{"IP bucket", func(c *Config) { c.Media.S3.Bucket = "192.168.1.1" }, "media.s3.bucket"},
		{"no region", func(c *Config) { c.Media.S3.Region = "" }, "media.s3.region"},
		{"bad region", func(c *Config) { c.Media.S3.Region = "EU West" }, "media.s3.region"},
		{"no access key", func(c *Config) { c.Media.S3.AccessKeyFile = "" }, "media.s3.access_key_file"},
		{"missing secret key", func(c *Config) { c.Media.S3.SecretKeyFile = "/nonexistent/secret" }, "media.s3.secret_key_file"},
		{"missing CA", func(c *Config) { c.Media.S3.CAFile = "/nonexistent/ca.pem" }, "media.s3.ca_file"},
		{"CA with http", func(c *Config) {
			c.Media.S3.Endpoint = "http://minio:9000"
			c.Media.S3.CAFile = c.Media.S3.AccessKeyFile
		}, "media.s3.ca_file"},
		{"prefix without /", func(c *Config) { c.Media.S3.Prefix = "palier" }, "media.s3.prefix"},
		{"prefix from /", func(c *Config) { c.Media.S3.Prefix = "/palier/" }, "media.s3.prefix"},
		{"prefix with ..", func(c *Config) { c.Media.S3.Prefix = "palier/../x/" }, "media.s3.prefix"},
		{"prefix with space", func(c *Config) { c.Media.S3.Prefix = "my media/" }, "media.s3.prefix"},
		{"media_dir too", func(c *Config) { c.HTTP.MediaDir = "/var/lib/palier-receiver/media" }, "http.media_dir"},
		{"settings without endpoint", func(c *Config) { c.Media.S3 = S3Config{Bucket: "palier-media", PathStyle: true} }, "media.s3.endpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Media.S3 = s3Config(t)
			c.edit(&cfg)
			err := cfg.Validate()
			var fields []string
			for _, e := range unwrapAll(err) {
				var fe *configfile.FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("%v is not a *configfile.FieldError", e)
				}
				if !strings.Contains(fe.Problem, "want") {
					t.Errorf("%s: %q does not say what would be valid", fe.Field, fe.Problem)
				}
				fields = append(fields, fe.Field)
			}
			if len(fields) != 1 || fields[0] != c.field {
				t.Fatalf("problems in %v (%v), want exactly one in %s", fields, err, c.field)
			}
		})
	}
}

// s3Receiver is a receiver config whose media live in bucket on srv.
func s3Receiver(t *testing.T, srv *s3test.Server, bucket string) Config {
	cfg := testConfig(t)
	access, secret := srv.KeyFiles(t)
	cfg.Media.S3 = S3Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region,
		AccessKeyFile: access, SecretKeyFile: secret, PathStyle: true, CAFile: srv.CAFile, Prefix: "palier/"}
	return cfg
}

// noisePNG is a 24x24 picture of noise from seed: about 2.4 kB, since
// noise does not compress.
func noisePNG(t *testing.T, seed uint64) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 24, 24))
	rnd := rand.New(rand.NewPCG(seed, seed))
	for i := range img.Pix {
		img.Pix[i] = byte(rnd.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if n := b.Len(); n < 2100 || n > 2600 {
		t.Fatalf("a noise PNG of %d bytes: the bounds below assume about 2.4 kB", n)
	}
	return b.Bytes()
}

func uploadTo(t *testing.T, addr, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "image/png")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestMediaSharedByReceivers: with media.s3, a file uploaded through one
// receiver is served by another (issue 16: with a directory each, agents
// got 404 half the time), with the same headers as from a directory; both
// hold the shared bucket's bounds.
func TestMediaSharedByReceivers(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := "http"
		if tls {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			srv := s3test.Start(t, s3test.Options{TLS: tls})
			bucket := srv.Bucket(t)
			pic := noisePNG(t, 1)
			cfg1 := s3Receiver(t, srv, bucket)
			// Room for one picture per site and two in all.
			cfg1.HTTP.MaxUploadBytes = 4096
			cfg1.HTTP.MaxSiteMediaBytes = 4096
			cfg1.HTTP.MaxMediaBytes = 6000
			r1 := start(t, cfg1)
			cfg2 := s3Receiver(t, srv, bucket)
			cfg2.HTTP = cfg1.HTTP
			cfg2.HTTP.Listen = "127.0.0.1:0"
			cfg2.NATS.URL = r1.NATSURL()
			cfg2.NATS.MQTTURL = "tcp://" + r1.MQTTAddr()
			r2 := start(t, cfg2)

			code, b := uploadTo(t, r1.HTTPAddr(), "/api/v1/sites/les-pins/media", pic)
			if code != http.StatusCreated {
				t.Fatalf("upload through receiver 1: %d %s", code, b)
			}
			var m wire.Media
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://" + r2.HTTPAddr() + "/media/" + m.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, pic) {
				t.Fatalf("receiver 2 serves %d, %d bytes; want 200 and the %d bytes uploaded", resp.StatusCode, len(got), len(pic))
			}
			h := resp.Header
			if h.Get("Content-Type") != "image/png" || h.Get("Content-Length") != itoa(len(pic)) || h.Get("ETag") != `"`+m.SHA256+`"` ||
				!strings.Contains(h.Get("Cache-Control"), "immutable") || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("receiver 2's headers: %v", h)
			}
			// A cached copy is confirmed, and a range is served, from the bucket.
			req, _ := http.NewRequest("GET", "http://"+r2.HTTPAddr()+"/media/"+m.SHA256, nil)
			req.Header.Set("If-None-Match", `"`+m.SHA256+`"`)
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
				t.Fatalf("If-None-Match: %v, %v; want 304", resp, err)
			} else {
				resp.Body.Close()
			}
			req.Header.Del("If-None-Match")
			req.Header.Set("Range", "bytes=8-15")
			if resp, err := http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			} else {
				part, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, pic[8:16]) {
					t.Fatalf("range 8-15: %d %x, want 206 %x", resp.StatusCode, part, pic[8:16])
				}
			}
			if resp, err := http.Get("http://" + r1.HTTPAddr() + "/media/" + strings.Repeat("0", 64)); err != nil || resp.StatusCode != http.StatusNotFound {
				t.Fatalf("unknown hash: %v, %v; want 404", resp, err)
			} else {
				resp.Body.Close()
			}

			// The same picture again through receiver 2 costs les-pins nothing;
			// another one is past its bound, whichever receiver takes it.
			if code, b := uploadTo(t, r2.HTTPAddr(), "/api/v1/sites/les-pins/media", pic); code != http.StatusCreated {
				t.Fatalf("the same picture through receiver 2: %d %s", code, b)
			}
			other := noisePNG(t, 2)
			if code, b := uploadTo(t, r2.HTTPAddr(), "/api/v1/sites/les-pins/media", other); code != http.StatusInsufficientStorage || !strings.Contains(string(b), `"param":"site"`) {
				t.Fatalf("les-pins past its bound through receiver 2: %d %s, want 507 on site", code, b)
			}
			// The fleet's uploads fill the bucket's bound, counted across receivers.
			if code, b := uploadTo(t, r2.HTTPAddr(), "/api/v1/media", other); code != http.StatusCreated {
				t.Fatalf("fleet upload through receiver 2: %d %s", code, b)
			}
			third := noisePNG(t, 3)
			if code, b := uploadTo(t, r1.HTTPAddr(), "/api/v1/media", third); code != http.StatusInsufficientStorage || !strings.Contains(string(b), "max_media_bytes") {
				t.Fatalf("past the bucket's bound through receiver 1: %d %s, want 507", code, b)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestMediaS3StartRefused: a receiver whose bucket is missing or whose
// secret is wrong does not start, and says which setting to fix.
func TestMediaS3StartRefused(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	cfg := s3Receiver(t, srv, "no-such-bucket")
	if _, err := New(context.Background(), cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "media.s3") || !strings.Contains(err.Error(), "no such bucket") {
		t.Fatalf("missing bucket: %v", err)
	}
	cfg = s3Receiver(t, srv, srv.Bucket(t))
	if err := os.WriteFile(cfg.Media.S3.SecretKeyFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "media.s3") || !strings.Contains(err.Error(), "Access Denied") {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := os.Chmod(cfg.Media.S3.SecretKeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "media.s3.secret_key_file") {
		t.Fatalf("secret readable by everyone: %v", err)
	}
}
