// Package httpapi is the receiver's HTTP interface: the fleet and event
// queries of the backend, notice editing, media upload and download, health,
// Prometheus metrics and a small dashboard. docs/API.md documents it.
//
// Concepts:
//   - Roles: a bearer token is read (GET only) or admin (everything). With
//     no tokens configured every request is allowed, which is why the
//     receiver then listens on loopback only.
//   - APIError: every failure is JSON {"error", "param"} naming the bad
//     parameter when there is one.
//   - Notice changes: each one rewrites the site's whole notice set with
//     version+1 (optimistic concurrency in the store) and publishes it,
//     retained, through a NoticePublisher.
package httpapi
