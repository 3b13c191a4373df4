package receiver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/receiver/alerting"
	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/receiver/media"
	"github.com/palier-lifts/palier/receiver/reportfiles"
	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/postgres"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/wire"
)

// noticeRepublishInterval is how often stored notice sets are published
// again (retained, same version: agents ignore a version they have).
const noticeRepublishInterval = 10 * time.Minute

// Receiver is a running receiver: its NATS connection (and embedded server),
// store, ingester and HTTP listener.
type Receiver struct {
	cfg      Config
	log      *slog.Logger
	embedded *natsembed.Server
	nc       *nats.Conn
	st       store.Store
	notices  *MQTTNotices
	ingest   *Ingester
	acks     *Acker
	watcher  *StateWatcher
	leaves   *LeafWatch        // nil unless nats.leaf_monitor lists URLs
	alerter  *alerting.Alerter // nil unless alerting lists Alertmanagers
	rollout  *rollout.Controller
	httpLn   net.Listener
	httpSrv  *http.Server
	metrics  *Metrics
	Registry *prometheus.Registry
	creds    *devcred.Manager // nil unless credentials are configured
}

// Run starts a receiver and runs it until ctx is done.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	r, err := New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// New validates cfg and starts everything that can fail at start-up: the
// embedded NATS server (or the connection to an external one), the
// streams and consumer, the store, the MQTT client for notices and the HTTP
// listener. Run then does the work. If New fails, what it started is stopped.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Receiver, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config:\n%w", err)
	}
	cfg = cfg.withPaths()
	r := &Receiver{cfg: cfg, log: logger, Registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	r.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := NewMetrics(r.Registry)
	r.metrics = metrics
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}

	natsURL, mqttURL := cfg.NATS.URL, cfg.NATS.MQTTURL
	var self natsembed.User // the receiver's own user, with an embedded server that has users
	// A busy server checks a bcrypt password in a second or more: nats.go's
	// 2 s connect timeout made a receiver fail to start under load.
	natsOpts := []nats.Option{nats.Name("palier-receiver"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second), nats.Timeout(10 * time.Second)}
	var tlsCfg *tls.Config
	if cfg.NATS.URL == "" {
		e := cfg.NATS.Embedded
		var users []natsembed.User
		if e.Fleet != "" {
			if users, self, err = embeddedUsers(e.Fleet); err != nil {
				return nil, err
			}
			natsOpts = append(natsOpts, nats.UserInfo(self.Name, self.Password))
		}
		// Started without ctx: the receiver stops it in close, once its
		// last commit and acks have left (see Run).
		r.embedded, err = natsembed.Start(natsembed.Config{
			Host: e.Host, Port: e.Port, MQTTHost: e.MQTTHost, MQTTPort: e.MQTTPort,
			StoreDir: filepath.Join(cfg.StateDir, "jetstream"), ServerName: "palier-receiver",
			Users:      users,
			OnTakeover: func(natsembed.Takeover) { metrics.ClientIDTakeovers.Inc() },
		}, logger)
		if err != nil {
			return nil, err
		}
		natsURL = r.embedded.ClientURL()
		if mqttURL == "" {
			mqttURL = "tcp://" + r.embedded.MQTTAddr()
		}
	} else {
		if cfg.NATS.CredentialsFile != "" {
			natsOpts = append(natsOpts, nats.UserCredentials(cfg.NATS.CredentialsFile))
		}
		if cfg.NATS.Username != "" {
			pw, err := configfile.ReadSecret(cfg.NATS.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("nats.password_file: %w", err)
			}
			natsOpts = append(natsOpts, nats.UserInfo(cfg.NATS.Username, pw))
		}
		if tlsCfg, err = loadTLS(cfg.NATS.TLS); err != nil {
			return nil, err
		}
		if tlsCfg != nil {
			natsOpts = append(natsOpts, nats.Secure(tlsCfg))
		}
	}
	if r.nc, err = nats.Connect(natsURL, natsOpts...); err != nil {
		return nil, fmt.Errorf("connect NATS %s: %w", natsURL, err)
	}

	if cfg.Store.Driver == "postgres" {
		r.st, err = postgres.Open(ctx, cfg.Store.URL)
	} else {
		r.st, err = sqlite.Open(ctx, cfg.Store.Path, sqlite.Options{Synchronous: cfg.Store.Synchronous})
	}
	if err != nil {
		return nil, err
	}

	r.acks = NewAcker(r.nc, r.st, metrics, logger.With("component", "acks"))
	if r.ingest, err = NewIngester(r.nc, r.st, IngestOptions{Stream: cfg.Stream}, r.acks, metrics, logger.With("component", "ingest")); err != nil {
		return nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.ingest.Setup(setupCtx); err != nil {
		return nil, err
	}
	if lm := cfg.NATS.LeafMonitor; len(lm.URLs) > 0 {
		fleet, err := natsauth.ParseFile(lm.Fleet)
		if err != nil {
			return nil, fmt.Errorf("nats.leaf_monitor.fleet: %w", err)
		}
		every := lm.Interval
		if every == 0 {
			every = 10 * time.Second
		}
		r.leaves = NewLeafWatch(lm.URLs, deviceUsers(fleet), every, metrics, logger.With("component", "leafwatch"))
	}
	if len(cfg.Alerting.AlertmanagerURLs) > 0 {
		r.alerter = alerting.New(r.st, alerting.Options{
			URLs: cfg.Alerting.AlertmanagerURLs, Interval: cfg.Alerting.Interval, PublicURL: cfg.HTTP.PublicURL,
			Logger: logger.With("component", "alerting"),
			OnSent: func(_ string, _ int, err error) {
				if err != nil {
					metrics.AlertPosts.WithLabelValues("error").Inc()
					return
				}
				metrics.AlertPosts.WithLabelValues("ok").Inc()
			},
		})
	}
	r.watcher = NewStateWatcher(r.nc, r.st, cfg.Stream, metrics, logger.With("component", "state"), nil)
	if err := r.watcher.Setup(setupCtx); err != nil {
		return nil, err
	}

	mo := MQTTOptions{URL: mqttURL, Username: cfg.NATS.MQTTUsername}
	if self.Name != "" {
		mo.Username, mo.Password = self.Name, self.Password
	} else if cfg.NATS.MQTTPasswordFile != "" {
		if mo.Password, err = configfile.ReadSecret(cfg.NATS.MQTTPasswordFile); err != nil {
			return nil, err
		}
	}
	if strings.HasPrefix(mqttURL, "ssl://") {
		mo.TLS = tlsCfg
	}
	if r.notices, err = DialNotices(setupCtx, mo, metrics, logger.With("component", "notices")); err != nil {
		return nil, err
	}

	md, mediaAt, err := openMedia(setupCtx, cfg)
	if err != nil {
		return nil, err
	}
	reports, err := OpenReports(setupCtx, cfg)
	if err != nil {
		return nil, err
	}
	tokens := map[string]httpapi.Token{}
	for _, t := range cfg.HTTP.Tokens {
		v, err := configfile.ReadSecret(t.File)
		if err != nil {
			return nil, fmt.Errorf("http.tokens %s: %w", t.Name, err)
		}
		if len(v) < MinTokenLength {
			return nil, fmt.Errorf("http.tokens %s: the token in %s has %d characters (want at least %d: make one with openssl rand -hex 16)", t.Name, t.File, len(v), MinTokenLength)
		}
		role, _ := httpapi.ParseRole(t.Role) // validated already
		tokens[v] = httpapi.Token{Name: t.Name, Role: role, Sites: t.Sites}
	}
	if r.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return nil, fmt.Errorf("listen HTTP: %w", err)
	}
	r.httpLn = metrics.countConns(netutil.LimitListener(r.httpLn, cfg.HTTP.MaxConnections))
	public := cfg.HTTP.PublicURL
	if public == "" {
		public = "http://" + r.httpLn.Addr().String()
	}
	if rs, ok := r.st.(rollout.Store); ok {
		r.rollout = rollout.New(rs, r.notices, logger.With("component", "rollout"))
	}
	if r.creds, err = openCredentials(cfg.Credentials, logger.With("component", "credentials")); err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.Options{
		Store: r.st, Notices: r.notices, AlarmAcks: r.notices, Configs: r.notices, Rollout: r.rollout, Media: md, PublicURL: strings.TrimRight(public, "/"),
		MaxUploadBytes: cfg.HTTP.MaxUploadBytes, MaxSiteMediaBytes: cfg.HTTP.MaxSiteMediaBytes, RequestTimeout: cfg.HTTP.RequestTimeout, Grants: tokens,
		Accounts: cfg.HTTP.Accounts, SessionIdle: cfg.HTTP.SessionIdle, SessionMax: cfg.HTTP.SessionMax,
		Gatherer: r.Registry, Registerer: r.Registry, Logger: logger.With("component", "http"),
		Credentials: apiCredentials(r.creds),
		SiteEnergy:  cfg.SiteEnergy, Reports: reports,
		PreviewDir: cfg.HTTP.PreviewDir, Screens: cfg.SiteScreens,
	})
	if err != nil {
		return nil, err
	}
	// The handler sets each request's read and write deadlines
	// (RequestTimeout, more for uploads); these bound the rest.
	r.httpSrv = &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	where := cfg.Store.Path
	if cfg.Store.Driver == "postgres" {
		where = cfg.Store.URL
	}
	logger.Info("receiver ready", "http", r.httpLn.Addr().String(), "nats", natsURL, "mqtt", mqttURL, "store", cfg.Store.Driver, "at", where, "media", mediaAt)
	return r, nil
}

// HTTPAddr is the address the API listens on.
func (r *Receiver) HTTPAddr() string { return r.httpLn.Addr().String() }

// NATSURL is the URL of the NATS server in use.
func (r *Receiver) NATSURL() string { return r.nc.ConnectedUrl() }

// MQTTAddr is the embedded server's MQTT listener, or "" with an external NATS.
func (r *Receiver) MQTTAddr() string {
	if r.embedded == nil {
		return ""
	}
	return r.embedded.MQTTAddr()
}

// Store is the receiver's store.
func (r *Receiver) Store() store.Store { return r.st }

// Rollout is the receiver's update wave controller (nil when its store
// keeps no waves); tests call its Step rather than wait for its interval.
func (r *Receiver) Rollout() *rollout.Controller { return r.rollout }

// Run works until ctx is done, then stops everything New started. It is
// the one owner of the embedded NATS server's lifetime: the server stops
// only after ingestion has returned and the connection has flushed, so the
// last commit's JetStream and device acks still reach it.
func (r *Receiver) Run(ctx context.Context) error {
	defer r.close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.ingest.Run(gctx) })
	g.Go(func() error { return r.watcher.Run(gctx) })
	if r.alerter != nil {
		g.Go(func() error { return r.alerter.Run(gctx) })
	}
	g.Go(func() error { return r.watchPlatform(gctx, 15*time.Second) })
	if r.leaves != nil {
		g.Go(func() error { return r.leaves.Run(gctx) })
	}
	g.Go(func() error {
		r.acks.Resend(gctx, r.cfg.Acks.ResendInterval, r.cfg.Acks.ResendWindow, time.Now)
		return nil
	})
	g.Go(func() error {
		r.notices.Republish(gctx, r.st.NoticeSets, noticeRepublishInterval)
		return nil
	})
	g.Go(func() error {
		r.notices.RepublishAlarmAcks(gctx, r.st, alarmAckRepublishInterval)
		return nil
	})
	if r.rollout != nil {
		g.Go(func() error { r.rollout.Run(gctx, rollout.DefaultInterval); return nil })
	}
	g.Go(func() error {
		r.notices.RepublishDesiredConfigs(gctx, r.st, configRetryInterval)
		return nil
	})
	g.Go(func() error {
		if err := r.httpSrv.Serve(r.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve HTTP: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), httpShutdownGrace)
		defer cancel()
		if err := r.httpSrv.Shutdown(sctx); err != nil {
			// A client still sending or reading after the grace period is
			// cut off: that is how a stop ends, not a failure (systemd
			// would otherwise record a normal stop as failed).
			r.log.Warn("HTTP requests still running at shutdown: connections closed", "grace", httpShutdownGrace, "err", err)
			r.httpSrv.Close()
		}
		return nil
	})
	err := g.Wait()
	r.log.Info("receiver stopped", "err", err)
	return err
}

// httpShutdownGrace is how long a stop waits for HTTP requests under way.
const httpShutdownGrace = 5 * time.Second

func (r *Receiver) close() {
	if r.httpLn != nil && r.httpSrv == nil {
		r.httpLn.Close()
	}
	if r.notices != nil {
		r.notices.Close()
	}
	if r.creds != nil {
		r.creds.Close()
	}
	if r.nc != nil {
		r.nc.FlushTimeout(2 * time.Second) // lets acks in flight leave
		r.nc.Close()
	}
	if r.st != nil {
		if err := r.st.Close(); err != nil {
			r.log.Warn("close store", "err", err)
		}
	}
	if r.embedded != nil {
		r.embedded.Shutdown() // last: everything above may still talk to it
	}
}

// bucketConfig reads the credentials and CA of an S3 setting (field
// names it in errors).
func bucketConfig(field string, s S3Config) (media.BucketConfig, error) {
	access, err := configfile.ReadSecret(s.AccessKeyFile)
	if err != nil {
		return media.BucketConfig{}, fmt.Errorf("%s.access_key_file: %w", field, err)
	}
	secret, err := configfile.ReadSecret(s.SecretKeyFile)
	if err != nil {
		return media.BucketConfig{}, fmt.Errorf("%s.secret_key_file: %w", field, err)
	}
	var roots *x509.CertPool
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return media.BucketConfig{}, fmt.Errorf("%s.ca_file: %w", field, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return media.BucketConfig{}, fmt.Errorf("%s.ca_file %s: no PEM certificate in it", field, s.CAFile)
		}
	}
	return media.BucketConfig{
		Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region, AccessKey: access, SecretKey: secret,
		PathStyle: s.PathStyle, RootCAs: roots, Prefix: s.Prefix,
	}, nil
}

// OpenReports opens where the monthly report PDFs live: the bucket of
// reports.s3, or else the directory reports.dir (default
// StateDir/reports).
func OpenReports(ctx context.Context, cfg Config) (reportfiles.Store, error) {
	s := cfg.Reports.S3
	if s.Endpoint == "" {
		return reportfiles.NewDir(cfg.ReportsDir()), nil
	}
	bc, err := bucketConfig("reports.s3", s)
	if err != nil {
		return nil, err
	}
	cl, err := media.Client(ctx, bc)
	if err != nil {
		return nil, fmt.Errorf("reports.s3: %w", err)
	}
	return reportfiles.NewBucket(cl, s.Bucket, s.Prefix), nil
}

// openMedia opens where uploads live: the bucket of media.s3, shared
// by every receiver, or else the directory http.media_dir. It says where,
// for the log.
func openMedia(ctx context.Context, cfg Config) (media.Store, string, error) {
	h := cfg.HTTP
	if cfg.Media.S3.Endpoint == "" {
		d, err := media.OpenDir(h.MediaDir, h.MaxMediaBytes)
		if err != nil {
			return nil, "", err
		}
		return d, h.MediaDir, nil
	}
	s := cfg.Media.S3
	bc, err := bucketConfig("media.s3", s)
	if err != nil {
		return nil, "", err
	}
	bc.SpoolDir = filepath.Join(cfg.StateDir, "media-uploads")
	bc.MaxTotal = h.MaxMediaBytes
	// Uploads are hashed and checked in SpoolDir before they are sent:
	// at most http.max_upload_bytes each, removed once sent or refused.
	b, err := media.OpenBucket(ctx, bc)
	if err != nil {
		return nil, "", fmt.Errorf("media.s3: %w", err)
	}
	return b, strings.TrimSuffix(s.Endpoint, "/") + "/" + s.Bucket + "/" + s.Prefix, nil
}

func loadTLS(c TLSConfig) (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS CA: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("load TLS CA %s: no PEM certificate in it", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// MinTokenLength is the shortest API token the receiver accepts: a token is
// all that stands between the network and the fleet's notices.
const MinTokenLength = 16

// deviceUsers are the fleet's cabins as users: each limited to its own
// topics over MQTT, as on the leaf node, and bound to its client id.
func deviceUsers(fleet natsauth.Fleet) []natsembed.User {
	users := make([]natsembed.User, 0, len(fleet.Devices))
	for _, d := range fleet.Devices {
		users = append(users, natsembed.User{Name: d.UserName(), Password: d.PasswordHash,
			Publish: d.Publish(), Subscribe: d.Subscribe(), Clients: []string{"MQTT"},
			ClientID: wire.ClientID(d.Site, d.Cabin)})
	}
	return users
}

// embeddedUsers reads the fleet file into the embedded server's users:
// each device limited to its own topics over MQTT, as on the leaf node, the
// fleet's services, and the receiver itself (self) with a random password
// made now, which never leaves this process.
func embeddedUsers(path string) (users []natsembed.User, self natsembed.User, err error) {
	fleet, err := natsauth.ParseFile(path)
	if err != nil {
		return nil, self, fmt.Errorf("nats.embedded.fleet: %w", err)
	}
	users = deviceUsers(fleet)
	for _, sv := range fleet.Services {
		clients := sv.Clients
		if len(clients) == 0 {
			clients = []string{"STANDARD"}
		}
		users = append(users, natsembed.User{Name: sv.User, Password: sv.PasswordHash, Clients: clients})
	}
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return nil, self, fmt.Errorf("make the receiver's own NATS password: %w", err)
	}
	self = natsembed.User{Name: "palier-receiver-self", Password: hex.EncodeToString(pw[:]), Clients: []string{"STANDARD", "MQTT"}}
	return append(users, self), self, nil
}
