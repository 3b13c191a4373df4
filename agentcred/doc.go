// Package agentcred is the cabin's side of credential rotation: it keeps
// the cabin's credential (a bearer user JWT, see package devcred) in a
// 0600 file, takes a new one delivered on the cabin's credential topic,
// switches the uplink to it, and reports credential_rotated once a session
// is up with it, naming the new credential's public id. The receiver then
// revokes the previous one.
//
// A new credential that brings no session up within Options.Grace is put
// aside (staged): the previous one (or the password) comes back, file and
// uplink; it stays valid, since the receiver revokes it only on the
// report. When the uplink then has no session for a whole grace period,
// the staged one is tried again: that is how a fleet moves from passwords
// to credentials without a site visit. A credential given as the password
// by agent provision is adopted once (re-provisioning). The same
// credential delivered again is reported again, which repairs a report
// lost with an outbox that was reset.
package agentcred
