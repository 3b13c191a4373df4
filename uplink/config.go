package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"net/url"
	"os"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/wire"
)

// Protocol choices.
const (
	ProtocolAuto = "auto"
	Protocol311  = "3.1.1"
	Protocol5    = "5"
)

// Config of the uplink, as it appears under `uplink:` in the agent's YAML.
type Config struct {
	// Broker is the broker URL: tcp://host:1883, or ssl:// (mqtts://) for TLS.
	Broker string `yaml:"broker"`
	// Protocol is auto (default), 3.1.1 (NATS) or 5.
	Protocol string `yaml:"protocol"`
	// Username, and the file holding the password (never inline in YAML).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	TLS          TLS    `yaml:"tls"`
	// KeepAlive is the MQTT keep-alive; default 30 s.
	KeepAlive time.Duration `yaml:"keep_alive"`
	// BackoffMin and BackoffMax bound the reconnect delay: exponential from
	// min, capped at max, with full jitter. Defaults 1 s and 30 s (measured: after a 30 s outage
	// a 2 min cap left devices waiting up to 104 s, a 30 s cap 29 s).
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// BatchEvents and BatchBytes bound one published batch; defaults 500 and
	// 128 KiB (NATS refuses payloads over 1 MB).
	BatchEvents int `yaml:"batch_events"`
	BatchBytes  int `yaml:"batch_bytes"`
	// InFlight bounds the batches published and not yet acknowledged; default 4.
	InFlight int `yaml:"in_flight"`
	// RateLimit bounds the events per second drained, for a long backlog on
	// a thin link; 0 means no limit.
	RateLimit float64 `yaml:"rate_limit"`
}

// TLS settings for the broker connection.
type TLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"` // client certificate, for mutual TLS
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"` // overrides the broker host name for verification
}

// DefaultConfig is what the agent ships with: the local embedded broker.
func DefaultConfig() Config {
	return Config{
		Broker:      "tcp://127.0.0.1:1883",
		Protocol:    ProtocolAuto,
		KeepAlive:   30 * time.Second,
		BackoffMin:  time.Second,
		BackoffMax:  30 * time.Second,
		BatchEvents: 500,
		BatchBytes:  128 << 10,
		InFlight:    4,
	}
}

// Validate returns every problem (configfile.Problems), each a
// *configfile.FieldError naming its field under uplink:; the agent nests
// them under "uplink".
func (c *Config) Validate() error {
	var p configfile.Problems
	bad := p.Add
	if u, err := url.Parse(c.Broker); err != nil || u.Host == "" {
		bad("broker", "%q is not a URL like tcp://host:1883 or ssl://host:8883", c.Broker)
	} else if !isTLSScheme(u.Scheme) && u.Scheme != "tcp" && u.Scheme != "mqtt" {
		bad("broker", "scheme %q not supported (want tcp, mqtt, ssl, tls or mqtts)", u.Scheme)
	} else if !isTLSScheme(u.Scheme) && (c.TLS.CAFile != "" || c.TLS.CertFile != "") {
		bad("tls", "set, but broker %q is not a TLS URL (use ssl://)", c.Broker)
	}
	switch c.Protocol {
	case ProtocolAuto, Protocol311, Protocol5:
	default:
		bad("protocol", "%q unknown (want auto, 3.1.1 or 5)", c.Protocol)
	}
	if c.PasswordFile != "" && c.Username == "" {
		bad("username", "missing while password_file is set")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	// A slice, not a map: the problems come out in the same order each time.
	for _, f := range []struct{ field, path string }{
		{"password_file", c.PasswordFile}, {"tls.ca_file", c.TLS.CAFile}, {"tls.cert_file", c.TLS.CertFile}, {"tls.key_file", c.TLS.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			bad(f.field, "%v", err)
		}
	}
	// nats-server closes an MQTT client silent for 1.5 keep-alives,
	// truncated to whole seconds: 1s becomes 1s, and a client that pings
	// after a second of silence is dropped every second.
	if c.KeepAlive < 2*time.Second {
		bad("keep_alive", "%s is too short (at least 2s: nats-server drops a client after 1.5 keep-alives rounded down to whole seconds)", c.KeepAlive)
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		bad("backoff_min", "%s to %s is not a range (want 0 < backoff_min <= backoff_max)", c.BackoffMin, c.BackoffMax)
	}
	if c.BatchEvents < 1 || c.BatchEvents > wire.MaxBatchEvents {
		bad("batch_events", "%d out of range (1 to %d)", c.BatchEvents, wire.MaxBatchEvents)
	}
	if c.BatchBytes < 4<<10 || c.BatchBytes > wire.MaxBatchBytes {
		bad("batch_bytes", "%d out of range (%d to %d)", c.BatchBytes, 4<<10, wire.MaxBatchBytes)
	}
	if c.InFlight < 1 || c.InFlight > 64 {
		bad("in_flight", "%d out of range (1 to 64)", c.InFlight)
	}
	if err := CheckRateLimit(c.RateLimit); err != nil {
		bad("rate_limit", "%v", err)
	}
	return p.Err()
}

// CheckRateLimit is the rule of uplink.rate_limit (events per second, 0:
// no limit), for the file and for a configuration set from a distance.
func CheckRateLimit(r float64) error {
	if !(r >= 0) || math.IsInf(r, 1) {
		return fmt.Errorf("%v is not 0 (no limit) or a positive number of events per second", r)
	}
	return nil
}

func isTLSScheme(s string) bool { return s == "ssl" || s == "tls" || s == "mqtts" }

// dialOptions reads the secrets and certificates the config names.
func (c *Config) dialOptions(site, cabin string) (DialOptions, error) {
	topics := wire.TopicsFor(site, cabin)
	o := DialOptions{
		Broker:      c.Broker,
		ClientID:    wire.ClientID(site, cabin),
		Username:    c.Username,
		KeepAlive:   c.KeepAlive,
		WillTopic:   topics.Status,
		WillPayload: []byte(StatusOffline),
	}
	if c.PasswordFile != "" {
		pw, err := configfile.ReadSecret(c.PasswordFile)
		if err != nil {
			return o, fmt.Errorf("read password file: %w", err)
		}
		o.Password = pw
	}
	u, err := url.Parse(c.Broker)
	if err != nil {
		return o, fmt.Errorf("broker URL: %w", err)
	}
	if isTLSScheme(u.Scheme) {
		// paho knows ssl:// and tls://; mqtts:// is the common spelling.
		if u.Scheme == "mqtts" {
			u.Scheme = "ssl"
			o.Broker = u.String()
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return o, fmt.Errorf("read tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", c.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		if c.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
			if err != nil {
				return o, fmt.Errorf("load client certificate %s: %w", c.TLS.CertFile, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		o.TLS = tc
	} else if u.Scheme == "mqtt" {
		u.Scheme = "tcp"
		o.Broker = u.String()
	}
	return o, nil
}
