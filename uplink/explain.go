package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// ErrConnectionLost is wrapped by operations interrupted by a dropped session.
var ErrConnectionLost = errors.New("connection lost")

// Kinds of connection failure an installer can cause and fix.
var (
	ErrDNS         = errors.New("broker host name does not resolve")
	ErrRefused     = errors.New("broker refused the TCP connection")
	ErrTimeout     = errors.New("broker did not answer in time")
	ErrTLS         = errors.New("TLS handshake failed")
	ErrAuth        = errors.New("broker refused the credentials")
	ErrProtocol    = errors.New("broker refused the MQTT protocol version")
	ErrClientID    = errors.New("broker refused the client id")
	ErrUnavailable = errors.New("broker is unavailable")
)

// ConnectError is a failed connection attempt, with its kind and a hint.
type ConnectError struct {
	Broker   string
	Protocol string
	Kind     error  // one of the Err* kinds above, or nil when unknown
	Hint     string // what to check
	Err      error  // the underlying error
}

func (e *ConnectError) Error() string {
	msg := fmt.Sprintf("connect to %s (MQTT %s)", e.Broker, e.Protocol)
	if e.Kind != nil {
		msg += ": " + e.Kind.Error()
	}
	msg += ": " + e.Err.Error()
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *ConnectError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// explainConnect classifies a connection failure into what an installer
// can act on.
func explainConnect(broker, protocol string, err error) error {
	ce := &ConnectError{Broker: broker, Protocol: protocol, Err: err}
	var dnsErr *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		ce.Kind, ce.Hint = ErrDNS, "check the broker host name and the device's DNS settings"
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Kind, ce.Hint = ErrRefused, "check the broker port and that the broker's MQTT listener is running"
	case errors.As(err, &unknownAuthority):
		ce.Kind, ce.Hint = ErrTLS, "the broker's certificate is not signed by the configured CA file: check tls.ca_file"
	case errors.As(err, &hostnameErr):
		ce.Kind, ce.Hint = ErrTLS, fmt.Sprintf("the broker's certificate is not valid for %q: check the broker host name", hostnameErr.Host)
	case errors.As(err, &certInvalid):
		ce.Kind, ce.Hint = ErrTLS, "the broker's certificate is invalid ("+certInvalid.Error()+"): check the device clock and the certificate dates"
	case errors.As(err, &recordErr):
		ce.Kind, ce.Hint = ErrTLS, "the broker does not speak TLS on this port: use tcp:// or the TLS port"
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		ce.Kind, ce.Hint = ErrAuth, "check the username and the password file"
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		ce.Kind = ErrProtocol
		if protocol == "5" {
			ce.Hint = "NATS speaks MQTT 3.1.1 only: set uplink.protocol to 3.1.1 or auto"
		} else {
			ce.Hint = "set uplink.protocol to 5 or auto"
		}
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		ce.Kind, ce.Hint = ErrClientID, "another device may use the same site and cabin ids"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		ce.Kind, ce.Hint = ErrUnavailable, "the broker is up but cannot serve MQTT yet (JetStream not ready?)"
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		ce.Kind, ce.Hint = ErrTimeout, "check the network path to the broker and any firewall"
	case errors.Is(err, io.EOF) && protocol == "5":
		// NATS answers an MQTT 5 CONNECT with return code 1 and closes,
		// which an MQTT 5 client sees as a bare EOF.
		ce.Kind, ce.Hint = ErrProtocol, "the broker closed the connection on an MQTT 5 CONNECT; NATS speaks 3.1.1 only: set uplink.protocol to 3.1.1 or auto"
	}
	return ce
}

// connectTimeout is how long a connect may take: what is left of ctx, or 10 s.
func connectTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
	}
	return 10 * time.Second
}
