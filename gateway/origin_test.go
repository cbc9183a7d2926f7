package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

const pollURL = "/socket.io/?EIO=4&transport=polling"

// wsHandshake sends a WebSocket handshake for a new Engine.IO session to
// base with the given headers and returns the status (101 when accepted).
func wsHandshake(t *testing.T, base string, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close() // a 101's body is the connection: not read
	return res.StatusCode
}

// TestOrigin_RefusalLogged is issue 10 item 5: a cross-origin handshake
// from an origin not allowed (a Vite dev server on :5173) is refused with
// 403 on polling and WebSocket, and logged at Info with the origin and the
// allowed list, once a minute per origin; a REST request from it is logged
// too (its answer lacks CORS headers, so the browser blocks it).
func TestOrigin_RefusalLogged(t *testing.T) {
	logs := &lockedBuffer{}
	ts := newTestServer(t, unlimited(), Config{
		CORSOrigins: []string{"https://app.example", "http://localhost:3001"},
		Logger:      slog.New(slog.NewTextHandler(logs, nil)),
	})
	const vite = "http://localhost:5173"
	for range 3 {
		if res, body := get(t, ts.URL+pollURL, "Origin", vite); res.StatusCode != http.StatusForbidden {
			t.Fatalf("polling handshake from %s = %d %s, want 403", vite, res.StatusCode, body)
		}
	}
	if st := wsHandshake(t, ts.URL, "Origin", vite); st != http.StatusForbidden {
		t.Fatalf("WebSocket handshake from %s = %d, want 403", vite, st)
	}
	line := `level=INFO msg="cross-origin Socket.IO request refused (403): origin not allowed" origin=` + vite +
		` allowed_origins=https://app.example,http://localhost:3001 same_origin_hosts=` + strings.TrimPrefix(ts.URL, "http://")
	if n := strings.Count(logs.String(), line); n != 1 {
		t.Fatalf("refusal of %s logged %d times, want once:\n%s", vite, n, logs)
	}
	if st := wsHandshake(t, ts.URL, "Origin", "https://evil.example"); st != http.StatusForbidden {
		t.Fatalf("WebSocket handshake from evil = %d, want 403", st)
	}
	if !strings.Contains(logs.String(), "origin=https://evil.example") {
		t.Errorf("a second origin is not logged on its own:\n%s", logs)
	}
	if st := wsHandshake(t, ts.URL, "Origin", "https://app.example"); st != http.StatusSwitchingProtocols {
		t.Errorf("WebSocket handshake from an allowed origin = %d, want 101", st)
	}

	get(t, ts.URL+"/api/rooms", "Origin", "http://localhost:5174")
	if !strings.Contains(logs.String(), `msg="cross-origin REST request from an origin not allowed: answered without CORS headers, the browser blocks it" origin=http://localhost:5174`) {
		t.Errorf("REST request from a foreign origin not logged:\n%s", logs)
	}
	if strings.Contains(logs.String(), "origin=https://app.example") {
		t.Errorf("an allowed origin is logged as refused:\n%s", logs)
	}
}

// TestOrigin_Credentials: CORSCredentials sends
// Access-Control-Allow-Credentials to allowed origins (Socket.IO polling,
// its preflight, and REST) and nothing to the others; with "*" it is refused.
func TestOrigin_Credentials(t *testing.T) {
	const app = "http://localhost:5173"
	ts := newTestServer(t, unlimited(), Config{CORSOrigins: []string{app}, CORSCredentials: true})
	for _, path := range []string{pollURL, "/api/rooms"} {
		res, _ := get(t, ts.URL+path, "Origin", app)
		want(t, path+" Allow-Origin", res.Header.Get("Access-Control-Allow-Origin"), app)
		want(t, path+" Allow-Credentials", res.Header.Get("Access-Control-Allow-Credentials"), "true")
		res, _ = get(t, ts.URL+path, "Origin", "https://evil.example")
		want(t, path+" Allow-Credentials to another origin", res.Header.Get("Access-Control-Allow-Credentials"), "")
	}
	req, _ := http.NewRequest(http.MethodOptions, ts.URL+pollURL, nil)
	req.Header.Set("Origin", app)
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight = %d, Allow-Credentials %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Credentials"))
	}

	plain := newTestServer(t, unlimited(), Config{CORSOrigins: []string{app}})
	res, _ = get(t, plain.URL+pollURL, "Origin", app)
	want(t, "without CORSCredentials", res.Header.Get("Access-Control-Allow-Credentials"), "")

	if _, err := New(nil, nil, nil, Config{CORSOrigins: []string{"*"}, CORSCredentials: true}); err == nil ||
		!strings.Contains(err.Error(), `CORSCredentials cannot be combined with the origin "*"`) {
		t.Errorf("credentials with * = %v", err)
	}
}

// TestOrigin_BehindProxy: a browser on http://chat.example:8080 reaches
// sockgate through a reverse proxy that, like the compose file's nginx,
// sends "Host: $host" (no port) and the browser's host in
// X-Forwarded-Host. With the proxy trusted its polling and WebSocket
// handshakes are same-origin; without, they are refused, and a client
// cannot forge the header past an untrusting server.
func TestOrigin_BehindProxy(t *testing.T) {
	const site = "http://chat.example:8080"
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		want    int // polling handshake status
		wantWS  int
	}{
		{"Trusted", loopback, http.StatusOK, http.StatusSwitchingProtocols},
		{"NotTrusted", nil, http.StatusForbidden, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, unlimited(), Config{TrustedProxies: tt.trusted})
			backend, _ := url.Parse(ts.URL)
			proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(backend)
				pr.Out.Host = "chat.example" // nginx's $host: no port
				pr.Out.Header.Set("X-Forwarded-Host", pr.In.Header.Get("X-Test-Browser-Host"))
			}})
			t.Cleanup(proxy.Close)
			res, body := get(t, proxy.URL+pollURL, "Origin", site, "X-Test-Browser-Host", "chat.example:8080")
			if res.StatusCode != tt.want {
				t.Errorf("polling handshake via proxy = %d %s, want %d", res.StatusCode, body, tt.want)
			}
			if st := wsHandshake(t, proxy.URL, "Origin", site, "X-Test-Browser-Host", "chat.example:8080"); st != tt.wantWS {
				t.Errorf("WebSocket handshake via proxy = %d, want %d", st, tt.wantWS)
			}
			// Straight to the server, the header counts only from a trusted peer.
			res, _ = get(t, ts.URL+pollURL, "Origin", site, "X-Forwarded-Host", "chat.example:8080")
			if res.StatusCode != tt.want {
				t.Errorf("direct handshake with X-Forwarded-Host = %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}
