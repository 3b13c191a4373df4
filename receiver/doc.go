// Package receiver is the cloud side of Palier: it takes the event batches
// the agents publish, stores every event once, tells each device what is
// stored, keeps the fleet view current and serves it over HTTP.
//
// Concepts:
//   - Config: the YAML file of cmd/receiver, decoded strictly (an unknown key
//     is an error) and validated all at once.
//   - Streams: PALIER_EVENTS captures palier.v1.*.*.events in JetStream
//     (file storage, limited by age and bytes); PALIER_DEADLETTER keeps the
//     batches that could not be stored, with the reason in a header.
//   - Ingester: reads PALIER_EVENTS through one durable pull consumer, so
//     several receivers share the work; it acknowledges a JetStream message
//     only after the store committed its events, then publishes the
//     cumulative end-to-end Ack to each device. A batch that does not decode,
//     or whose content the store refuses (store.ErrRefused: the fetch's
//     batches are then stored one by one), is dead-lettered alone; a copy
//     that would not fit the payload limit is cut, with the original's size
//     and SHA-256 in Palier-Truncated.
//   - StateWatcher: keeps the cabins table current from the retained state
//     snapshots and online/offline status messages.
//   - MQTTNotices: publishes a site's whole notice set, retained, over MQTT
//     (a NATS publisher's message is never retained for MQTT clients), at
//     each change and again every 10 minutes to repair a failed publish.
//
// Run wires these together: an embedded NATS server by default (or an
// external cluster), the store (store/sqlite by default, store/postgres in
// production), the HTTP API (package httpapi) and media (package media: a
// directory by default, an S3-compatible bucket shared by every receiver
// with media.s3).
// The receiver alone stops the embedded server, last. Beyond loopback the
// embedded server needs the fleet's users (nats.embedded.fleet); the
// receiver then connects with a user of its own made at start.
package receiver
