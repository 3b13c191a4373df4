// Package e2e holds the end-to-end test of the whole chain: the simulated
// controller on a pseudo-terminal, the agent reading it over Modbus RTU, the
// embedded NATS server taking MQTT, and the receiver storing the events.
// It has no code of its own; see chain_test.go.
package e2e
