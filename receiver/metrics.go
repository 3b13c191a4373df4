package receiver

import (
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palier-lifts/palier/buildinfo"
)

// Metrics are the receiver's Prometheus metrics, registered on the registry
// given to NewMetrics (never the global one).
type Metrics struct {
	Messages       *prometheus.CounterVec // JetStream messages by outcome: stored, dead_letter
	EventsStored   prometheus.Counter
	EventsDup      prometheus.Counter
	DeadLetters    *prometheus.CounterVec // by reason class
	StoreErrors    prometheus.Counter
	CommitSeconds  prometheus.Histogram
	AcksPublished  prometheus.Counter
	StateMessages  *prometheus.CounterVec // by kind (state, status) and result (ok, bad)
	NoticesPublish *prometheus.CounterVec // by result (ok, error)
	// AlarmAcksPublish counts operators' acknowledgements published to
	// cabins, by result (ok, error).
	AlarmAcksPublish *prometheus.CounterVec
	HTTPConns        prometheus.Gauge // HTTP connections open now
	// EventsUnknownType counts events of a type this receiver does not know
	// (from a newer agent): stored as they came.
	EventsUnknownType prometheus.Counter
	// LostAccounted counts sequences accounted for as lost, by reason:
	// reported by agents (evicted, missing) or refused by the store.
	LostAccounted *prometheus.CounterVec
	// ClientIDTakeovers counts connections the embedded server's guard
	// disconnected for holding a cabin's MQTT client id under another
	// user (a device credential used to knock another cabin off).
	ClientIDTakeovers prometheus.Counter
	// EventsConflicting counts events received under the key of a stored
	// event with other content (a copy goes to the dead-letter stream).
	EventsConflicting prometheus.Counter
	// AlertPosts counts posts of alerts to Alertmanager, by result.
	AlertPosts *prometheus.CounterVec
	// ConsumerPending and ConsumerAckPending are the shared consumers'
	// backlog (not yet delivered) and messages delivered and not yet
	// acknowledged, by consumer, as JetStream last said.
	ConsumerPending    *prometheus.GaugeVec
	ConsumerAckPending *prometheus.GaugeVec
	// LastCommit is when a fetch of events was last committed (Unix s).
	LastCommit prometheus.Gauge
	// BuildInfo is 1, labelled with the receiver's version.
	BuildInfo *prometheus.GaugeVec
	// Cabins counts the cabins known, and CabinsIn those in each
	// situation, as the last round of watchPlatform derived them.
	Cabins   prometheus.Gauge
	CabinsIn *prometheus.GaugeVec
}

// NewMetrics makes the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palier_receiver_messages_total", Help: "JetStream event messages handled, by outcome.",
		}, []string{"outcome"}),
		EventsStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "palier_receiver_events_stored_total", Help: "Events newly stored.",
		}),
		EventsDup: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "palier_receiver_events_duplicate_total", Help: "Events received again and dropped by the store's key.",
		}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palier_receiver_dead_letters_total", Help: "Batches sent to the dead-letter stream, by reason class.",
		}, []string{"reason"}),
		StoreErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "palier_receiver_store_errors_total", Help: "Store transactions that failed (the messages are redelivered).",
		}),
		CommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "palier_receiver_store_commit_seconds", Help: "Time to store one fetched batch of messages.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		AcksPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "palier_receiver_acks_published_total", Help: "End-to-end acks published to devices (new and re-sent).",
		}),
		StateMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palier_receiver_state_messages_total", Help: "State and status messages, by kind and result.",
		}, []string{"kind", "result"}),
		NoticesPublish: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palier_receiver_notice_sets_published_total", Help: "Notice sets published over MQTT, by result.",
		}, []string{"result"}),
		AlarmAcksPublish: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palier_receiver_alarm_acks_published_total", Help: "Operators' alarm acknowledgements published to cabins over MQTT, by result.",
		}, []string{"result"}),
		EventsUnknownType: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "palier_receiver_events_unknown_type_total", Help: "Events of a type this receiver does not know (a newer agent's), stored as they came.",
		}),
		LostAccounted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palier_receiver_lost_sequences_total", Help: "Sequences accounted for as lost, by reason: evicted or missing as agents report them (a report delivered twice counts twice), refused by the store.",
		}, []string{"reason"}),
		ClientIDTakeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "palier_receiver_client_id_takeovers_total", Help: "MQTT connections disconnected by the embedded server for holding a cabin's client id under another user (see the log for who).",
		}),
		EventsConflicting: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "palier_receiver_events_conflicting_total", Help: "Events received under the key of a stored event with other content: the stored one kept, a copy of the other in the dead-letter stream.",
		}),
		AlertPosts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palier_receiver_alertmanager_posts_total", Help: "Posts of the cabins' alerts to Alertmanager, by result (ok, error).",
		}, []string{"result"}),
		ConsumerPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "palier_receiver_consumer_pending", Help: "Messages of a shared JetStream consumer not yet delivered to any receiver.",
		}, []string{"consumer"}),
		ConsumerAckPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "palier_receiver_consumer_ack_pending", Help: "Messages of a shared JetStream consumer delivered and not yet acknowledged.",
		}, []string{"consumer"}),
		LastCommit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "palier_receiver_last_commit_timestamp_seconds", Help: "When this receiver last committed a fetch of events (Unix time).",
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "palier_receiver_build_info", Help: "1, labelled with the receiver's version.",
		}, []string{"version"}),
		Cabins: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "palier_receiver_cabins", Help: "Cabins known to the store.",
		}),
		CabinsIn: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "palier_receiver_cabins_in_situation", Help: "Cabins in each situation (entrapment, alarm, out_of_service, offline, ...), derived every 15 s.",
		}, []string{"situation"}),
		HTTPConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "palier_receiver_http_connections", Help: "HTTP connections open now (at most http.max_connections).",
		}),
	}
	reg.MustRegister(m.collectors()...)
	m.BuildInfo.WithLabelValues(buildinfo.Version()).Set(1)
	return m
}

// collectors are every metric of m.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Messages, m.EventsStored, m.EventsDup, m.DeadLetters, m.StoreErrors,
		m.CommitSeconds, m.AcksPublished, m.StateMessages, m.NoticesPublish, m.AlarmAcksPublish, m.HTTPConns, m.EventsUnknownType,
		m.LostAccounted, m.ClientIDTakeovers, m.EventsConflicting, m.AlertPosts,
		m.ConsumerPending, m.ConsumerAckPending, m.LastCommit, m.BuildInfo, m.Cabins, m.CabinsIn}
}

// countConns counts the connections ln hands out in HTTPConns until each
// is closed. The count falls before the connection's slot is given back to
// a listener that bounds them (netutil.LimitListener, which ln wraps), so
// it never shows more than that bound: counted through the server's
// ConnState, a new connection could be counted before the old one's close.
func (m *Metrics) countConns(ln net.Listener) net.Listener { return &countingListener{ln, m.HTTPConns} }

type countingListener struct {
	net.Listener
	open prometheus.Gauge
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Inc()
	return &countedConn{Conn: c, open: l.open}, nil
}

type countedConn struct {
	net.Conn
	open prometheus.Gauge
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.open.Dec)
	return c.Conn.Close()
}
