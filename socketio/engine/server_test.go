package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

func TestServer_Handshake(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	t.Run("Polling", func(t *testing.T) {
		p := ts.handshake(t)
		if len(p.SID) != 20 {
			t.Errorf("sid %q: len %d, want 20", p.SID, len(p.SID))
		}
		if len(p.Upgrades) != 1 || p.Upgrades[0] != "websocket" {
			t.Errorf("upgrades = %v", p.Upgrades)
		}
		if p.PingInterval != 300 || p.PingTimeout != 200 || p.MaxPayload != 1e6 {
			t.Errorf("open = %+v", p)
		}
		rec := ts.nextConn(t)
		if rec.c.ID() != p.SID || rec.c.Transport() != "polling" {
			t.Errorf("conn id %q transport %q", rec.c.ID(), rec.c.Transport())
		}
		if !strings.Contains(rec.c.RequestURI(), "EIO=4") || rec.c.RemoteAddr() == "" || rec.c.Header().Get("Host") == "" {
			t.Errorf("handshake not kept: uri %q, remote %q, header %v", rec.c.RequestURI(), rec.c.RemoteAddr(), rec.c.Header())
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		c := ts.dialWS(t, "transport=websocket")
		open := c.mustRead()
		var p openPayload
		if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &p) != nil {
			t.Fatalf("open packet %q", open)
		}
		if len(p.SID) != 20 || len(p.Upgrades) != 0 || p.PingInterval != 300 {
			t.Errorf("open = %+v", p)
		}
		rec := ts.nextConn(t)
		if rec.c.Transport() != "websocket" {
			t.Errorf("transport %q", rec.c.Transport())
		}
	})
	t.Run("UniqueSIDs", func(t *testing.T) {
		seen := map[string]bool{}
		for range 50 {
			sid := newSID()
			if len(sid) != 20 || seen[sid] {
				t.Fatalf("sid %q", sid)
			}
			seen[sid] = true
		}
	})
}

// TestServer_Admit: Admit wraps the handshake of each new session (polling
// and WebSocket), released once the session is open; requests of existing
// sessions and refused handshakes are not admitted.
func TestServer_Admit(t *testing.T) {
	var admitted, released, open atomic.Int32
	var ts *testServer
	ts = newTestServer(t, Config{
		AllowRequest: func(r *http.Request) error {
			if r.URL.Query().Get("x") == "refuse" {
				return errors.New("refused")
			}
			return nil
		},
		Admit: func(r *http.Request) func() {
			admitted.Add(1)
			return func() {
				open.Store(int32(ts.eng.Count()))
				released.Add(1)
			}
		},
	})
	oc := ts.handshake(t)                              // polling
	ts.post(t, "transport=polling&sid="+oc.SID, "4hi") // a request of that session
	ts.dialWS(t, "transport=websocket")                // a WebSocket session
	if status, _, _, err := doReqErr("GET", ts.url("transport=polling&x=refuse"), "", nil); err != nil || status != http.StatusForbidden {
		t.Fatalf("refused handshake: %d %v", status, err)
	}
	testenv.WaitFor(t, 2*time.Second, func() error {
		if a, r := admitted.Load(), released.Load(); a != 2 || r != 2 {
			return fmt.Errorf("admitted %d, released %d; want 2 and 2", a, r)
		}
		return nil
	})
	if n := open.Load(); n != 2 {
		t.Errorf("sessions open at the last release: %d, want 2 (released once open)", n)
	}
}

type statusErr struct{}

func (statusErr) Error() string   { return "too many" }
func (statusErr) StatusCode() int { return http.StatusTooManyRequests }

func TestServer_HandshakeErrors(t *testing.T) {
	refuse := errors.New("refused")
	ts := newTestServer(t, Config{AllowRequest: func(r *http.Request) error {
		switch r.URL.Query().Get("x") {
		case "refuse":
			return refuse
		case "status":
			return statusErr{}
		}
		return nil
	}})
	tests := []struct {
		name, method, query string
		hdr                 http.Header
		status, code        int
	}{
		{"NoTransport", "GET", "", nil, 400, 0},
		{"UnknownTransport", "GET", "transport=abc", nil, 400, 0},
		{"UnknownSID", "GET", "transport=polling&sid=nope", nil, 400, 1},
		{"PostHandshake", "POST", "transport=polling", nil, 400, 2},
		{"PutHandshake", "PUT", "transport=polling", nil, 400, 2},
		{"WebSocketWithoutUpgrade", "GET", "transport=websocket", nil, 400, 3},
		{"Forbidden", "GET", "transport=polling&x=refuse", nil, 403, 4},
		{"ForbiddenStatus", "GET", "transport=polling&x=status", nil, 429, 4},
		{"BadOrigin", "GET", "transport=polling", http.Header{"Origin": {"http://evil.example"}}, 403, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, hdr, err := doReqErr(tt.method, ts.url(tt.query), "", tt.hdr)
			if err != nil {
				t.Fatal(err)
			}
			checkError(t, status, body, hdr, tt.status, tt.code)
		})
	}
	for _, eio := range []string{"", "3", "abc"} {
		t.Run("EIO="+eio, func(t *testing.T) {
			status, body, hdr, err := doReqErr("GET", ts.http.URL+"/?EIO="+eio+"&transport=polling", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			checkError(t, status, body, hdr, 400, 5)
		})
	}
}

func checkError(t *testing.T, status int, body string, hdr http.Header, wantStatus, wantCode int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status %d, want %d (%s)", status, wantStatus, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if e.Code != wantCode || e.Message != errorMessages[wantCode] {
		t.Errorf("error %+v, want code %d %q", e, wantCode, errorMessages[wantCode])
	}
}

func TestServer_CORS(t *testing.T) {
	tests := []struct {
		name        string
		cors        CORS
		origin      string
		method      string
		status      int
		allowOrigin string
		credentials string
	}{
		{"NoOriginHeader", CORS{}, "", "GET", 200, "", ""},
		{"SameOrigin", CORS{}, "SAME", "GET", 200, "", ""},
		{"Allowed", CORS{AllowedOrigins: []string{"http://a.example"}}, "http://a.example", "GET", 200, "http://a.example", ""},
		{"Refused", CORS{AllowedOrigins: []string{"http://a.example"}}, "http://b.example", "GET", 403, "", ""},
		{"RefusedByDefault", CORS{}, "http://b.example", "GET", 403, "", ""},
		{"Star", CORS{AllowedOrigins: []string{"*"}}, "http://b.example", "GET", 200, "*", ""},
		{"StarCredentials", CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}, "http://b.example", "GET", 200, "http://b.example", "true"},
		{"Credentials", CORS{AllowedOrigins: []string{"http://a.example"}, AllowCredentials: true}, "http://a.example", "GET", 200, "http://a.example", "true"},
		{"Preflight", CORS{AllowedOrigins: []string{"http://a.example"}}, "http://a.example", "OPTIONS", 204, "http://a.example", ""},
		{"PreflightRefused", CORS{AllowedOrigins: []string{"http://a.example"}}, "http://b.example", "OPTIONS", 403, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{CORS: tt.cors})
			hdr := http.Header{}
			origin := tt.origin
			if origin == "SAME" {
				origin = ts.http.URL
			}
			if origin != "" {
				hdr.Set("Origin", origin)
			}
			if tt.method == "OPTIONS" {
				hdr.Set("Access-Control-Request-Method", "POST")
				hdr.Set("Access-Control-Request-Headers", "content-type")
			}
			status, body, h, err := doReqErr(tt.method, ts.url("transport=polling"), "", hdr)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Fatalf("status %d, want %d (%s)", status, tt.status, body)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.allowOrigin {
				t.Errorf("Allow-Origin %q, want %q", got, tt.allowOrigin)
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != tt.credentials {
				t.Errorf("Allow-Credentials %q, want %q", got, tt.credentials)
			}
			if tt.status == 204 {
				if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
					h.Get("Access-Control-Allow-Headers") != "content-type" {
					t.Errorf("preflight headers %v", h)
				}
			}
		})
	}
}

func TestServer_Shutdown(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.handshake(t)
	pollRec := ts.nextConn(t)
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	wsRec := ts.nextConn(t)
	if n := ts.eng.Count(); n != 2 {
		t.Fatalf("Count = %d", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.eng.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*recorder{pollRec, wsRec} {
		if reason := recvClose(t, r); reason != ReasonShutdown {
			t.Errorf("reason %q", reason)
		}
	}
	if n := ts.eng.Count(); n != 0 {
		t.Errorf("Count after shutdown = %d", n)
	}
	if code := c.expectClose(); code != closeNormal {
		t.Errorf("ws close code %d", code)
	}
	if status, _ := ts.get(t, "transport=polling"); status == 200 {
		t.Error("handshake accepted after shutdown")
	}
	if err := ts.eng.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// A polling client that vanished with messages queued for it must not hold
// Shutdown: its session waits for the last GET at most pollCloseWait.
func TestServer_ShutdownVanishedPolling(t *testing.T) {
	ts := newTestServer(t, Config{}) // PingTimeout 20s: the 2s cap applies
	ts.handshake(t)
	rec := ts.nextConn(t)
	if err := rec.c.Send(TextMessage("nobody will fetch this")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.eng.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v after %v", err, time.Since(start))
	}
	if reason := recvClose(t, rec); reason != ReasonShutdown {
		t.Errorf("reason %q", reason)
	}
}

// TestPackHeader: the packed handshake headers come back whole (repeated
// names in order, empty values, Host added unless present).
func TestPackHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		host string
		want http.Header
	}{
		{"Empty", http.Header{}, "", http.Header{}},
		{"HostAdded", http.Header{"Upgrade": {"websocket"}}, "h:1", http.Header{"Upgrade": {"websocket"}, "Host": {"h:1"}}},
		{"HostKept", http.Header{"Host": {"a"}}, "b", http.Header{"Host": {"a"}}},
		{"Repeated", http.Header{"Cookie": {"a=1", "b=2"}, "X-Empty": {""}, "X-Colon": {"a: b"}}, "",
			http.Header{"Cookie": {"a=1", "b=2"}, "X-Empty": {""}, "X-Colon": {"a: b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unpackHeader(packHeader(tc.h, tc.host)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestServer_ShutdownBetweenGets: a polling client whose GET has just
// carried messages, shut down before its next GET arrives, gets the close
// packet on that GET (the client reports the server's close), not an
// unknown session (which it reports as "transport error").
func TestServer_ShutdownBetweenGets(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.handshake(t)
	rec := ts.nextConn(t)
	if err := rec.c.Send(TextMessage("last")); err != nil {
		t.Fatal(err)
	}
	if status, body := ts.get(t, "transport=polling&sid="+p.SID); status != 200 || body != "4last" {
		t.Fatalf("GET: %d %q", status, body)
	}
	done := make(chan error, 1)
	go func() { done <- ts.eng.Shutdown(context.Background()) }()
	testenv.WaitFor(t, 5*time.Second, func() error {
		rec.c.mu.Lock()
		defer rec.c.mu.Unlock()
		if rec.c.state == stateOpen {
			return errors.New("not closing yet")
		}
		return nil
	})
	if status, body := ts.get(t, "transport=polling&sid="+p.SID); status != 200 || body != "1" {
		t.Errorf("next GET: %d %q, want the close packet", status, body)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
