package s3test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/palier-lifts/palier/internal/nettest"
)

// Binary is the server's command, looked up in PATH.
const Binary = "versitygw"

// Region is the region the server answers for.
const Region = "us-east-1"

// Server is a running versitygw.
type Server struct {
	// Endpoint is http://127.0.0.1:port, or https:// with TLS.
	Endpoint             string
	AccessKey, SecretKey string
	// CAFile is the PEM of the CA that signed the server's certificate
	// (TLS only); RootCAs holds it.
	CAFile  string
	RootCAs *x509.CertPool
	dir     string
}

// Options of Start.
type Options struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1 from a CA made
	// for the test.
	TLS bool
}

// Start runs a server until the test ends. Without the binary the test is
// skipped, or fails when PALIER_REQUIRE_S3 is set (scripts/test.sh sets it).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		if os.Getenv("PALIER_REQUIRE_S3") != "" {
			t.Fatalf("%s not found in PATH but PALIER_REQUIRE_S3 is set (scripts/test.sh builds it: need_go_tool versitygw)", Binary)
		}
		t.Skipf("%s not installed (scripts/test.sh builds it into $(go env GOPATH)/bin)", Binary)
	}
	dir := t.TempDir()
	s := &Server{AccessKey: "palier-" + random(t, 6), SecretKey: random(t, 20), dir: dir}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o750); err != nil {
		t.Fatal(err)
	}
	addr := nettest.RefusedAddr(t) // a free port for it to take
	args := []string{"--port", addr, "--region", Region, "--quiet"}
	scheme := "http"
	if o.TLS {
		cert, key := s.makeCert(t)
		args = append(args, "--cert", cert, "--key", key)
		scheme = "https"
	}
	args = append(args, "posix", root)
	cmd := exec.Command(bin, args...)
	// The credentials go by environment, not in the arguments ps shows.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("versitygw's log:\n%s", b)
		}
	})
	s.Endpoint = scheme + "://" + addr
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.RootCAs}}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Any answer is a server that listens: anonymous requests get 403.
		resp, err := hc.Get(s.Endpoint + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw not answering within 30s at %s: %v", s.Endpoint, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client is an S3 client of the server with its root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		t.Fatal(err)
	}
	if s.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.RootCAs}
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: u.Scheme == "https",
		Region: Region, BucketLookup: minio.BucketLookupPath, Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bucket makes a new empty bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := "palier-" + random(t, 6)
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}

// KeyFiles writes the access key and the secret key to files (mode 0600)
// and returns their paths, for a receiver's config.
func (s *Server) KeyFiles(t testing.TB) (access, secret string) {
	t.Helper()
	dir := t.TempDir()
	access, secret = filepath.Join(dir, "s3-access-key"), filepath.Join(dir, "s3-secret-key")
	for p, v := range map[string]string{access: s.AccessKey, secret: s.SecretKey} {
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return access, secret
}

// makeCert makes a CA and a certificate it signs for 127.0.0.1, writes
// the CA to s.CAFile and returns the certificate's and key's files.
func (s *Server) makeCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "palier s3test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	s.CAFile = filepath.Join(s.dir, "ca.pem")
	certFile, keyFile = filepath.Join(s.dir, "cert.pem"), filepath.Join(s.dir, "key.pem")
	for p, b := range map[string]*pem.Block{
		s.CAFile: {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(p, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.RootCAs = x509.NewCertPool()
	s.RootCAs.AddCert(ca)
	return certFile, keyFile
}

func random(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
