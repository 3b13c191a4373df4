package uplink_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/uplink"
)

var protocols = []string{uplink.Protocol311, uplink.Protocol5, uplink.ProtocolAuto}

// probe connects once with cfg and checks the error's kind and hint.
func probeFails(t *testing.T, cfg uplink.Config, kind error, hint string) {
	t.Helper()
	_, err := probe(t, cfg)
	if !errors.Is(err, kind) {
		t.Fatalf("protocol %s: %v, want %v", cfg.Protocol, err, kind)
	}
	var ce *uplink.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(ce.Hint, hint) {
		t.Fatalf("protocol %s: error %q lacks the hint %q", cfg.Protocol, err, hint)
	}
	t.Logf("installer sees: %v", err)
}

func TestConnectionErrorsNameTheCause(t *testing.T) {
	for _, proto := range protocols {
		t.Run("dns/"+proto, func(t *testing.T) {
			cfg := uplink.DefaultConfig()
			cfg.Protocol = proto
			cfg.Broker = "tcp://broker.palier-test.invalid:1883" // .invalid never resolves (RFC 2606)
			probeFails(t, cfg, uplink.ErrDNS, "host name")
		})
		t.Run("refused/"+proto, func(t *testing.T) {
			cfg := uplink.DefaultConfig()
			cfg.Protocol = proto
			cfg.Broker = "tcp://" + nettest.RefusedAddr(t)
			probeFails(t, cfg, uplink.ErrRefused, "port")
		})
	}
}

func TestAuthenticationRefused(t *testing.T) {
	b := startMQTT5Broker(t, map[string]string{"cabin-1": "right"})
	dir := t.TempDir()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			cfg := mqtt5Config(b.addr)
			cfg.Protocol = proto
			cfg.Username = "cabin-1"
			cfg.PasswordFile = filepath.Join(dir, "password")
			os.WriteFile(cfg.PasswordFile, []byte("wrong\n"), 0o600)
			probeFails(t, cfg, uplink.ErrAuth, "password file")

			os.WriteFile(cfg.PasswordFile, []byte("right\n"), 0o600)
			if _, err := probe(t, cfg); err != nil {
				t.Fatalf("with the right password: %v", err)
			}
		})
	}
}

// tlsFixture is a CA, a broker certificate it signed for host, and a TLS
// MQTT broker serving that certificate.
type tlsFixture struct {
	caFile, otherCAFile string
	addr                string
}

func newCert(t *testing.T, cn string, hosts []string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func startTLSBroker(t *testing.T) tlsFixture {
	t.Helper()
	dir := t.TempDir()
	ca, caKey, caPEM := newCert(t, "Palier Test CA", nil, true, nil, nil)
	_, _, otherPEM := newCert(t, "Some Other CA", nil, true, nil, nil)
	leaf, leafKey, leafPEM := newCert(t, "broker.palier.test", []string{"broker.palier.test"}, false, ca, caKey)
	f := tlsFixture{caFile: filepath.Join(dir, "ca.pem"), otherCAFile: filepath.Join(dir, "other.pem")}
	os.WriteFile(f.caFile, caPEM, 0o600)
	os.WriteFile(f.otherCAFile, otherPEM, 0o600)
	_ = leafPEM
	srv := mochi.New(&mochi.Options{Logger: discard()})
	srv.AddHook(new(auth.AllowHook), nil)
	l := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey, Leaf: leaf}},
	}})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeMochi(t, srv) })
	f.addr = l.Address()
	return f
}

func TestTLSFailuresNameTheCertificate(t *testing.T) {
	f := startTLSBroker(t)
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			cfg := uplink.DefaultConfig()
			cfg.Protocol = proto
			cfg.Broker = "ssl://" + f.addr

			// Signed by a CA the device does not trust.
			cfg.TLS = uplink.TLS{CAFile: f.otherCAFile, ServerName: "broker.palier.test"}
			probeFails(t, cfg, uplink.ErrTLS, `issuer "CN=Palier Test CA"`)

			// Right CA, wrong name.
			cfg.TLS = uplink.TLS{CAFile: f.caFile}
			probeFails(t, cfg, uplink.ErrTLS, `not valid for the host name "127.0.0.1"`)

			// Right CA and name: it connects, over TLS.
			cfg.TLS = uplink.TLS{CAFile: f.caFile, ServerName: "broker.palier.test"}
			got, err := probe(t, cfg)
			if err != nil {
				t.Fatalf("good TLS settings: %v", err)
			}
			if proto == uplink.ProtocolAuto && got != uplink.Protocol5 {
				t.Fatalf("auto over TLS chose %q", got)
			}
		})
	}
}

// natsembed has no option for users yet, so this test configures a
// nats-server with a user itself, the way production's leaf node would.
func TestAuthenticationRefusedByNATS(t *testing.T) {
	opts := &natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Users: []*natsserver.User{{Username: "cabin-1", Password: "right"}},
		MQTT:  natsserver.MQTTOpts{Host: "127.0.0.1", Port: -1},
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	dir := t.TempDir()
	for _, proto := range []string{uplink.Protocol311, uplink.ProtocolAuto} {
		t.Run(proto, func(t *testing.T) {
			cfg := uplink.DefaultConfig()
			cfg.Protocol = proto
			cfg.Broker = fmt.Sprintf("tcp://127.0.0.1:%d", opts.MQTT.Port)
			cfg.Username = "cabin-1"
			cfg.PasswordFile = filepath.Join(dir, "password")
			os.WriteFile(cfg.PasswordFile, []byte("wrong\n"), 0o600)
			probeFails(t, cfg, uplink.ErrAuth, "password file")
			os.WriteFile(cfg.PasswordFile, []byte("right\n"), 0o600)
			if got, err := probe(t, cfg); err != nil || got != uplink.Protocol311 {
				t.Fatalf("with the right password: %q, %v", got, err)
			}
		})
	}
}

// Mutual TLS: a broker that requires a client certificate refuses a device
// without one, with an error that points at tls.cert_file, and accepts the
// device with the certificate its CA signed.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caPEM := newCert(t, "Palier Test CA", nil, true, nil, nil)
	leaf, leafKey, _ := newCert(t, "broker.palier.test", []string{"broker.palier.test"}, false, ca, caKey)
	_, devKey, devPEM := newCert(t, "test-site-cabin-1", nil, false, ca, caKey)
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "dev.pem"), filepath.Join(dir, "dev.key")
	keyDER, err := x509.MarshalECPrivateKey(devKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(caFile, caPEM, 0o600)
	os.WriteFile(certFile, devPEM, 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	srv := mochi.New(&mochi.Options{Logger: discard()})
	srv.AddHook(new(auth.AllowHook), nil)
	l := listeners.NewTCP(listeners.Config{ID: "mtls", Address: "127.0.0.1:0", TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey, Leaf: leaf}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeMochi(t, srv) })

	for _, proto := range []string{uplink.Protocol311, uplink.Protocol5} {
		t.Run(proto, func(t *testing.T) {
			cfg := uplink.DefaultConfig()
			cfg.Protocol = proto
			cfg.Broker = "ssl://" + l.Address()
			cfg.TLS = uplink.TLS{CAFile: caFile, ServerName: "broker.palier.test"}
			probeFails(t, cfg, uplink.ErrTLS, "tls.cert_file")

			cfg.TLS.CertFile, cfg.TLS.KeyFile = certFile, keyFile
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := probe(t, cfg); err != nil {
				t.Fatalf("with the client certificate: %v", err)
			}
		})
	}
}
