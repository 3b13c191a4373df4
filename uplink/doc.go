// Package uplink carries a cabin's outbox to the cloud over MQTT.
//
// It keeps one MQTT session to the broker, reconnecting with capped
// exponential backoff and full jitter so a fleet coming back after an outage
// spreads out. While connected it drains the outbox in batches: a PUBACK
// marks a batch sent (flow control only), and the receiver's cumulative
// end-to-end acknowledgement on the cabin's ack topic confirms it; what stays
// unconfirmed is sent again by the outbox's resend timer. It also keeps the
// retained state and status topics current (the last will says offline when
// the link dies) and receives the building's notices.
//
// Conn is the small interface both protocol adapters implement; the rest of
// the package does not know which protocol is in use:
//   - MQTT 3.1.1 on paho.mqtt.golang, for NATS's MQTT listener (production);
//   - MQTT 5 on paho.golang, for other brokers.
//
// Protocol auto tries the version remembered for the broker (MQTT 5 when
// nothing is known), falls back to the other one when the broker refuses the
// version (NATS answers an MQTT 5 CONNECT with a 3.1.1 CONNACK, return code
// 1), and remembers what worked, in memory and in Uplink.StateDir.
//
// An outbox entry that can never be sent (undecodable, too large) goes out as
// a "dropped" stand-in carrying its sequence, so acknowledgements can move
// past it; once the stand-in is confirmed the entry is quarantined.
//
// Connection failures become a *ConnectError whose Kind (ErrDNS, ErrRefused,
// ErrTLS, ErrAuth, ErrProtocol, ...) a caller can branch on and whose Hint
// tells an installer what to change. Probe runs one connection for checks.
package uplink
