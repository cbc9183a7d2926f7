package engine

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// restCORS is the policy of the gateway's REST API, spelled with CORS's
// fields.
var restCORS = CORS{
	AllowedOrigins: []string{"https://app.example"},
	ExposeHeaders:  []string{"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
	AllowMethods:   []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
	AllowHeaders:   []string{"Authorization", "Content-Type"},
	MaxAge:         10 * time.Minute,
}

func withOrigins(p CORS, origins ...string) CORS {
	p.AllowedOrigins = origins
	return p
}

func TestCORS(t *testing.T) {
	const (
		app  = "https://app.example"
		evil = "https://evil.example"
		host = "sockgate.example:3000" // the requests' Host
	)
	restHeaders := http.Header{
		"Vary":                          {"Origin"},
		"Access-Control-Allow-Origin":   {app},
		"Access-Control-Expose-Headers": {"Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"},
	}
	restPreflight := maps.Clone(restHeaders)
	restPreflight["Access-Control-Allow-Methods"] = []string{"GET, POST, PUT, PATCH, DELETE, OPTIONS"}
	restPreflight["Access-Control-Allow-Headers"] = []string{"Authorization, Content-Type"}
	restPreflight["Access-Control-Max-Age"] = []string{"600"}
	restStar := maps.Clone(restHeaders)
	restStar["Access-Control-Allow-Origin"] = []string{"*"}

	tests := []struct {
		name      string
		cors      CORS
		method    string
		origin    string
		preflight string // Access-Control-Request-Method
		reqHdrs   string // Access-Control-Request-Headers

		allowed   bool
		answered  bool // Apply answered a preflight (204)
		wantHdrs  http.Header
		wantState int
	}{
		{name: "NoOrigin", cors: withOrigins(CORS{}, app), method: "GET",
			allowed: true, wantHdrs: http.Header{}},
		{name: "ZeroValueRefusesCrossOrigin", method: "GET", origin: evil,
			allowed: false, wantHdrs: http.Header{}},
		{name: "SameOriginWithoutList", method: "POST", origin: "http://" + host,
			allowed: true, wantHdrs: http.Header{}},
		{name: "SameOriginHTTPS", method: "GET", origin: "https://" + host,
			allowed: true, wantHdrs: http.Header{}},
		{name: "OtherPortIsCrossOrigin", method: "GET", origin: "http://sockgate.example:3001",
			allowed: false, wantHdrs: http.Header{}},
		{name: "Listed", cors: withOrigins(CORS{}, app), method: "GET", origin: app,
			allowed: true, wantHdrs: http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {app}}},
		{name: "NotListed", cors: withOrigins(CORS{}, app), method: "GET", origin: evil,
			allowed: false, wantHdrs: http.Header{}},
		{name: "Star", cors: withOrigins(CORS{}, "*"), method: "GET", origin: evil,
			allowed: true, wantHdrs: http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {"*"}}},
		{name: "StarAndListedSendsStar", cors: withOrigins(CORS{}, app, "*"), method: "GET", origin: app,
			allowed: true, wantHdrs: http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {"*"}}},
		{name: "ListedWithCredentials", cors: CORS{AllowedOrigins: []string{app}, AllowCredentials: true}, method: "GET", origin: app,
			allowed: true, wantHdrs: http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {app}, "Access-Control-Allow-Credentials": {"true"}}},
		{name: "NotListedWithCredentials", cors: CORS{AllowedOrigins: []string{app}, AllowCredentials: true}, method: "GET", origin: evil,
			allowed: false, wantHdrs: http.Header{}},
		{name: "StarWithCredentialsEchoes", cors: CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}, method: "GET", origin: evil,
			allowed: true, wantHdrs: http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {evil}, "Access-Control-Allow-Credentials": {"true"}}},
		{name: "EnginePreflightDefaults", cors: withOrigins(CORS{}, app), method: "OPTIONS", origin: app, preflight: "POST", reqHdrs: "content-type",
			allowed: true, answered: true, wantState: 204, wantHdrs: http.Header{
				"Vary": {"Origin"}, "Access-Control-Allow-Origin": {app},
				"Access-Control-Allow-Methods": {"GET, POST, OPTIONS"}, "Access-Control-Allow-Headers": {"content-type"},
				"Access-Control-Max-Age": {"86400"},
			}},
		{name: "PreflightWithoutRequestHeaders", cors: CORS{AllowedOrigins: []string{app}, MaxAge: -1}, method: "OPTIONS", origin: app, preflight: "GET",
			allowed: true, answered: true, wantState: 204, wantHdrs: http.Header{
				"Vary": {"Origin"}, "Access-Control-Allow-Origin": {app}, "Access-Control-Allow-Methods": {"GET, POST, OPTIONS"},
			}},
		{name: "PreflightRefused", cors: withOrigins(CORS{}, app), method: "OPTIONS", origin: evil, preflight: "POST",
			allowed: false, wantHdrs: http.Header{}},
		{name: "OptionsWithoutRequestMethodIsNoPreflight", cors: withOrigins(CORS{}, app), method: "OPTIONS", origin: app,
			allowed: true, wantHdrs: http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {app}}},

		// The REST API's headers, as gateway/http.go's cors sent them.
		{name: "RESTListed", cors: restCORS, method: "GET", origin: app,
			allowed: true, wantHdrs: restHeaders},
		{name: "RESTPreflight", cors: restCORS, method: "OPTIONS", origin: app, preflight: "DELETE", reqHdrs: "x-other",
			allowed: true, answered: true, wantState: 204, wantHdrs: restPreflight},
		{name: "RESTOptionsWithoutRequestMethod", cors: restCORS, method: "OPTIONS", origin: app,
			allowed: true, wantHdrs: restHeaders},
		{name: "RESTStar", cors: withOrigins(restCORS, "*"), method: "GET", origin: app,
			allowed: true, wantHdrs: restStar},
		{name: "RESTStarAndListed", cors: withOrigins(restCORS, app, "*"), method: "GET", origin: app,
			allowed: true, wantHdrs: restStar},
		{name: "RESTOtherOrigin", cors: restCORS, method: "GET", origin: evil,
			allowed: false, wantHdrs: http.Header{}},
		{name: "RESTNoOrigins", cors: withOrigins(restCORS), method: "OPTIONS", origin: app, preflight: "GET",
			allowed: false, wantHdrs: http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://"+host+"/api/x", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.preflight != "" {
				r.Header.Set("Access-Control-Request-Method", tt.preflight)
			}
			if tt.reqHdrs != "" {
				r.Header.Set("Access-Control-Request-Headers", tt.reqHdrs)
			}
			if got := tt.cors.Allowed(r); got != tt.allowed {
				t.Errorf("Allowed = %v, want %v", got, tt.allowed)
			}
			w := httptest.NewRecorder()
			if got := tt.cors.Apply(w, r); got != tt.answered {
				t.Errorf("Apply = %v, want %v", got, tt.answered)
			}
			if !equalHeaders(w.Header(), tt.wantHdrs) {
				t.Errorf("headers:\n%s\nwant:\n%s", dumpHeaders(w.Header()), dumpHeaders(tt.wantHdrs))
			}
			wantState := tt.wantState
			if wantState == 0 {
				wantState = http.StatusOK // nothing written
			}
			if w.Code != wantState || w.Body.Len() != 0 {
				t.Errorf("status %d, body %q; want %d, empty", w.Code, w.Body, wantState)
			}
		})
	}
}

// TestCORS_VaryAdded: Apply adds to a Vary the handler already set.
func TestCORS_VaryAdded(t *testing.T) {
	r := httptest.NewRequest("GET", "http://sockgate.example/", nil)
	r.Header.Set("Origin", "https://app.example")
	w := httptest.NewRecorder()
	w.Header().Set("Vary", "Accept-Encoding")
	withOrigins(CORS{}, "https://app.example").Apply(w, r)
	if got := w.Header().Values("Vary"); strings.Join(got, ",") != "Accept-Encoding,Origin" {
		t.Errorf("Vary %q", got)
	}
}

func equalHeaders(a, b http.Header) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return strings.Join(x, "\x00") == strings.Join(y, "\x00") })
}

func dumpHeaders(h http.Header) string {
	var b strings.Builder
	h.Write(&b)
	return b.String()
}

// TestCORS_ForwardedHost: behind a trusted reverse proxy (a browser on
// :8080, sockgate on :3000, nginx sending "Host: $host"), the host the
// proxy forwards makes the request same-origin; the same headers from any
// other peer, or written by the client before the proxy's, do not.
func TestCORS_ForwardedHost(t *testing.T) {
	const site = "http://chat.example:8080" // what the browser sees
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		peer    string
		headers map[string]string
		allowed bool
		hosts   []string // what OnRefuse is told
	}{
		{"XForwardedHost", "10.1.2.3:5555", map[string]string{"X-Forwarded-Host": "chat.example:8080"}, true, nil},
		{"XForwardedHostCase", "10.1.2.3:5555", map[string]string{"X-Forwarded-Host": "Chat.Example:8080"}, true, nil},
		{"ForwardedQuoted", "10.1.2.3:5555", map[string]string{"Forwarded": `for=192.0.2.60;proto=http;host="chat.example:8080"`}, true, nil},
		{"ForwardedLastElement", "10.1.2.3:5555", map[string]string{"Forwarded": "host=evil.example, for=192.0.2.60;host=chat.example:8080"}, true, nil},
		{"IPv4MappedPeer", "[::ffff:10.1.2.3]:5555", map[string]string{"X-Forwarded-Host": "chat.example:8080"}, true, nil},
		{"UntrustedPeer", "192.0.2.7:5555", map[string]string{"X-Forwarded-Host": "chat.example:8080"}, false, []string{"chat.example"}},
		{"ClientValueBeforeProxys", "10.1.2.3:5555", map[string]string{"X-Forwarded-Host": "chat.example:8080, chat.example"},
			false, []string{"chat.example", "chat.example"}},
		{"OtherForwardedHost", "10.1.2.3:5555", map[string]string{"X-Forwarded-Host": "other.example:8080"},
			false, []string{"chat.example", "other.example:8080"}},
		{"NoForwardedHost", "10.1.2.3:5555", nil, false, []string{"chat.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var refused []string
			calls := 0
			p := CORS{TrustedProxies: proxies, OnRefuse: func(r *http.Request, origin string, hosts []string) {
				calls++
				if origin != site {
					t.Errorf("OnRefuse origin %q", origin)
				}
				refused = hosts
			}}
			r := httptest.NewRequest("GET", "http://chat.example/socket.io/?EIO=4&transport=polling", nil)
			r.RemoteAddr = tt.peer
			r.Header.Set("Origin", site)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := p.Allowed(r); got != tt.allowed {
				t.Fatalf("Allowed = %v, want %v", got, tt.allowed)
			}
			if want := map[bool]int{true: 0, false: 1}[tt.allowed]; calls != want {
				t.Fatalf("OnRefuse called %d times, want %d", calls, want)
			}
			if !tt.allowed && strings.Join(refused, ",") != strings.Join(tt.hosts, ",") {
				t.Errorf("OnRefuse hosts %q, want %q", refused, tt.hosts)
			}
		})
	}
}
