// Package schematest checks the machine-readable event schema, the JSON
// Schema (draft 2020-12) files in docs/schema/, against the two other
// statements of the same contract, so that none of the three drifts:
//
//   - every fenced json example in docs/EVENTS.md validates against the
//     schema of its message (and the Go decoder accepts it);
//   - what the Go code writes validates: a batch with an event of every type
//     package wire knows, an acknowledgement, state snapshots and a notice
//     set, each built from the wire types and encoded as the agent or the
//     receiver encodes it;
//   - the event types of the schema are exactly those of package wire, and
//     each object's properties and required fields are the JSON fields of
//     its Go type (a field without omitempty is required);
//   - the schema refuses what it must (an unknown field in a known type's
//     data, a missing field, another version, a bad id) and lets through an
//     event of a type it does not know, as a receiver of an older version
//     stores it.
//
// The schema is what integrators and other implementations read; the tests
// make sure it says what the Go code does. They read the schema files from
// disk and use no network. The package has no code of its own.
package schematest
