package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

// Who may call what. A caller is a token (machines) or an account with a
// login session (people); either has a role and may be limited to sites.
// Every guarded route goes through guard, which alone checks the role,
// the CSRF header of a cookie session and the {site} of the path; a route
// without {site} is refused to a caller limited to sites unless its
// handler filters what it lists by inScope (filtersBySite says which).

// Token is a bearer token's grant.
type Token struct {
	Name  string // for logs and the audit trail
	Role  Role
	Sites []string // empty: every site
}

// Roles by name, as config files and accounts spell them.
var roleNames = map[string]Role{"read": RoleRead, "operator": RoleOperator, "manager": RoleManager, "admin": RoleAdmin}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, bool) {
	r, ok := roleNames[s]
	return r, ok
}

func (r Role) String() string {
	for n, v := range roleNames {
		if v == r {
			return n
		}
	}
	return "none"
}

// perm is what a route needs.
type perm int

const (
	permRead    perm = iota + 1 // every role
	permOperate                 // operator, admin: acknowledgements, closing alarms
	permNotices                 // manager, admin: notices and site media
	permAudit                   // manager, admin: a site's audit trail
	permAdmin                   // admin only
	permSelf                    // anyone authenticated: their own session
)

func (p perm) String() string {
	return [...]string{"", "any role", "the operator or admin role", "the manager or admin role", "the manager or admin role", "the admin role", "a login"}[p]
}

// allows says whether role r may use a route that needs p.
func (r Role) allows(p perm) bool {
	switch p {
	case permRead, permSelf:
		return r != RoleNone
	case permOperate:
		return r == RoleOperator || r == RoleAdmin
	case permNotices, permAudit:
		return r == RoleManager || r == RoleAdmin
	case permAdmin:
		return r == RoleAdmin
	}
	return false
}

// permOf is what the routes registered with a Role need: the roles of
// old were ordered (read < operator < admin).
func permOf(r Role) perm {
	switch r {
	case RoleRead:
		return permRead
	case RoleOperator:
		return permOperate
	case RoleManager:
		return permNotices
	}
	return permAdmin
}

// Principal is the caller of a request.
type Principal struct {
	Kind  string // "token", "account" or "anonymous" (no access control)
	Name  string
	Role  Role
	Sites []string // empty: every site
	// session is the cookie's value when the caller logged in; "" for a token.
	session string
}

// Actor names the caller in the audit trail.
func (p Principal) Actor() string {
	if p.Kind == "anonymous" {
		return "anonymous"
	}
	return p.Kind + ":" + p.Name
}

// HasSite says whether the caller may see site.
func (p Principal) HasSite(site string) bool {
	return len(p.Sites) == 0 || slices.Contains(p.Sites, site)
}

func (p Principal) describe() string {
	s := p.Kind + " " + p.Name + " (" + p.Role.String()
	if len(p.Sites) > 0 {
		s += " of " + strings.Join(p.Sites, ", ")
	}
	return s + ")"
}

type principalKey struct{}

// principal returns the caller guard let through.
func principal(r *http.Request) Principal {
	if p, ok := r.Context().Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Kind: "anonymous", Role: RoleAdmin}
}

// inScope says whether the caller of r may see site: list endpoints drop
// what it may not.
func inScope(r *http.Request, site string) bool { return principal(r).HasSite(site) }

// filtersBySite says whether the handler of a route without {site} lists
// only what inScope allows, so that a caller limited to sites may call it.
func filtersBySite(pattern string) bool {
	switch pattern {
	case "GET /api/v1/cabins":
		return true
	}
	return false
}

// open says whether the API runs without access control: no token and no
// accounts (then it listens on loopback only).
func (a *API) open() bool { return len(a.tokens) == 0 && !a.o.Accounts }

// CSRFHeader carries a login session's CSRF token on every state change.
const CSRFHeader = "X-CSRF-Token"

// auth guards a route with the Role it needs, as routes were first written.
func (a *API) auth(need Role, h http.Handler) http.Handler { return a.guard(permOf(need), h) }

// guarded is a handler behind guard; routeMux tells it from a public one.
type guarded struct {
	need perm
	h    http.Handler
	a    *API
}

func (a *API) guard(need perm, h http.Handler) http.Handler { return &guarded{need: need, h: h, a: a} }

func (g *guarded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := g.a
	if a.open() {
		g.h.ServeHTTP(w, r)
		return
	}
	p, ok := a.authenticate(w, r)
	if !ok {
		return
	}
	if !p.Role.allows(g.need) {
		writeError(w, http.StatusForbidden, "Authorization", "%s may not %s %s: it needs %s", p.describe(), r.Method, r.URL.Path, g.need)
		return
	}
	if p.session != "" && !safeMethod(r.Method) {
		got := r.Header.Get(CSRFHeader)
		if got == "" {
			writeError(w, http.StatusForbidden, CSRFHeader, "missing: a change made with a login session needs the %s header (its value comes from POST /api/v1/login or GET /api/v1/session)", CSRFHeader)
			return
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(p.session))) != 1 {
			writeError(w, http.StatusForbidden, CSRFHeader, "does not match this session (take it from GET /api/v1/session)")
			return
		}
	}
	if strings.Contains(r.Pattern, "{site}") {
		if site := r.PathValue("site"); !p.HasSite(site) {
			writeError(w, http.StatusForbidden, "site", "%s may not use site %q (its sites: %s)", p.describe(), site, strings.Join(p.Sites, ", "))
			return
		}
	} else if len(p.Sites) > 0 && g.need != permSelf && !filtersBySite(r.Pattern) {
		writeError(w, http.StatusForbidden, "Authorization", "%s is limited to sites; %s %s spans every site", p.describe(), r.Method, r.URL.Path)
		return
	}
	g.h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate finds the caller: a bearer token, else a session cookie. It
// answers 401 itself.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="palier"`)
			writeError(w, http.StatusUnauthorized, "Authorization", "not a bearer token (send Authorization: Bearer TOKEN)")
			return Principal{}, false
		}
		var found *Token
		for t, g := range a.tokens { // compare with every token, in constant time each
			if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
				found = &g
			}
		}
		if found == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="palier", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "Authorization", "unknown bearer token")
			return Principal{}, false
		}
		return Principal{Kind: "token", Name: found.Name, Role: found.Role, Sites: found.Sites}, true
	}
	if sid := sessionCookie(r); sid != "" && a.accounts() != nil {
		p, why := a.sessionPrincipal(r.Context(), sid)
		if why == "" {
			return p, true
		}
		http.SetCookie(w, a.clearCookie(r))
		writeError(w, http.StatusUnauthorized, "Cookie", "%s (log in again at /login)", why)
		return Principal{}, false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="palier"`)
	writeError(w, http.StatusUnauthorized, "Authorization", "missing bearer token (send Authorization: Bearer TOKEN, or log in at /login)")
	return Principal{}, false
}

// sessionPrincipal checks a session id and returns its account, or why it
// is refused.
func (a *API) sessionPrincipal(ctx context.Context, sid string) (Principal, string) {
	acc := a.accounts()
	h := hashSession(sid)
	s, err := acc.Session(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, "session unknown or ended"
	}
	if err != nil {
		a.o.Logger.Error("read session", "err", err)
		return Principal{}, "sessions cannot be read now (see the receiver's log)"
	}
	now := a.o.Clock()
	switch {
	case now.Sub(s.LastSeen) >= a.o.SessionIdle:
		acc.DeleteSession(ctx, h)
		return Principal{}, fmt.Sprintf("session idle for more than %s", a.o.SessionIdle)
	case now.Sub(s.Created) >= a.o.SessionMax:
		acc.DeleteSession(ctx, h)
		return Principal{}, fmt.Sprintf("session older than %s", a.o.SessionMax)
	}
	account, err := acc.Account(ctx, s.Account)
	if err != nil {
		return Principal{}, "the session's account is gone"
	}
	role, _ := ParseRole(account.Role)
	// A write per request would be a write per page view; a minute's
	// precision is plenty for an idle limit of many minutes.
	if now.Sub(s.LastSeen) > time.Minute {
		if err := acc.TouchSession(ctx, h, now); err != nil {
			a.o.Logger.Warn("touch session", "err", err)
		}
	}
	return Principal{Kind: "account", Name: account.Name, Role: role, Sites: account.Sites, session: sid}, ""
}

// hashSession is what the store keeps of a session id: a leaked table
// gives no usable cookie.
func hashSession(sid string) string {
	sum := sha256.Sum256([]byte(sid))
	return hex.EncodeToString(sum[:])
}

// csrfToken is derived from the session id, so it needs no storage and
// ends with the session; only who holds the cookie can compute it, and a
// page of another site cannot read the cookie.
func csrfToken(sid string) string {
	sum := sha256.Sum256([]byte("palier-csrf\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Session cookies: __Host- is a name browsers keep only from a secure
// origin, for the whole host and no subdomain.
const (
	cookieSecure = "__Host-palier_session"
	cookiePlain  = "palier_session"
)

func sessionCookie(r *http.Request) string {
	for _, n := range []string{cookieSecure, cookiePlain} {
		if c, err := r.Cookie(n); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// secureCookies says whether cookies get Secure: public_url is https or
// the request came over TLS.
func (a *API) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(a.o.PublicURL), "https://")
}

func (a *API) newCookie(r *http.Request, sid string) *http.Cookie {
	c := &http.Cookie{Name: cookiePlain, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(a.o.SessionMax / time.Second)}
	if a.secureCookies(r) {
		c.Name, c.Secure = cookieSecure, true
	}
	return c
}

func (a *API) clearCookie(r *http.Request) *http.Cookie {
	c := a.newCookie(r, "")
	c.MaxAge = -1
	return c
}

// accounts is the store's accounts, or nil when accounts are off.
func (a *API) accounts() store.Accounts {
	if !a.o.Accounts {
		return nil
	}
	acc, _ := a.o.Store.(store.Accounts)
	return acc
}
