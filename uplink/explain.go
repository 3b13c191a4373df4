package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
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

// ConnackError is a CONNACK that refused the session: the broker's own answer.
type ConnackError struct {
	Code   byte   // the return code (3.1.1) or reason code (5)
	V311   bool   // the answer was a 3.1.1 CONNACK to an MQTT 5 CONNECT
	Reason string // the MQTT 5 reason string, if any
	Err    error  // what the client library said
}

func (e *ConnackError) Error() string {
	kind := "MQTT 5 CONNACK reason code"
	if e.V311 {
		kind = "MQTT 3.1.1 CONNACK return code"
	}
	msg := fmt.Sprintf("broker answered %s 0x%02x (%s)", kind, e.Code, connackText(e.Code, e.V311))
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func (e *ConnackError) Unwrap() error { return e.Err }

// connackText names a CONNACK code.
func connackText(code byte, v311 bool) string {
	if v311 {
		switch code {
		case 1:
			return "unacceptable protocol version"
		case 2:
			return "identifier rejected"
		case 3:
			return "server unavailable"
		case 4:
			return "bad user name or password"
		case 5:
			return "not authorized"
		}
		return "unknown"
	}
	switch code {
	case 0x80:
		return "unspecified error"
	case 0x81:
		return "malformed packet"
	case 0x82:
		return "protocol error"
	case 0x84:
		return "unsupported protocol version"
	case 0x85:
		return "client identifier not valid"
	case 0x86:
		return "bad user name or password"
	case 0x87:
		return "not authorized"
	case 0x88:
		return "server unavailable"
	case 0x89:
		return "server busy"
	case 0x8A:
		return "banned"
	case 0x8C:
		return "bad authentication method"
	case 0x95:
		return "packet too large"
	case 0x9F:
		return "connection rate exceeded"
	}
	return "unknown"
}

// clientCertError is a session that failed after the broker asked for a
// client certificate.
type clientCertError struct {
	sent bool // whether the device sent one
	err  error
}

func (e *clientCertError) Error() string { return e.err.Error() }
func (e *clientCertError) Unwrap() error { return e.err }

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
	var connack *ConnackError
	var verifyErr *tls.CertificateVerificationError
	certDesc := ""
	if errors.As(err, &verifyErr) && len(verifyErr.UnverifiedCertificates) > 0 {
		c := verifyErr.UnverifiedCertificates[0]
		certDesc = fmt.Sprintf("the broker's certificate (subject %q, issuer %q, valid %s to %s)", c.Subject.String(), c.Issuer.String(),
			c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
	} else {
		certDesc = "the broker's certificate"
	}
	var certErr *clientCertError
	switch {
	case errors.As(err, &certErr) && !certErr.sent:
		ce.Kind, ce.Hint = ErrTLS, "the broker requires a client certificate and none is configured: set tls.cert_file and tls.key_file"
	case errors.As(err, &certErr):
		ce.Kind, ce.Hint = ErrTLS, "the broker asked for a client certificate and closed the session: check that tls.cert_file is signed by a CA the broker trusts and not expired"
	case errors.As(err, &connack) && connack.V311 && connack.Code == 1:
		ce.Kind = ErrProtocol
		ce.Hint = "the broker speaks MQTT 3.1.1 only (NATS does): set uplink.protocol to 3.1.1 or auto"
	case errors.As(err, &connack) && !connack.V311:
		switch connack.Code {
		case 0x84:
			ce.Kind, ce.Hint = ErrProtocol, "set uplink.protocol to 3.1.1 or auto"
		case 0x86, 0x87, 0x8C:
			ce.Kind, ce.Hint = ErrAuth, "check uplink.username and the password file, and the device's rights on the broker"
		case 0x8A:
			ce.Kind, ce.Hint = ErrAuth, "the broker has banned this client: ask the broker's operator"
		case 0x85:
			ce.Kind, ce.Hint = ErrClientID, "another device may use the same site and cabin ids"
		case 0x88, 0x89, 0x9F:
			ce.Kind, ce.Hint = ErrUnavailable, "the broker is up but refuses sessions for now; the uplink will retry"
		}
	case errors.As(err, &connack) && connack.V311:
		switch connack.Code {
		case 4, 5:
			ce.Kind, ce.Hint = ErrAuth, "check uplink.username and the password file"
		case 2:
			ce.Kind, ce.Hint = ErrClientID, "another device may use the same site and cabin ids"
		case 3:
			ce.Kind, ce.Hint = ErrUnavailable, "the broker is up but cannot serve MQTT yet"
		}
	case errors.As(err, &dnsErr):
		ce.Kind, ce.Hint = ErrDNS, "check the broker host name and the device's DNS settings"
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Kind, ce.Hint = ErrRefused, "check the broker port and that the broker's MQTT listener is running"
	case errors.As(err, &unknownAuthority):
		ce.Kind, ce.Hint = ErrTLS, certDesc+" is not signed by a CA the device trusts: set tls.ca_file to the CA that signed it"
	case errors.As(err, &hostnameErr):
		ce.Kind, ce.Hint = ErrTLS, fmt.Sprintf("%s is not valid for the host name %q: check the broker URL or set tls.server_name", certDesc, hostnameErr.Host)
	case errors.As(err, &certInvalid):
		ce.Kind, ce.Hint = ErrTLS, certDesc+" is invalid ("+certInvalid.Error()+"): check the device clock and the certificate dates"
	case errors.As(err, &recordErr):
		ce.Kind, ce.Hint = ErrTLS, "the broker does not speak TLS on this port: use tcp:// or the TLS port"
	case isTLSAlert(err):
		ce.Kind, ce.Hint = ErrTLS, "the broker refused the TLS session ("+err.Error()+"): if it requires a client certificate, check tls.cert_file and tls.key_file"
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
	case (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && protocol == Protocol5:
		// NATS answers an MQTT 5 CONNECT with return code 1 and closes,
		// which an MQTT 5 client sees as a bare EOF.
		ce.Kind, ce.Hint = ErrProtocol, "the broker closed the connection on an MQTT 5 CONNECT; NATS speaks 3.1.1 only: set uplink.protocol to 3.1.1 or auto"
	}
	return ce
}

// isTLSAlert reports a TLS alert sent by the broker (a refused client
// certificate shows up as one, often only when the CONNACK is read).
func isTLSAlert(err error) bool {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return true
	}
	return strings.Contains(err.Error(), "remote error: tls:")
}

// connectTimeout is how long a connect may take: what is left of ctx, or
// 30 s (paho's own default). A broker that took the TCP connection but is
// slow to answer is usually busy: a leaf node restarted under 2,000 cabins
// loads each one's session from JetStream, and cabins that gave up after
// 10 s came back at once, each time as a new connection behind the old
// one ("other session with client ID ... is in the process of
// connecting"), and kept it busy for longer (scripts/fleet.sh,
// BENCHMARKS "Fleet through a hub and a leaf node").
func connectTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
	}
	return 30 * time.Second
}
