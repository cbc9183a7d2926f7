package engine

import (
	"maps"
	"net/http"
	"net/http/httptest"
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
