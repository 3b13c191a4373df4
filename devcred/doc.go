// Package devcred issues, rotates and revokes the cabins' credentials with
// NATS decentralized authentication: an operator trusts the PALIER
// account, the account signs one user JWT per cabin, and revocations live
// in the account JWT, which the device-facing leaf node's resolver holds.
//
// Concepts:
//   - Authority: the NKeys that sign (operator, system account, PALIER
//     account), kept in one 0600 file made by "receiver credentials init".
//     OperatorJWT, SystemJWT and AccountJWT are what the leaf node trusts
//     (RenderTrust writes them in nats-server syntax).
//   - Credential: one cabin's user JWT, a bearer token (MQTT clients cannot
//     sign the server's nonce, so nats-server accepts a user JWT as the
//     MQTT password only when it says bearer_token), limited to MQTT
//     connections and to exactly the subjects natsauth.Device allows, with
//     an expiry. Its public id is the user's public key.
//   - Revoke: adds the credentials' ids to the account JWT's revocations,
//     re-signs it and pushes it to the resolver over the system account
//     ($SYS.REQ.CLAIMS.UPDATE); nats-server then closes every connection
//     of a revoked user and refuses its next CONNECT.
//   - Rotate: issues new credentials, delivers them on the cabins'
//     credential topics (again to those that stay silent), and revokes the
//     previous credential of each cabin that reports credential_rotated.
//   - Manager: the leaf connections Rotate and Revoke need, as users it
//     signs afresh at each connection; the receiver's API and the
//     "receiver credentials" command use it.
//   - token (subpackage): the Credential type and Parse, all the agent
//     needs, without a NATS client.
//
// Why JWTs and not short-lived client certificates: docs/SECURITY.md,
// "Device credentials".
package devcred
