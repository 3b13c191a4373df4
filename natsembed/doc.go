// Package natsembed runs a nats-server inside the process, configured the way
// Palier ships it: JetStream with file storage synced on every write, and the
// MQTT listener the cabins connect to.
//
// The receiver embeds it by default so that one machine needs nothing else,
// and the tests use it as the real broker. Production runs a NATS cluster
// instead (packaging/ holds its configurations).
//
// Start takes a Config (port -1: a free port, which tests use) and returns a
// running Server; ClientURL and MQTTAddr give the addresses it bound. The
// server runs until its owner calls Shutdown: it does not watch a context,
// so that its owner can finish its last work over NATS before it goes.
//
// With Config.Users, only those users connect (nobody anonymously), each
// within its publish and subscribe permissions and connection types: the
// receiver gives it the fleet's devices as the leaf node has them.
package natsembed
