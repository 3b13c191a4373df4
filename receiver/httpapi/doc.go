// Package httpapi is the receiver's HTTP interface: the fleet and event
// queries of the backend, notice editing, media upload and download, health,
// Prometheus metrics and the operators' page (dashboard.html, with the
// uPlot it loads embedded under static/). docs/API.md documents it.
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
//   - Guards, on every request: nosniff and a CSP that runs nothing (the
//     dashboard's allows its own script and style by hash, and its own
//     origin's static files); state changes
//     need a same-host Origin and a JSON body; without tokens, a Host that
//     is not a loopback name or the public URL's host is refused (DNS
//     rebinding); each request's read and write deadlines come from
//     Options.RequestTimeout. Uploads must be what they declare
//     (media.CheckType); downloads take their type from their content.
package httpapi
