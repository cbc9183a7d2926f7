package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/ratelimit"
)

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, strings.TrimSpace(string(b))
}

func TestHTTP_Health(t *testing.T) {
	var failing bool
	ts := newTestServer(t, unlimited(), Config{ReadyChecks: map[string]func(context.Context) error{
		"store": func(context.Context) error { return nil },
		"redis": func(context.Context) error {
			if failing {
				return errors.New("dial tcp: refused")
			}
			return nil
		},
	}})
	res, body := get(t, ts.URL+"/healthz")
	want(t, "healthz", res.Status+" "+body, `200 OK {"status":"ok"}`)
	res, body = get(t, ts.URL+"/readyz")
	want(t, "readyz", res.Status+" "+body, `200 OK {"status":"ok","checks":{"redis":"ok","store":"ok"}}`)
	failing = true
	res, body = get(t, ts.URL+"/readyz")
	want(t, "readyz failing", res.Status+" "+body, `503 Service Unavailable {"statusCode":503,"message":"Not ready: redis unavailable (dial tcp: refused).","error":"unavailable"}`)
	res, body = get(t, ts.URL+"/metrics")
	if res.StatusCode != 200 || !strings.Contains(body, `sockgate_sockets{namespace="/rooms"} 0`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics: %d\n%s", res.StatusCode, body)
	}
}

func TestHTTP_Rooms(t *testing.T) {
	ts := newTestServer(t, unlimited(), Config{})
	res, body := get(t, ts.URL+"/api/rooms")
	want(t, "empty rooms", res.Status+" "+body, `200 OK []`)
	want(t, "content type", res.Header.Get("Content-Type"), "application/json; charset=utf-8")
	res, body = get(t, ts.URL+"/api/rooms/nope")
	want(t, "unknown room", res.Status+" "+body, `404 Not Found {"statusCode":404,"message":"Not Found"}`)
	res, body = get(t, ts.URL+"/api/nothing")
	want(t, "unknown route", res.Status+" "+body, `404 Not Found {"statusCode":404,"message":"Cannot GET /api/nothing","error":"not_found"}`)
}

func TestHTTP_RateLimit(t *testing.T) {
	ts := newTestServer(t, map[string]ratelimit.Rule{
		"http:GET /api/rooms": {Limit: 2, Period: time.Hour},
		"connect":             {Limit: 1, Period: time.Hour},
	}, Config{})
	for i := range 2 {
		res, _ := get(t, ts.URL+"/api/rooms")
		if res.StatusCode != 200 || res.Header.Get("X-RateLimit-Limit") != "2" || res.Header.Get("X-RateLimit-Remaining") != []string{"1", "0"}[i] {
			t.Errorf("request %d: %d %v", i, res.StatusCode, res.Header)
		}
	}
	res, body := get(t, ts.URL+"/api/rooms/any")
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || res.Header.Get("X-RateLimit-Remaining") != "0" ||
		!strings.HasPrefix(body, `{"statusCode":429,"message":"Too many requests, retry in `) || !strings.HasSuffix(body, `"error":"rate_limited"}`) {
		t.Errorf("3rd request: %d %v %s", res.StatusCode, res.Header, body)
	}
	// Engine.IO handshakes per IP.
	res, body = get(t, ts.URL+"/socket.io/?EIO=4&transport=polling")
	if res.StatusCode != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("first handshake: %d %s", res.StatusCode, body)
	}
	res, _ = get(t, ts.URL+"/socket.io/?EIO=4&transport=polling")
	if res.StatusCode != 429 {
		t.Errorf("second handshake: %d, want 429", res.StatusCode)
	}
	_, metrics := get(t, ts.URL+"/metrics")
	for _, line := range []string{`sockgate_ratelimit_refusals_total{rule="connect"} 1`, `sockgate_ratelimit_refusals_total{rule="http:GET /api/rooms"} 1`} {
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func TestHTTP_TrustedProxyKey(t *testing.T) {
	ts := newTestServer(t, map[string]ratelimit.Rule{"http:GET /api/rooms": {Limit: 1, Period: time.Hour}}, Config{})
	// Without trusted proxies X-Forwarded-For is ignored: both requests are 127.0.0.1's.
	get(t, ts.URL+"/api/rooms", "X-Forwarded-For", "198.51.100.1")
	if res, _ := get(t, ts.URL+"/api/rooms", "X-Forwarded-For", "198.51.100.2"); res.StatusCode != 429 {
		t.Errorf("spoofed X-Forwarded-For escaped the limit: %d", res.StatusCode)
	}
	trusted, err := ratelimit.ParseTrustedProxies("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ts2 := newTestServer(t, map[string]ratelimit.Rule{"http:GET /api/rooms": {Limit: 1, Period: time.Hour}}, Config{TrustedProxies: trusted})
	get(t, ts2.URL+"/api/rooms", "X-Forwarded-For", "198.51.100.1")
	if res, _ := get(t, ts2.URL+"/api/rooms", "X-Forwarded-For", "198.51.100.2"); res.StatusCode != 200 {
		t.Errorf("distinct clients behind a trusted proxy share a limit: %d", res.StatusCode)
	}
}

func TestHTTP_CORS(t *testing.T) {
	ts := newTestServer(t, unlimited(), Config{CORSOrigins: []string{"https://app.example"}})
	res, _ := get(t, ts.URL+"/api/rooms", "Origin", "https://app.example")
	want(t, "allowed origin", res.Header.Get("Access-Control-Allow-Origin"), "https://app.example")
	res, _ = get(t, ts.URL+"/api/rooms", "Origin", "https://evil.example")
	want(t, "other origin", res.Header.Get("Access-Control-Allow-Origin"), "")
	res, _ = get(t, ts.URL+"/socket.io/?EIO=4&transport=polling", "Origin", "https://app.example")
	want(t, "socket.io allowed origin", res.Header.Get("Access-Control-Allow-Origin"), "https://app.example")

	same := newTestServer(t, unlimited(), Config{})
	res, _ = get(t, same.URL+"/api/rooms", "Origin", "https://app.example")
	want(t, "default same-origin", res.Header.Get("Access-Control-Allow-Origin"), "")
}

func TestHTTP_Static(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<html>app</html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.js"), []byte("console.log(1)"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, unlimited(), Config{StaticDir: dir})
	tests := []struct{ path, want string }{
		{"/", "200 <html>app</html>"},
		{"/app.js", "200 console.log(1)"},
		{"/chat", "200 <html>app</html>"}, // client-side route
		{"/deep/link?x=1", "200 <html>app</html>"},
		{"/api/nothing", `404 {"statusCode":404,"message":"Cannot GET /api/nothing","error":"not_found"}`},
		{"/api", `404 {"statusCode":404,"message":"Cannot GET /api/","error":"not_found"}`}, // redirected to /api/
		{"/apix", "404 404 page not found"},
		{"/socket.io", `400 {"code":0,"message":"Transport unknown"}`}, // redirected to the engine
		{"/../../etc/passwd", "200 <html>app</html>"},
	}
	for _, tt := range tests {
		res, body := get(t, ts.URL+tt.path)
		want(t, tt.path, strings.TrimSpace(res.Status[:3]+" "+body), tt.want)
	}
}

func TestHTTP_BodyCap(t *testing.T) {
	ts := newTestServer(t, unlimited(), Config{MaxBodyBytes: 16})
	h := ts.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			ts.p.WriteError(w, r, err)
			return
		}
		w.WriteHeader(204)
	}))
	for _, tt := range []struct {
		body string
		want string
	}{
		{"small", "204 "},
		{strings.Repeat("x", 17), `413 {"statusCode":413,"message":"The request body exceeds 16 bytes.","error":"payload_too_large"}`},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/x", strings.NewReader(tt.body))
		h.ServeHTTP(rec, req)
		want(t, "body cap", strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())), strings.TrimSpace(tt.want))
	}
}
