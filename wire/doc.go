// Package wire is the versioned JSON schema of everything that travels between
// the agent and the cloud: event batches, end-to-end acknowledgements, cabin
// state snapshots and building notices.
//
// Every message carries "v", the schema version. Decoders reject an unknown
// version and name the field that is wrong, so that a bad message is refused
// with a reason instead of being half understood. A message, and an event's
// data, must be UTF-8 throughout: what is accepted can be stored as text. docs/EVENTS.md documents the
// schema with example payloads.
package wire
