package receiver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/wire"
)

// Config is the receiver's configuration file. Paths left empty default to
// files under StateDir.
type Config struct {
	// StateDir holds JetStream's files (embedded NATS), the SQLite database
	// and uploaded media.
	StateDir string         `yaml:"state_dir"`
	NATS     NATSConfig     `yaml:"nats"`
	Stream   StreamConfig   `yaml:"stream"`
	Store    StoreConfig    `yaml:"store"`
	Acks     AcksConfig     `yaml:"acks"`
	HTTP     HTTPConfig     `yaml:"http"`
	Log      LogConfig      `yaml:"log"`
	Alerting AlertingConfig `yaml:"alerting"`
	Media    MediaConfig    `yaml:"media"`
	// Credentials: the cabins' credentials on an operator-mode leaf
	// (receiver/credentials.go).
	Credentials CredentialsConfig `yaml:"credentials"`
	// Sites: per-site settings, by site id (config_sites.go).
	Sites map[string]SiteConfig `yaml:"sites"`
	// Reports: where the monthly report PDFs are kept (config_sites.go).
	Reports ReportsConfig `yaml:"reports"`
}

// MediaConfig says where uploaded media live when not in http.media_dir.
type MediaConfig struct {
	// S3 keeps them in an S3-compatible bucket, so that every receiver
	// serves what any of them stored.
	S3 S3Config `yaml:"s3"`
}

// AlertingConfig sends the cabins' urgent situations (entrapment, alarm,
// out of service, offline, controller link lost, silent) to Alertmanager.
type AlertingConfig struct {
	// AlertmanagerURLs are the Alertmanagers' base URLs
	// (http://alertmanager:9093); several for an HA pair. Empty: no alerts.
	AlertmanagerURLs []string `yaml:"alertmanager_urls"`
	// Interval: how often situations are evaluated and active alerts sent
	// again; default 15s.
	Interval time.Duration `yaml:"interval"`
}

// NATSConfig says which NATS to use: the embedded server when URL is empty,
// else an external cluster.
type NATSConfig struct {
	Embedded EmbeddedNATS `yaml:"embedded"`
	// URL of an external NATS (nats:// or tls://, comma-separated for a
	// cluster). Empty: start the embedded server.
	URL string `yaml:"url"`
	// CredentialsFile is the NATS .creds file (JWT + nkey) of the receiver.
	CredentialsFile string `yaml:"credentials_file"`
	// Username and PasswordFile log in to an external NATS whose accounts
	// have users and passwords (packaging/nats/hub.conf), instead of a
	// .creds file.
	Username     string    `yaml:"username"`
	PasswordFile string    `yaml:"password_file"`
	TLS          TLSConfig `yaml:"tls"`
	// MQTTURL is the MQTT listener notices are published to (tcp:// or
	// ssl://). With the embedded server it defaults to its listener.
	MQTTURL          string `yaml:"mqtt_url"`
	MQTTUsername     string `yaml:"mqtt_username"`
	MQTTPasswordFile string `yaml:"mqtt_password_file"`
	// LeafMonitor watches external leaf nodes for client-id takeovers.
	LeafMonitor LeafMonitorConfig `yaml:"leaf_monitor"`
}

// LeafMonitorConfig points the receiver at the monitoring endpoints of the
// leaf nodes the cabins connect to, and at the fleet file their users come
// from, so that it can tell a cabin's client id held by another user. The
// embedded server needs none of this: it disconnects such a connection.
type LeafMonitorConfig struct {
	URLs     []string      `yaml:"urls"`     // e.g. http://leaf-0.palier:8222
	Fleet    string        `yaml:"fleet"`    // the fleet file (receiver users)
	Interval time.Duration `yaml:"interval"` // default 10s
}

// EmbeddedNATS configures the embedded server.
type EmbeddedNATS struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	MQTTHost string `yaml:"mqtt_host"`
	MQTTPort int    `yaml:"mqtt_port"`
	// Fleet is the devices' users (the fleet file of `receiver users`, as
	// on the leaf node): with it, only they and the receiver may connect,
	// each device only under its own topics. Required to listen beyond
	// loopback.
	Fleet string `yaml:"fleet"`
}

// TLSConfig is the client side of TLS to an external NATS or MQTT listener.
type TLSConfig struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// StreamConfig sets the JetStream stream, consumer and dead letter.
type StreamConfig struct {
	Name     string        `yaml:"name"`      // default PALIER_EVENTS
	MaxAge   time.Duration `yaml:"max_age"`   // events older than this are dropped from the stream (not the store)
	MaxBytes int64         `yaml:"max_bytes"` // oldest events dropped beyond this size
	Replicas int           `yaml:"replicas"`  // 1 embedded; 3 in a cluster
	// DeadLetter is the stream of batches that could not be stored.
	DeadLetter       string        `yaml:"dead_letter"`
	DeadLetterMaxAge time.Duration `yaml:"dead_letter_max_age"`
	// Durable is the consumer name all receivers share.
	Durable string `yaml:"durable"`
	// State is the stream of the latest state and status of each cabin,
	// read through the consumer StateDurable that all receivers share.
	State        string `yaml:"state"`
	StateDurable string `yaml:"state_durable"`
	// FetchBatch is the most messages stored in one transaction.
	FetchBatch int `yaml:"fetch_batch"`
	// FetchMaxBytes bounds what a receiver holds of messages fetched and
	// not yet stored: prefetched, and gathered into one transaction (half
	// each). Messages may be 1 MiB: counted in messages, junk traffic
	// made a receiver hold hundreds of them.
	FetchMaxBytes int `yaml:"fetch_max_bytes"`
	// DeadLetterPerCabin bounds the dead letters kept per cabin, so that
	// one device's junk rotates out only its own evidence.
	DeadLetterPerCabin int64 `yaml:"dead_letter_per_cabin"`
	// AckWait is how long JetStream waits for an ack before redelivering.
	AckWait time.Duration `yaml:"ack_wait"`
}

// StoreConfig chooses the database.
type StoreConfig struct {
	Driver string `yaml:"driver"` // sqlite or postgres
	// Path of the SQLite file; default StateDir/receiver.db.
	Path string `yaml:"path"`
	// Synchronous is SQLite's synchronous pragma: full (default) or normal.
	Synchronous string `yaml:"synchronous"`
	// URL of the PostgreSQL database (driver postgres), without the
	// password: it comes from PGPASSFILE / ~/.pgpass or PGPASSWORD, so the
	// config file holds no secret.
	URL string `yaml:"url"`
}

// AcksConfig sets the re-sending of end-to-end acks.
type AcksConfig struct {
	// ResendInterval: every interval the latest ack of each cabin seen
	// within ResendWindow is sent again, repairing a lost one.
	ResendInterval time.Duration `yaml:"resend_interval"`
	ResendWindow   time.Duration `yaml:"resend_window"`
}

// HTTPConfig sets the API listener.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
	// PublicURL is how devices reach this listener; media URLs in notices
	// start with it. Default http://{listen}.
	PublicURL string `yaml:"public_url"`
	// Tokens: without any, and without accounts, the API listens on
	// loopback only.
	Tokens []TokenConfig `yaml:"tokens"`
	// Accounts turns on people's accounts (kept in the store, made with
	// "receiver accounts add") and the login page; access control is then
	// on even without tokens.
	Accounts bool `yaml:"accounts"`
	// SessionIdle ends a login unused this long (default 30m);
	// SessionMax ends any login this old (default 12h).
	SessionIdle time.Duration `yaml:"session_idle"`
	SessionMax  time.Duration `yaml:"session_max"`
	// MediaDir holds uploaded files by SHA-256; default StateDir/media.
	// One receiver only: several share a bucket instead (media.s3).
	MediaDir       string `yaml:"media_dir"`
	MaxUploadBytes int64  `yaml:"max_upload_bytes"`
	// MaxMediaBytes bounds all uploaded media together, so uploads cannot
	// fill the receiver's disk (or the bucket); default 1 GiB.
	MaxMediaBytes int64 `yaml:"max_media_bytes"`
	// MaxSiteMediaBytes bounds one site's uploads together
	// (POST /api/v1/sites/{site}/media); default 256 MiB.
	MaxSiteMediaBytes int64 `yaml:"max_site_media_bytes"`
	// MaxConnections bounds the connections served at once; more wait in
	// the kernel's backlog. A flood of slow clients then costs a bounded
	// number of descriptors, and the MQTT listener in the same process
	// keeps its own. Default 512.
	MaxConnections int `yaml:"max_connections"`
	// RequestTimeout bounds reading one request's body and writing its
	// answer (an upload gets more: its size at 64 KiB/s); default 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// IdleTimeout closes a kept-alive connection with no request; default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// PreviewDir holds the notice preview's files (screen.wasm, its gzip,
	// wasm_exec.js), served under /preview/; the package installs them in
	// /usr/share/palier-receiver/preview. Empty: no preview.
	PreviewDir string `yaml:"preview_dir"`
}

// S3Config is an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage,
// versitygw...) for uploaded media. Empty Endpoint: media stay in
// http.media_dir.
type S3Config struct {
	// Endpoint is the server's URL without a path: https://host[:port]
	// (http:// only inside a trusted network).
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	// Region is the bucket's, e.g. eu-west-3; us-east-1 for most
	// S3-compatible servers.
	Region string `yaml:"region"`
	// AccessKeyFile and SecretKeyFile hold the credentials (one line each):
	// the config itself holds no secret.
	AccessKeyFile string `yaml:"access_key_file"`
	SecretKeyFile string `yaml:"secret_key_file"`
	// PathStyle addresses the bucket as endpoint/bucket/key, as MinIO,
	// Ceph RGW, Garage and versitygw expect; false: bucket.endpoint/key
	// (virtual host, as AWS S3 prefers).
	PathStyle bool `yaml:"path_style"`
	// CAFile is the PEM of the CA of the endpoint's certificate; empty: the
	// system's CAs.
	CAFile string `yaml:"ca_file"`
	// Prefix starts every key, so that one bucket can hold other things
	// (or several fleets): e.g. palier/media/. Empty, or ending in "/".
	Prefix string `yaml:"prefix"`
}

// TokenConfig is one bearer token.
type TokenConfig struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"` // read, operator, manager or admin
	// Sites limits the token to these sites; empty: every site (a
	// manager's token needs sites).
	Sites []string `yaml:"sites"`
	// File holds the token (one line); tokens are never in the config itself.
	File string `yaml:"file"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// DefaultConfig is the configuration of a single machine: embedded NATS with
// MQTT on 127.0.0.1:1883, SQLite, HTTP on 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{
		StateDir: "/var/lib/palier-receiver",
		NATS: NATSConfig{Embedded: EmbeddedNATS{
			Host: "127.0.0.1", Port: 4222, MQTTHost: "127.0.0.1", MQTTPort: 1883,
		}},
		Stream: StreamConfig{
			Name:               "PALIER_EVENTS",
			MaxAge:             30 * 24 * time.Hour,
			MaxBytes:           8 << 30,
			Replicas:           1,
			DeadLetter:         "PALIER_DEADLETTER",
			DeadLetterMaxAge:   90 * 24 * time.Hour,
			Durable:            "palier-receiver",
			State:              "PALIER_STATE",
			StateDurable:       "palier-receiver-state",
			FetchBatch:         256,
			FetchMaxBytes:      16 << 20,
			DeadLetterPerCabin: 1000,
			AckWait:            30 * time.Second,
		},
		Store: StoreConfig{Driver: "sqlite", Synchronous: "full"},
		Acks:  AcksConfig{ResendInterval: 30 * time.Second, ResendWindow: 15 * time.Minute},
		HTTP: HTTPConfig{Listen: "127.0.0.1:8080", MaxUploadBytes: 20 << 20, MaxMediaBytes: 1 << 30, MaxSiteMediaBytes: 256 << 20,
			MaxConnections: 512, RequestTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// maxConfigSize bounds the config file; a real one is a few KiB.
const maxConfigSize = 1 << 20

// Parse reads a YAML config over the defaults (configfile.Decode). An
// unknown key is an error naming the key and its line; an empty file means
// the defaults.
func Parse(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	if err := configfile.Decode(r, maxConfigSize, &cfg); err != nil && !errors.Is(err, configfile.ErrEmpty) {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	return cfg, nil
}

// ParseFile reads and parses a config file.
func ParseFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks every field and returns all problems at once
// (configfile.Problems: each a *configfile.FieldError saying what would be
// valid), or nil.
func (c *Config) Validate() error {
	var p configfile.Problems
	bad := p.Add
	if c.StateDir == "" {
		bad("state_dir", "empty (want a directory such as /var/lib/palier-receiver)")
	} else if !filepath.IsAbs(c.StateDir) {
		bad("state_dir", "%q is relative (want an absolute path)", c.StateDir)
	}

	n := &c.NATS
	if n.URL == "" {
		checkHost(bad, "nats.embedded.host", n.Embedded.Host)
		checkHost(bad, "nats.embedded.mqtt_host", n.Embedded.MQTTHost)
		if n.Embedded.Fleet == "" {
			for _, h := range []struct{ field, host string }{{"nats.embedded.host", n.Embedded.Host}, {"nats.embedded.mqtt_host", n.Embedded.MQTTHost}} {
				if h.host != "" && !isLoopback(h.host) {
					bad(h.field, "%q listens beyond loopback without authentication (want 127.0.0.1, or nats.embedded.fleet: the devices' users, see docs/PACKAGING.md)", h.host)
				}
			}
		}
		checkFile(bad, "nats.embedded.fleet", n.Embedded.Fleet)
		checkPort(bad, "nats.embedded.port", n.Embedded.Port)
		checkPort(bad, "nats.embedded.mqtt_port", n.Embedded.MQTTPort)
		if n.CredentialsFile != "" {
			bad("nats.credentials_file", "set without nats.url (credentials are for an external NATS: want nats.url, or no credentials_file)")
		}
		if n.Username != "" || n.PasswordFile != "" {
			bad("nats.username", "set without nats.url (a user is for an external NATS: want nats.url, or no username and password_file)")
		}
	} else {
		for _, u := range strings.Split(n.URL, ",") {
			u = strings.TrimSpace(u)
			if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
				bad("nats.url", "%q (want nats://host:port or tls://host:port, comma-separated for a cluster)", u)
			}
		}
		if (n.Username == "") != (n.PasswordFile == "") {
			bad("nats.password_file", "nats.username and nats.password_file go together (want both, or neither)")
		}
		if n.Username != "" && n.CredentialsFile != "" {
			bad("nats.credentials_file", "set with nats.username (want one way to log in: a .creds file, or a user and password)")
		}
		if n.MQTTURL == "" {
			bad("nats.mqtt_url", "empty with an external nats.url (want tcp://host:1883 or ssl://host:8883 of the NATS MQTT listener, to publish notices)")
		}
	}
	if n.MQTTURL != "" && !strings.HasPrefix(n.MQTTURL, "tcp://") && !strings.HasPrefix(n.MQTTURL, "ssl://") {
		bad("nats.mqtt_url", "%q (want tcp://host:port or ssl://host:port)", n.MQTTURL)
	}
	checkFile(bad, "nats.credentials_file", n.CredentialsFile)
	checkFile(bad, "nats.password_file", n.PasswordFile)
	checkFile(bad, "nats.mqtt_password_file", n.MQTTPasswordFile)
	checkFile(bad, "nats.tls.ca_file", n.TLS.CAFile)
	checkFile(bad, "nats.tls.cert_file", n.TLS.CertFile)
	checkFile(bad, "nats.tls.key_file", n.TLS.KeyFile)
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		bad("nats.tls", "cert_file and key_file go together (want both or neither)")
	}

	if lm := &n.LeafMonitor; len(lm.URLs) > 0 {
		for i, u := range lm.URLs {
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				bad(fmt.Sprintf("nats.leaf_monitor.urls[%d]", i), "%q is not an http(s) URL like http://leaf:8222", u)
			}
		}
		if lm.Fleet == "" {
			bad("nats.leaf_monitor.fleet", "empty (want the fleet file the leaf's users come from)")
		}
		if lm.Interval != 0 && lm.Interval < time.Second {
			bad("nats.leaf_monitor.interval", "%s (want at least 1s)", lm.Interval)
		}
	}
	for i, u := range c.Alerting.AlertmanagerURLs {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(fmt.Sprintf("alerting.alertmanager_urls[%d]", i), "%q is not an http(s) URL like http://alertmanager:9093", u)
		}
	}
	if iv := c.Alerting.Interval; iv != 0 && (iv < time.Second || iv > 5*time.Minute) {
		bad("alerting.interval", "%s (want 1s to 5m: an entrapment must reach someone within a minute)", iv)
	}
	c.Credentials.validate(bad)
	c.validateSites(&p)
	c.validateReports(&p)
	s := &c.Stream
	checkStreamName(bad, "stream.name", s.Name)
	checkStreamName(bad, "stream.dead_letter", s.DeadLetter)
	if s.Name != "" && s.Name == s.DeadLetter {
		bad("stream.dead_letter", "%q is the events stream's name (want another name)", s.DeadLetter)
	}
	checkStreamName(bad, "stream.durable", s.Durable)
	checkStreamName(bad, "stream.state", s.State)
	checkStreamName(bad, "stream.state_durable", s.StateDurable)
	if s.State != "" && (s.State == s.Name || s.State == s.DeadLetter) {
		bad("stream.state", "%q is the name of another stream (want its own)", s.State)
	}
	if s.FetchMaxBytes < 2<<20 || s.FetchMaxBytes > 256<<20 {
		bad("stream.fetch_max_bytes", "%d out of range (2 MiB to 256 MiB: at least two messages of the 1 MiB limit)", s.FetchMaxBytes)
	}
	if s.DeadLetterPerCabin < 10 {
		bad("stream.dead_letter_per_cabin", "%d (want at least 10)", s.DeadLetterPerCabin)
	}
	if s.MaxAge < time.Hour {
		bad("stream.max_age", "%s (want at least 1h, e.g. 720h: how long JetStream keeps events a receiver has not read)", s.MaxAge)
	}
	if s.DeadLetterMaxAge < time.Hour {
		bad("stream.dead_letter_max_age", "%s (want at least 1h, e.g. 2160h)", s.DeadLetterMaxAge)
	}
	if s.MaxBytes < 1<<20 {
		bad("stream.max_bytes", "%d (want at least 1048576 bytes, e.g. 8589934592 for 8 GiB)", s.MaxBytes)
	}
	if s.Replicas != 1 && s.Replicas != 3 && s.Replicas != 5 {
		bad("stream.replicas", "%d (want 1, 3 or 5)", s.Replicas)
	}
	if n.URL == "" && s.Replicas != 1 {
		bad("stream.replicas", "%d with the embedded server (one server holds one replica: want 1)", s.Replicas)
	}
	if s.FetchBatch < 1 || s.FetchBatch > 1000 {
		bad("stream.fetch_batch", "%d (want 1..1000)", s.FetchBatch)
	}
	if s.AckWait < time.Second || s.AckWait > 10*time.Minute {
		bad("stream.ack_wait", "%s (want 1s..10m)", s.AckWait)
	}

	switch c.Store.Driver {
	case "sqlite":
		if c.Store.URL != "" {
			bad("store.url", "set with driver sqlite (want driver postgres, or no url)")
		}
	case "postgres":
		if !strings.HasPrefix(c.Store.URL, "postgres://") && !strings.HasPrefix(c.Store.URL, "postgresql://") {
			bad("store.url", "%q (want postgres://user@host:5432/dbname?sslmode=verify-full)", c.Store.URL)
		} else if u, err := url.Parse(c.Store.URL); err != nil {
			bad("store.url", "%v (want postgres://user@host:5432/dbname)", err)
		} else if _, hasPassword := u.User.Password(); hasPassword {
			bad("store.url", "holds a password (want none in the config: use PGPASSFILE or ~/.pgpass)")
		}
	default:
		bad("store.driver", "%q (want sqlite or postgres)", c.Store.Driver)
	}
	switch strings.ToLower(c.Store.Synchronous) {
	case "full", "normal":
	default:
		bad("store.synchronous", "%q (want full or normal)", c.Store.Synchronous)
	}
	if c.Store.Path != "" && !filepath.IsAbs(c.Store.Path) {
		bad("store.path", "%q is relative (want an absolute path)", c.Store.Path)
	}

	if c.Acks.ResendInterval < 100*time.Millisecond {
		bad("acks.resend_interval", "%s (want at least 100ms, e.g. 30s)", c.Acks.ResendInterval)
	}
	if c.Acks.ResendWindow < c.Acks.ResendInterval {
		bad("acks.resend_window", "%s is shorter than acks.resend_interval %s (want a window of several intervals)", c.Acks.ResendWindow, c.Acks.ResendInterval)
	}

	h := &c.HTTP
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		bad("http.listen", "%q (want host:port, e.g. 127.0.0.1:8080)", h.Listen)
	} else if port == "" {
		bad("http.listen", "%q has no port (want host:port)", h.Listen)
	} else if len(h.Tokens) == 0 && !h.Accounts && !loopback(host) {
		bad("http.listen", "%q is not loopback and http.tokens is empty (want tokens, http.accounts: true, or a loopback address such as 127.0.0.1:8080)", h.Listen)
	}
	if h.PublicURL != "" && !strings.HasPrefix(h.PublicURL, "http://") && !strings.HasPrefix(h.PublicURL, "https://") {
		bad("http.public_url", "%q (want http:// or https:// URL)", h.PublicURL)
	}
	if h.MediaDir != "" && !filepath.IsAbs(h.MediaDir) {
		bad("http.media_dir", "%q is relative (want an absolute path)", h.MediaDir)
	}
	if h.PreviewDir != "" && !filepath.IsAbs(h.PreviewDir) {
		bad("http.preview_dir", "%q is relative (want an absolute path, e.g. /usr/share/palier-receiver/preview)", h.PreviewDir)
	}
	checkS3(bad, "media.s3", c.Media.S3)
	if h.MediaDir != "" && c.Media.S3.Endpoint != "" {
		bad("http.media_dir", "set with media.s3.endpoint (media live in one place: want http.media_dir or media.s3, not both)")
	}
	if h.MaxConnections < 16 {
		bad("http.max_connections", "%d (want at least 16)", h.MaxConnections)
	}
	if h.RequestTimeout < 100*time.Millisecond {
		bad("http.request_timeout", "%s (want at least 100ms)", h.RequestTimeout)
	}
	if h.IdleTimeout < time.Second {
		bad("http.idle_timeout", "%s (want at least 1s)", h.IdleTimeout)
	}
	if h.SessionIdle != 0 && h.SessionIdle < time.Minute {
		bad("http.session_idle", "%s (want at least 1m, or nothing for 30m)", h.SessionIdle)
	}
	if h.SessionMax != 0 && (h.SessionMax < h.SessionIdle || h.SessionMax > 30*24*time.Hour) {
		bad("http.session_max", "%s (want between http.session_idle and 720h, or nothing for 12h)", h.SessionMax)
	}
	if h.MaxSiteMediaBytes < h.MaxUploadBytes || h.MaxSiteMediaBytes > h.MaxMediaBytes {
		bad("http.max_site_media_bytes", "%d (want between http.max_upload_bytes %d and http.max_media_bytes %d)", h.MaxSiteMediaBytes, h.MaxUploadBytes, h.MaxMediaBytes)
	}
	if h.MaxMediaBytes < h.MaxUploadBytes {
		bad("http.max_media_bytes", "%d is less than http.max_upload_bytes %d (want room for one upload at least)", h.MaxMediaBytes, h.MaxUploadBytes)
	}
	if h.MaxUploadBytes < 1024 {
		bad("http.max_upload_bytes", "%d (want at least 1024)", h.MaxUploadBytes)
	}
	names := map[string]bool{}
	for i, t := range h.Tokens {
		f := fmt.Sprintf("http.tokens[%d]", i)
		if t.Name == "" {
			bad(f+".name", "empty (want a name for logs, e.g. backend)")
		} else if names[t.Name] {
			bad(f+".name", "%q used twice (want unique names)", t.Name)
		}
		names[t.Name] = true
		if t.Role != RoleRead && t.Role != RoleOperator && t.Role != RoleManager && t.Role != RoleAdmin {
			bad(f+".role", "%q (want read, operator, manager or admin)", t.Role)
		}
		if t.Role == RoleManager && len(t.Sites) == 0 {
			bad(f+".sites", "empty (a manager's token needs the sites it manages)")
		}
		if t.Role == RoleAdmin && len(t.Sites) > 0 {
			bad(f+".sites", "an admin token has every site (leave sites empty, or choose the manager role)")
		}
		for j, s := range t.Sites {
			if err := wire.ValidateID(s); err != nil {
				bad(fmt.Sprintf("%s.sites[%d]", f, j), "%v", err)
			}
		}
		if t.File == "" {
			bad(f+".file", "empty (want the path of a file holding the token)")
		} else {
			checkFile(bad, f+".file", t.File)
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q (want text or json)", c.Log.Format)
	}
	return p.Err()
}

// Token roles.
const (
	RoleRead     = "read"
	RoleOperator = "operator" // read, and acknowledge and close alarms
	RoleManager  = "manager"  // read, and write the notices of its sites
	RoleAdmin    = "admin"
)

type badFunc func(field, format string, args ...any)

func checkHost(bad badFunc, field, host string) {
	if host == "" {
		bad(field, "empty (want an address such as 127.0.0.1)")
	}
}

// isLoopback says whether a listener host is reachable only from this
// machine: localhost or a loopback address (0.0.0.0 and :: are every
// interface).
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func checkPort(bad badFunc, field string, port int) {
	if port < -1 || port > 65535 || port == 0 {
		bad(field, "%d (want 1..65535, or -1 for a free port)", port)
	}
}

func checkFile(bad badFunc, field, path string) {
	if path == "" {
		return
	}
	if _, err := os.Stat(path); err != nil {
		bad(field, "%q: %v (want a readable file)", path, errors.Unwrap(err))
	}
}

// checkS3 checks an S3 bucket's settings: all or nothing, each as S3
// would take it.
func checkS3(bad badFunc, field string, c S3Config) {
	if c.Endpoint == "" {
		set := []string{}
		for _, f := range []struct{ name, v string }{{"bucket", c.Bucket}, {"region", c.Region},
			{"access_key_file", c.AccessKeyFile}, {"secret_key_file", c.SecretKeyFile}, {"ca_file", c.CAFile}, {"prefix", c.Prefix}} {
			if f.v != "" {
				set = append(set, f.name)
			}
		}
		if c.PathStyle {
			set = append(set, "path_style")
		}
		if len(set) > 0 {
			bad(field+".endpoint", "empty with %s set (want the S3 endpoint, e.g. https://s3.eu-west-3.amazonaws.com, or no %s settings)", strings.Join(set, ", "), field)
		}
		return
	}
	u, err := url.Parse(c.Endpoint)
	switch {
	case err != nil:
		bad(field+".endpoint", "%q: %v (want https://host[:port])", c.Endpoint, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		bad(field+".endpoint", "%q (want https://host[:port], or http:// inside a trusted network)", c.Endpoint)
	case u.User != nil:
		bad(field+".endpoint", "%q holds credentials (want them in access_key_file and secret_key_file)", c.Endpoint)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		bad(field+".endpoint", "%q has a path or query (want https://host[:port] only: the bucket goes in bucket, a folder in prefix)", c.Endpoint)
	}
	if err == nil && u.Scheme == "http" && c.CAFile != "" {
		bad(field+".ca_file", "set with an http:// endpoint (want https://, or no ca_file)")
	}
	if why := bucketNameProblem(c.Bucket); why != "" {
		bad(field+".bucket", "%q %s (want 3 to 63 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)", c.Bucket, why)
	}
	if c.Region == "" {
		bad(field+".region", "empty (want the bucket's region, e.g. eu-west-3; us-east-1 for most S3-compatible servers)")
	} else {
		for _, r := range c.Region {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				bad(field+".region", "%q has %q (want lower-case letters, digits and '-', e.g. eu-west-3)", c.Region, r)
				break
			}
		}
	}
	for _, f := range []struct{ name, path string }{{"access_key_file", c.AccessKeyFile}, {"secret_key_file", c.SecretKeyFile}} {
		if f.path == "" {
			bad(field+"."+f.name, "empty (want the path of a file holding the key: the config holds no secret)")
		} else {
			checkFile(bad, field+"."+f.name, f.path)
		}
	}
	checkFile(bad, field+".ca_file", c.CAFile)
	if p := c.Prefix; p != "" {
		switch {
		case strings.HasPrefix(p, "/"), !strings.HasSuffix(p, "/"):
			bad(field+".prefix", "%q (want a folder without a leading '/' and ending in '/', e.g. palier/media/)", p)
		case strings.Contains(p, "//"), strings.Contains("/"+p, "/../"), strings.Contains("/"+p, "/./"):
			bad(field+".prefix", "%q has an empty, '.' or '..' part (want e.g. palier/media/)", p)
		default:
			for _, r := range p {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-_.", r)) {
					bad(field+".prefix", "%q has %q (want letters, digits, '/', '-', '_' and '.')", p, r)
					break
				}
			}
		}
	}
}

// bucketNameProblem says what is wrong with an S3 bucket name, or "".
func bucketNameProblem(name string) string {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Sprintf("has %d characters", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Sprintf("has %q", r)
		}
	}
	if first, last := name[0], name[len(name)-1]; first == '-' || first == '.' || last == '-' || last == '.' {
		return "starts or ends with '-' or '.'"
	}
	if strings.Contains(name, "..") {
		return "has '..'"
	}
	if net.ParseIP(name) != nil {
		return "is an IP address"
	}
	return ""
}

func checkStreamName(bad badFunc, field, name string) {
	if name == "" {
		bad(field, "empty (want a name of letters, digits, '-' and '_')")
		return
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			bad(field, "%q has %q (want letters, digits, '-' and '_')", name, r)
			return
		}
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// paths fills the defaults that derive from StateDir.
func (c Config) withPaths() Config {
	if c.Store.Path == "" {
		c.Store.Path = filepath.Join(c.StateDir, "receiver.db")
	}
	if c.HTTP.MediaDir == "" && c.Media.S3.Endpoint == "" {
		c.HTTP.MediaDir = filepath.Join(c.StateDir, "media")
	}
	return c
}
