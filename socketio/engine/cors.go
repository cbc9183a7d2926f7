package engine

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS is a cross-origin policy: the origins that may make cross-origin
// requests, and the headers that tell browsers so. The zero value allows
// same-origin requests only and sends no CORS header.
//
// The Engine.IO endpoint uses it as Config.CORS: it refuses what Allowed
// refuses (WebSocket handshakes included) and sends what Apply writes.
// Other handlers of the same site (a REST API) can use a CORS value of
// their own with the same origins, so one policy decides everywhere:
// calling Apply alone leaves the refusal of other origins to the browser
// (no CORS header is sent for them).
//
// Headers: every response to an allowed cross-origin request gets
// "Vary: Origin", Access-Control-Allow-Origin ("*" when AllowedOrigins has
// "*" and AllowCredentials is off, else the request's origin),
// Access-Control-Allow-Credentials when AllowCredentials is on and
// Access-Control-Expose-Headers when ExposeHeaders is set. A preflight (an
// OPTIONS request with Access-Control-Request-Method) also gets the allowed
// methods, headers and max age, and is answered 204 by Apply.
type CORS struct {
	// AllowedOrigins lists exact origins ("https://app.example.com", no
	// trailing slash); "*" allows any origin. Empty means no cross-origin
	// request is allowed.
	AllowedOrigins []string
	// AllowCredentials sends Access-Control-Allow-Credentials: true, with
	// the request's origin echoed (never "*", which browsers refuse with
	// credentials).
	AllowCredentials bool
	// ExposeHeaders lists the response headers scripts may read
	// (Access-Control-Expose-Headers). Empty sends none.
	ExposeHeaders []string
	// AllowMethods answers a preflight's Access-Control-Allow-Methods.
	// Empty means "GET, POST, OPTIONS" (the Engine.IO transports').
	AllowMethods []string
	// AllowHeaders answers a preflight's Access-Control-Allow-Headers.
	// Empty means the preflight's Access-Control-Request-Headers, echoed.
	AllowHeaders []string
	// MaxAge is how long browsers may cache a preflight's answer
	// (Access-Control-Max-Age, whole seconds). Zero means 24h; negative
	// sends no Max-Age.
	MaxAge time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-Host and
	// Forwarded "host=" name the site the browser sees, for the same-origin
	// check (a proxy on :8080 forwarding to :3000 with "Host: $host" drops
	// the port). Only the last value is believed: the one the proxy next
	// to us wrote. Empty means r.Host only.
	TrustedProxies []netip.Prefix
	// OnRefuse, when set, is called by Allowed each time it refuses a
	// request, with the request's origin and the hosts a same-origin
	// request would have named (for a log line). It must be safe for
	// concurrent use and cheap: clients choose how often it runs.
	OnRefuse func(r *http.Request, origin string, hosts []string)
}

// Allowed reports whether r may be served: it carries no Origin (not a
// browser's cross-origin request), or its origin is allowed, or it is
// same-origin (the origin names r.Host, or the host a trusted proxy
// forwarded; browsers send Origin on same-origin POSTs and WebSocket
// handshakes too). A refusal is reported to OnRefuse.
func (p CORS) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || p.allowsOrigin(origin) {
		return true
	}
	hosts := p.SiteHosts(r)
	for _, h := range hosts {
		if sameOrigin(origin, h) {
			return true
		}
	}
	if p.OnRefuse != nil {
		p.OnRefuse(r, origin, hosts)
	}
	return false
}

// SiteHosts returns the hosts that name this site for r: r.Host, then the
// host forwarded by a trusted proxy (X-Forwarded-Host, Forwarded host=)
// when r comes from one.
func (p CORS) SiteHosts(r *http.Request) []string {
	hosts := []string{r.Host}
	if len(p.TrustedProxies) == 0 || !p.fromTrustedProxy(r) {
		return hosts
	}
	if h := lastListValue(r.Header.Values("X-Forwarded-Host")); h != "" {
		hosts = append(hosts, h)
	}
	if h := forwardedHost(lastListValue(r.Header.Values("Forwarded"))); h != "" {
		hosts = append(hosts, h)
	}
	return hosts
}

// fromTrustedProxy reports whether r's peer is one of TrustedProxies.
func (p CORS) fromTrustedProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, pfx := range p.TrustedProxies {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// lastListValue is the last element of a comma-separated header whose
// lines are values: what the nearest proxy wrote (earlier elements may
// come from the client).
func lastListValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// forwardedHost is the host parameter of one RFC 7239 Forwarded element
// ("for=1.2.3.4;proto=https;host=example.com:8080"), unquoted.
func forwardedHost(elem string) string {
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(k, "host") {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// Apply writes the CORS headers of r's response when r is a cross-origin
// request from an allowed origin, and answers it (204, nothing else
// written) when it is a preflight; it reports whether it did. Requests
// without Origin, same-origin requests and requests from other origins get
// no header.
func (p CORS) Apply(w http.ResponseWriter, r *http.Request) (preflightAnswered bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || !p.allowsOrigin(origin) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if p.AllowCredentials || !slices.Contains(p.AllowedOrigins, "*") {
		h.Set("Access-Control-Allow-Origin", origin)
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if p.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(p.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(p.ExposeHeaders, ", "))
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	p.preflight(h, r)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// preflight writes the headers that answer a preflight.
func (p CORS) preflight(h http.Header, r *http.Request) {
	methods := "GET, POST, OPTIONS"
	if len(p.AllowMethods) > 0 {
		methods = strings.Join(p.AllowMethods, ", ")
	}
	h.Set("Access-Control-Allow-Methods", methods)
	if len(p.AllowHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(p.AllowHeaders, ", "))
	} else if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
	}
	switch maxAge := p.MaxAge; {
	case maxAge == 0:
		h.Set("Access-Control-Max-Age", "86400")
	case maxAge > 0:
		h.Set("Access-Control-Max-Age", strconv.FormatInt(int64(maxAge/time.Second), 10))
	}
}

func (p CORS) allowsOrigin(origin string) bool {
	return slices.Contains(p.AllowedOrigins, origin) || slices.Contains(p.AllowedOrigins, "*")
}

// sameOrigin reports whether origin ("scheme://host[:port]") names host.
func sameOrigin(origin, host string) bool {
	for _, p := range []string{"http://", "https://"} {
		if len(origin) > len(p) && origin[:len(p)] == p {
			return strings.EqualFold(origin[len(p):], host) // hosts are case-insensitive
		}
	}
	return false
}
