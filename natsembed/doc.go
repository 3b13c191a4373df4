// Package natsembed runs a nats-server inside the process, configured the way
// Palier ships it: JetStream with file storage synced on every write, and the
// MQTT listener the cabins connect to.
//
// The receiver embeds it by default so that one machine needs nothing else,
// and the tests use it as the real broker. Production runs a NATS cluster
// instead (packaging/ holds its configurations).
package natsembed
