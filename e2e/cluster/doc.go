// Package cluster tests the cloud side as the seed fleet runs it: a hub of
// three clustered nats-servers (the events stream replicated on all three),
// a leaf node with the MQTT listener, two receivers sharing the durable
// consumer and PostgreSQL, and cabins that are the agent's real outbox and
// uplink. Faults are played while events flow: the stream leader's node
// dies and comes back, a receiver dies, the leaf restarts. Every sequence
// must end stored exactly once and confirmed.
//
// The short form runs in scripts/test.sh; the long form:
//
//	go test ./e2e/cluster -run TestFaultsAtClusterScale -v -timeout 30m -cluster.duration=10m -cluster.cabins=200
package cluster
