// Package natsauth turns the fleet's list of devices into the NATS
// accounts block of the device-facing leaf node: one user per cabin whose
// permissions cover only that cabin's topics.
//
// Concepts:
//   - Fleet: the YAML list of devices (site, cabin, bcrypt password hash)
//     and of service users (the receiver, the leaf node's link to the
//     hub), decoded strictly and validated all at once.
//   - Device user: named {site}-{cabin} unless set; MQTT connections only;
//     may publish to its own events, state and status subjects, and
//     subscribe to its own ack and its site's notices, plus $MQTT.sub.>
//     where nats-server delivers QoS 1 subscriptions.
//   - Render: writes the accounts block (nats-server configuration syntax)
//     that packaging/nats/leaf.conf includes.
//
// Passwords never appear in clear: the fleet file holds bcrypt hashes,
// which nats-server checks directly; Hash makes one.
package natsauth
