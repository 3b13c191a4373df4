package devcredtest

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/internal/nettest"
)

// Guard bounds waits in tests; never a timing assertion.
const Guard = 20 * time.Second

// Leaf is a running operator-mode leaf node.
type Leaf struct {
	Auth      *devcred.Authority
	Server    *server.Server
	MQTTAddr  string
	ClientURL string
	CAFile    string
	TLS       *tls.Config // trusts the leaf's certificate
	opts      *server.Options
	dir       string
	plainMQTT bool
	monitor   bool
}

// MonitorURL is the base URL of the monitoring endpoints (Options.Monitor).
func (l *Leaf) MonitorURL() string {
	if a := l.Server.MonitorAddr(); a != nil {
		return "http://" + a.String()
	}
	return ""
}

// StartLeaf starts a leaf node from packaging/nats/leaf-jwt.conf trusting
// a new authority. Only the ports (free ones) and the hub (unreachable:
// the leaf keeps retrying it, as when the hub is down) differ.
func StartLeaf(t testing.TB) *Leaf {
	t.Helper()
	auth, err := devcred.NewAuthority("PALIER")
	if err != nil {
		t.Fatal(err)
	}
	return StartLeafWith(t, auth, Options{MQTTPort: -1})
}

// Options of StartLeafWith.
type Options struct {
	// MQTTPort to listen on; -1 picks a free one. A fixed one lets a test
	// put the leaf where another broker was (a fleet's cutover).
	MQTTPort int
	// PlainMQTT turns the MQTT listener's TLS off, to stand in for a
	// broker that had none on that port.
	PlainMQTT bool
	// HubURL is the hub's leafnode URL with the leaf's user
	// (tls://palier-leaf:PASSWORD@host:port) and HubCA its certificate;
	// empty: a hub that is not there.
	HubURL, HubCA string
	// Monitor serves the monitoring endpoints on a free port (MonitorURL).
	Monitor bool
}

// StartLeafWith starts the leaf trusting auth.
func StartLeafWith(t testing.TB, auth *devcred.Authority, o Options) *Leaf {
	t.Helper()
	dir := t.TempDir()
	l := &Leaf{Auth: auth, dir: dir, plainMQTT: o.PlainMQTT, monitor: o.Monitor}
	conf, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", "nats", "leaf-jwt.conf"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "leaf.conf"), conf)
	acc, err := auth.AccountJWT(nil)
	if err != nil {
		t.Fatal(err)
	}
	var trust bytes.Buffer
	if err := auth.RenderTrust(&trust, acc); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "trust.conf"), trust.Bytes())
	cert, key, pool := nettest.WriteCert(t, dir)
	l.CAFile = cert
	l.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	t.Setenv("PALIER_LEAF_NAME", "leaf-test")
	t.Setenv("PALIER_STORE_DIR", filepath.Join(dir, "js"))
	t.Setenv("PALIER_RESOLVER_DIR", filepath.Join(dir, "jwt"))
	t.Setenv("PALIER_MQTT_CERT", cert)
	t.Setenv("PALIER_MQTT_KEY", key)
	t.Setenv("PALIER_ACCOUNT", auth.AccountPublicKey())
	t.Setenv("PALIER_HUB_URL", "tls://palier-leaf:nope@127.0.0.1:1")
	t.Setenv("PALIER_HUB_CA", cert)
	if o.HubURL != "" {
		t.Setenv("PALIER_HUB_URL", o.HubURL)
		t.Setenv("PALIER_HUB_CA", o.HubCA)
	}
	l.start(t, -1, o.MQTTPort)
	t.Cleanup(l.Stop)
	return l
}

// start reads the configuration (the server changes the options it is
// given: a restart needs fresh ones) and starts the server on the ports.
func (l *Leaf) start(t testing.TB, port, mqttPort int) {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(l.dir, "leaf.conf"))
	if err != nil {
		t.Fatalf("leaf-jwt.conf with rendered trust: %v", err)
	}
	opts.Host = "127.0.0.1"
	opts.Port = port
	opts.HTTPPort = 0
	if l.monitor {
		opts.HTTPHost, opts.HTTPPort = "127.0.0.1", -1
	}
	opts.MQTT.Host = "127.0.0.1"
	opts.MQTT.Port = mqttPort
	opts.NoSigs = true
	opts.NoLog = true
	if l.plainMQTT {
		opts.MQTT.TLSConfig = nil
	}
	l.opts = opts
	ns, err := server.NewServer(l.opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(Guard) {
		t.Fatal("leaf node not ready")
	}
	l.Server = ns
	// The server writes the ports it bound back into its options: a
	// restart takes the same ones.
	l.MQTTAddr = net.JoinHostPort(l.opts.MQTT.Host, strconv.Itoa(l.opts.MQTT.Port))
	l.ClientURL = "tls://" + net.JoinHostPort(l.opts.Host, strconv.Itoa(l.opts.Port))
}

// Stop shuts the leaf down; safe to call twice.
func (l *Leaf) Stop() {
	if l.Server != nil {
		l.Server.Shutdown()
		l.Server.WaitForShutdown()
	}
}

// Restart stops the leaf and starts it again on the same ports and files.
func (l *Leaf) Restart(t testing.TB) {
	t.Helper()
	l.Stop()
	l.start(t, l.opts.Port, l.opts.MQTT.Port)
}

// System connects to the leaf's system account, as the receiver does to
// push revocations.
func (l *Leaf) System(t testing.TB) *nats.Conn {
	t.Helper()
	token, seed, err := l.Auth.SystemUser("palier-receiver-sys", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(l.ClientURL, nats.UserJWTAndSeed(token, seed), nats.Secure(l.TLS), nats.Timeout(Guard))
	if err != nil {
		t.Fatalf("system account connection: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Service connects over NATS as a service of the PALIER account that
// proves its key, as the receiver does to watch the cabins.
func (l *Leaf) Service(t testing.TB) *nats.Conn {
	t.Helper()
	token, seed, err := l.Auth.AccountUser("palier-receiver", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(l.ClientURL, nats.UserJWTAndSeed(token, seed), nats.Secure(l.TLS), nats.Timeout(Guard))
	if err != nil {
		t.Fatalf("service connection: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
