// Package natsauth turns the fleet's list of devices into the NATS
// accounts block of the device-facing leaf node: one user per cabin whose
// permissions cover only that cabin's topics.
//
// Concepts:
//   - Fleet: the YAML list of devices (site, cabin, bcrypt password hash)
//     and of service users (the receiver, the leaf node's link to the
//     hub). Parse and ParseFile decode it strictly and validate it
//     (Fleet.Validate), reporting every problem at once in a
//     *ValidationError.
//   - Service: a trusted user with the whole account, limited to the
//     connection types it lists.
//   - Device: one cabin's user, named {site}-{cabin} unless set
//     (Device.UserName); MQTT connections only; may publish to its own
//     events, state and status subjects (Device.Publish), and subscribe to
//     its own ack and its site's notices, plus $MQTT.sub.> where
//     nats-server delivers QoS 1 subscriptions (Device.Subscribe).
//   - Render: writes the accounts block (nats-server configuration syntax)
//     that packaging/nats/leaf.conf includes; RenderFile replaces a file
//     with it atomically, for a server that may reload at any time.
//
// Passwords never appear in clear: the fleet file holds bcrypt hashes,
// which nats-server checks directly; Hash makes one. The "receiver users"
// command (cmd/receiver) is the installers' way in.
package natsauth
