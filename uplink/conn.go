package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"time"
)

// Conn is one established MQTT session, whatever the protocol version.
type Conn interface {
	// Publish sends a message; for QoS 1 it returns once the broker's PUBACK
	// has arrived.
	Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error
	// Subscribe registers h for messages on topic. h must not block.
	Subscribe(ctx context.Context, topic string, qos byte, h func(topic string, payload []byte)) error
	// Lost is closed when the session drops.
	Lost() <-chan struct{}
	// Err says why the session dropped, once Lost is closed.
	Err() error
	// Close disconnects cleanly. The broker does not publish the will.
	Close()
	// Protocol is "3.1.1" or "5".
	Protocol() string
}

// DialOptions are what an adapter needs to open a session.
type DialOptions struct {
	Broker      string // tcp://host:port, ssl://host:port or mqtts://host:port
	ClientID    string
	Username    string
	Password    string
	TLS         *tls.Config // nil for plain TCP
	KeepAlive   time.Duration
	WillTopic   string
	WillPayload []byte
}

// errClosed is the Err of a session closed by the uplink itself.
var errClosed = errors.New("closed by the uplink")
