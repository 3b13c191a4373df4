// Package agentconfig holds the rules of the agent's settings that can be
// set from a distance (the events thresholds, the poll interval, the
// controller profile, the outbox bound, the rate limit, the log level) and
// merges a desired configuration (wire.ConfigOverlay) over them. The agent
// checks its file with these rules and the receiver checks what an
// operator sets with the same ones, so a configuration the API accepts is
// refused by a cabin only for what depends on the cabin's own file.
package agentconfig
