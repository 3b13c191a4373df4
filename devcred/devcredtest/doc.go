// Package devcredtest runs the shipped operator-mode leaf node
// configuration (packaging/nats/leaf-jwt.conf) in-process for tests: a
// real nats-server with its MQTT listener, trusting a fresh
// devcred.Authority, its resolver ready for pushed revocations.
package devcredtest
