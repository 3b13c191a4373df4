// Package token reads a cabin's credential, a NATS user JWT (see package
// devcred, which issues them): its public id, its cabin, its expiry. It is
// what the agent needs of credentials, without devcred's NATS client, so
// the agent's binary stays without one.
package token
