package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// apiCSP is the policy of every response but the dashboard: nothing loads,
// nothing runs, nothing frames it (a JSON body or a media file opened in a
// browser stays inert even if it holds markup).
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"

// dashboardCSP allows the dashboard's own inline script and style, by
// hash, the scripts and styles of its own origin (the embedded uPlot under
// /static/; with nosniff, a JSON answer or an uploaded file never runs as
// a script) and requests to its own origin; nothing else.
func dashboardCSP(page []byte) string {
	hashes := func(tag string) string {
		re := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`)
		var out []string
		for _, m := range re.FindAllSubmatch(page, -1) {
			sum := sha256.Sum256(m[1])
			out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		}
		return strings.Join(out, " ")
	}
	return "default-src 'none'; script-src " + hashes("script") + " 'self'; style-src " + hashes("style") + " 'self'" +
		"; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

// secure sets the headers every response carries.
func secure(h http.Header, csp string) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// crossSite refuses what a page of another origin could make a browser
// send: a state change whose Origin is not this host, a body a form or a
// "simple" request could carry (anything but JSON, or the declared media
// type on uploads) and, when no token guards the API, any request under a
// Host name that is not this receiver's (DNS rebinding). It returns the
// parameter at fault and why, or "" if the request may go on.
func (a *API) crossSite(r *http.Request) (param, why string) {
	if a.open() && r.URL.Path != "/healthz" && !a.hostAllowed(r.Host) {
		return "Host", "\"" + r.Host + "\" is not a name of this receiver (allowed: loopback names and the host of public_url)"
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return "", ""
	}
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
		return "Origin", "\"" + o + "\" is another site: state changes come from this receiver's own pages or from API clients"
	}
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/json" && !(isUpload(r.URL.Path) && slices.Contains(mediaTypes, ct)) {
			return "Content-Type", "\"" + ct + "\": send application/json"
		}
	}
	return "", ""
}

// hostAllowed says whether a Host header names this receiver: a loopback
// name or address, or the host of PublicURL.
func (a *API) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	if u, err := url.Parse(a.o.PublicURL); err == nil && u.Hostname() != "" && strings.EqualFold(u.Hostname(), host) {
		return true
	}
	return false
}

// sameOrigin says whether an Origin header names the host the request was
// sent to (any scheme: TLS may end at a proxy in front).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}
