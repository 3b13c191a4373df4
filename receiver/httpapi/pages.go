package httpapi

import (
	_ "embed"
	"net/http"
	"net/url"
	"strings"
)

// The pages people open in a browser: the login, the operators' dashboard
// (/) and the managers' report page (/reports). Each is one embedded file
// under a CSP that allows its own inline script and style by hash. A page
// that needs a login sends a browser without a session to /login, which
// sends it back once logged in (?next=), and sends a person who is
// logged in already to where their role works.

//go:embed reports.html
var reportsPage []byte

// landing is where a role works: managers write notices, the others
// watch the fleet.
func landing(r Role) string {
	if r == RoleManager {
		return "/notices"
	}
	return "/"
}

// safeNext returns next if it is a path of this receiver to go to after
// the login, else "". Only a relative path from the root passes: never a
// scheme or a host ("//evil.example", "/\evil.example" and "/\t/evil" all
// lead a browser to another host), nor /login itself.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 512 {
		return ""
	}
	for _, c := range next {
		// A browser drops tabs and newlines from a URL and reads "\" as
		// "/": either could turn the path into "//host".
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	if strings.HasPrefix(next, "//") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	if u.Path == "/login" || strings.HasPrefix(u.Path, "/login/") {
		return ""
	}
	return next
}

// pageSession returns the caller of a page by its session cookie; ok is
// false when there is none or it is no longer valid (the cookie is then
// cleared).
func (a *API) pageSession(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	sid := sessionCookie(r)
	if sid == "" || a.accounts() == nil {
		return Principal{}, false
	}
	p, why := a.sessionPrincipal(r.Context(), sid)
	if why != "" {
		http.SetCookie(w, a.clearCookie(r))
		return Principal{}, false
	}
	return p, true
}

// servePage writes an embedded page under its CSP.
func servePage(w http.ResponseWriter, page []byte, csp string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

// loginHandler serves the login page, or sends a person already logged in
// on to next or to where their role works.
func (a *API) loginHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p, ok := a.pageSession(w, r); ok {
			to := safeNext(r.URL.Query().Get("next"))
			if to == "" {
				to = landing(p.Role)
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		servePage(w, loginPage, a.loginCSP)
	}
}

// reportsHandler serves the managers' report page: a login is needed
// when the receiver has accounts (the page's data comes from the API
// under the session), none when it runs open on loopback.
func (a *API) reportsHandler() http.HandlerFunc {
	csp := dashboardCSP(reportsPage)
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.open() {
			if _, ok := a.pageSession(w, r); !ok {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
		}
		servePage(w, reportsPage, csp)
	}
}
