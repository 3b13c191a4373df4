// Package uplink carries a cabin's outbox to the cloud over MQTT.
//
// It keeps one MQTT session to the broker (NATS's MQTT listener speaks 3.1.1;
// other brokers may speak 5), reconnecting with capped exponential backoff
// and full jitter so a fleet coming back after an outage spreads out. While
// connected it drains the outbox in batches: a PUBACK marks a batch sent, and
// the receiver's cumulative end-to-end acknowledgement on the cabin's ack
// topic confirms it. It also keeps the retained state and status topics
// current and receives the building's notices.
//
// Conn is the small interface both protocol adapters implement; the rest of
// the package does not know which protocol is in use.
package uplink
