package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config of an embedded server. Zero ports mean the NATS and MQTT defaults
// (4222, 1883); -1 picks a free port.
type Config struct {
	Host       string // NATS client listener host; default 127.0.0.1
	Port       int    // NATS client port
	MQTTHost   string // MQTT listener host; default Host
	MQTTPort   int    // MQTT listener port
	StoreDir   string // JetStream storage directory (required: MQTT needs JetStream)
	ServerName string // default "palier"
	// ReadyTimeout bounds the wait for the listeners; default 10 s.
	ReadyTimeout time.Duration
	// Users, when not empty, are the only ones who may connect: nobody
	// connects anonymously any more.
	Users []User
	// GuardInterval is how often connections are checked against the
	// users' client ids (User.ClientID); default 2 s.
	GuardInterval time.Duration
	// OnTakeover, if set, hears of each connection the guard disconnected.
	OnTakeover func(Takeover)
	// MonitorPort, if not 0, serves nats-server's monitoring endpoints
	// (/varz, /connz...) on Host; -1 picks a free port.
	MonitorPort int
	// MaxConsumers bounds the JetStream consumers of one stream; 0 means
	// DefaultMaxConsumers, -1 no bound. nats-server's MQTT layer makes
	// one durable consumer per QoS 1 subscription, all on its one
	// $MQTT_msgs stream, and every cabin holds seven (wire.Topics: ack,
	// alarm_ack, notices, update, credential, its site's and its own
	// config): nats-server's own default of 1,000 refuses every cabin past
	// about 140 (SUBACK 0x80, "maximum consumers limit reached").
	MaxConsumers int
}

// DefaultMaxConsumers is the bound on one stream's consumers unless
// Config.MaxConsumers says otherwise: seven QoS 1 subscriptions per cabin
// for 14,000 cabins, far more than one server's MQTT layer carries (see
// docs/SIZING.md), so the bound is never what stops a fleet,
// while a runaway client still meets one.
const DefaultMaxConsumers = 100_000

// MQTTJSAPITimeout is how long the MQTT layer waits for its JetStream
// requests, as in packaging/nats/leaf.conf.
const MQTTJSAPITimeout = 30 * time.Second

// MQTTAuthTimeout is how long an MQTT client has from its connection (its
// TLS handshake) to its CONNECT authenticated, as in leaf.conf.
const MQTTAuthTimeout = 10 * time.Second

// User is one user of the embedded server.
type User struct {
	Name string
	// Password in clear, or a bcrypt hash ($2a$...), which nats-server
	// checks as such.
	Password  string
	Publish   []string // subjects it may publish to; nil: any
	Subscribe []string // subjects it may subscribe to; nil: any
	// Clients are the connection types allowed (STANDARD, MQTT); nil: any.
	Clients []string
	// ClientID, if set, is the MQTT client id this user alone may hold,
	// and the only one it may use (or one that extends it with "_").
	ClientID string
}

// serverUsers turns users into nats-server's form.
func serverUsers(users []User) []*server.User {
	out := make([]*server.User, 0, len(users))
	for _, u := range users {
		su := &server.User{Username: u.Name, Password: u.Password}
		if u.Publish != nil || u.Subscribe != nil {
			su.Permissions = &server.Permissions{}
			if u.Publish != nil {
				su.Permissions.Publish = &server.SubjectPermission{Allow: u.Publish}
			}
			if u.Subscribe != nil {
				su.Permissions.Subscribe = &server.SubjectPermission{Allow: u.Subscribe}
			}
		}
		if u.Clients != nil {
			su.AllowedConnectionTypes = map[string]struct{}{}
			for _, c := range u.Clients {
				su.AllowedConnectionTypes[c] = struct{}{}
			}
		}
		out = append(out, su)
	}
	return out
}

// Server is a running embedded nats-server.
type Server struct {
	ns     *server.Server
	opts   *server.Options // the server writes back the ports it bound
	logger *slog.Logger
	done   chan struct{} // closed by Shutdown
	once   sync.Once
}

// Start starts the server and waits until it accepts connections. It runs
// until Shutdown: the caller alone decides when it stops, because its own
// last work (a final commit, acknowledgements) may still need the server
// after the caller's context is done.
func Start(cfg Config, logger *slog.Logger) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("start embedded NATS: StoreDir is required (MQTT needs JetStream)")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.MQTTHost == "" {
		cfg.MQTTHost = cfg.Host
	}
	if cfg.Port == 0 {
		cfg.Port = 4222
	}
	if cfg.MQTTPort == 0 {
		cfg.MQTTPort = 1883
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "palier"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	if cfg.MaxConsumers == 0 {
		cfg.MaxConsumers = DefaultMaxConsumers
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		// JetStream acknowledges before it fsyncs unless told otherwise;
		// an acknowledged event must survive a power cut of the server.
		SyncAlways:   true,
		SyncInterval: 2 * time.Minute,
		// Neither the MQTT stream nor the account sets a consumer bound,
		// so this server-wide default is the one that applies.
		JetStreamLimits: server.JSLimitOpts{DefaultMaxConsumers: cfg.MaxConsumers},
		MQTT: server.MQTTOpts{
			Host: cfg.MQTTHost,
			Port: cfg.MQTTPort,
			// One consumer per QoS 1 subscription, and agents use clean
			// sessions: the server deletes a cabin's consumers when it
			// disconnects, so their state never outlives the connection
			// and files gain nothing. In files they cost three files and
			// a flusher per cabin, and each consumer's end waits up to
			// 100 ms for its flusher, one after the other: 1,500 cabins
			// took 50 s to disconnect (2 s in memory). The stream of
			// retained and QoS 1 messages stays in files.
			ConsumerMemoryStorage: true,
			// As packaging/nats/leaf.conf: a restart under thousands of
			// cabins loads each one's session from JetStream; a 5 s wait
			// failed thousands of connects, which came back as more work.
			JSAPITimeout: MQTTJSAPITimeout,
			// From the TLS handshake to the CONNECT checked: 2 s by
			// default, which a busy server misses in a reconnect storm.
			AuthTimeout: MQTTAuthTimeout.Seconds(),
		},
		NoSigs:   true,
		HTTPHost: cfg.Host,
		HTTPPort: cfg.MonitorPort,
		// MQTT QoS 1 publishes wait for JetStream; keep the default
		// max payload (1 MB), far above the agent's batch bound.
	}
	if len(cfg.Users) > 0 {
		opts.Users = serverUsers(cfg.Users)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded NATS: %w", err)
	}
	ns.SetLoggerV2(slogAdapter{logger.With("component", "nats")}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("start embedded NATS: not ready within %s (ports %d/%d in use?)", cfg.ReadyTimeout, cfg.Port, cfg.MQTTPort)
	}
	s := &Server{ns: ns, opts: opts, logger: logger, done: make(chan struct{})}
	if cfg.GuardInterval <= 0 {
		cfg.GuardInterval = 2 * time.Second
	}
	go s.guard(NewBindings(cfg.Users), cfg.GuardInterval, cfg.OnTakeover)
	logger.Info("embedded NATS started", "nats", s.ClientURL(), "mqtt", s.MQTTAddr(), "store", cfg.StoreDir)
	return s, nil
}

// MonitorURL is the base URL of the monitoring endpoints, or "" when
// Config.MonitorPort was 0.
func (s *Server) MonitorURL() string {
	a := s.ns.MonitorAddr()
	if a == nil {
		return ""
	}
	return "http://" + a.String()
}

// ClientURL is the NATS URL of the client listener.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// MQTTAddr is the host:port of the MQTT listener, with the port the server
// actually bound (Config.MQTTPort may have been -1).
func (s *Server) MQTTAddr() string {
	return net.JoinHostPort(s.opts.MQTT.Host, strconv.Itoa(s.opts.MQTT.Port))
}

// Shutdown stops the server and waits for it; it is safe to call twice.
func (s *Server) Shutdown() {
	s.once.Do(func() { close(s.done) })
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// slogAdapter routes nats-server's logger to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
