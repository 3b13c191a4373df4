// Package httpapi is the receiver's HTTP interface: the fleet and event
// queries of the backend, notice editing, media upload and download, health,
// Prometheus metrics and the operators' page (dashboard.html, with the
// uPlot it loads embedded under static/). docs/API.md documents it.
//
// Concepts:
//   - Callers (auth.go): a bearer token (machines) or an account's login
//     session (people, accounts.go, login.html), each with a role (read,
//     operator, manager, admin) and optional sites. One guard checks the
//     role, a session's CSRF header and the path's {site} for every route;
//     list endpoints spanning sites filter by inScope. Logins are hashed
//     with argon2id (auth_password.go) and throttled (auth_throttle.go).
//     With no tokens and no accounts every request is allowed, which is
//     why the receiver then listens on loopback only.
//   - Audit (audit.go): who changed which notice, alarm, configuration,
//     wave or account, and who logged in, per site.
//   - Monthly reports (reports.go): the JSON computed on request; PDFs
//     only served from the directory the report job renders into, never
//     rendered here.
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
