package socketio

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHandshake_MarshalJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 7, 13, 456e6, time.UTC)
	hs := Handshake{
		Headers: http.Header{"X-Many": {"a", "b"}, "Origin": {"http://x"}},
		Query:   url.Values{"EIO": {"4"}, "transport": {"websocket"}, "tag": {"1", "2"}},
		Address: "127.0.0.1:5555",
		Time:    at,
		Secure:  true,
		URL:     "/socket.io/?EIO=4&transport=websocket",
		XDomain: true,
	}
	t.Run("NodeShape", func(t *testing.T) {
		b, err := json.Marshal(hs)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"headers": map[string]any{"x-many": "a, b", "origin": "http://x"},
			"time":    "Tue Dec 01 2026 08:07:13 GMT+0000 (Coordinated Universal Time)",
			"address": "127.0.0.1",
			"xdomain": true,
			"secure":  true,
			"issued":  float64(at.UnixMilli()),
			"url":     "/socket.io/?EIO=4&transport=websocket",
			"query":   map[string]any{"EIO": "4", "transport": "websocket", "tag": []any{"1", "2"}},
			"auth":    map[string]any{},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %v\nwant %v", got, want)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		in := hs
		in.Auth = json.RawMessage(`{"token":"x"}`)
		b, _ := json.Marshal(in)
		var out Handshake
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if out.Headers.Get("X-Many") != "a, b" || out.Query.Get("EIO") != "4" || len(out.Query["tag"]) != 2 ||
			string(out.Auth) != `{"token":"x"}` || !out.Time.Equal(at.Truncate(time.Millisecond)) ||
			out.Address != "127.0.0.1" || !out.Secure || !out.XDomain || out.URL != hs.URL {
			t.Fatalf("round trip = %+v", out)
		}
	})
	t.Run("SocketInfo", func(t *testing.T) {
		b, _ := json.Marshal(SocketInfo{ID: "abc", Handshake: hs})
		var got struct {
			ID    string          `json:"id"`
			Rooms []string        `json:"rooms"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &got); err != nil || got.ID != "abc" || got.Rooms == nil || string(got.Data) != "{}" {
			t.Fatalf("SocketInfo JSON = %s (%v)", b, err)
		}
	})
}

// TestSocket_HandshakeFields checks what a real connection records, now
// that only a compact record of the handshake request is kept: Node's whole
// shape (headers with host, time and issued, address, xdomain, secure, url,
// query with EIO and transport, auth), the same on every call.
func TestSocket_HandshakeFields(t *testing.T) {
	hss := make(chan [2]*Handshake, 1)
	_, u := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) { hss <- [2]*Handshake{s.Handshake(), s.Handshake()} })
	})
	before := time.Now().Add(-time.Second)
	connect(t, u, "/", map[string]any{"token": "t"})
	pair := <-hss
	b, _ := json.Marshal(pair[0])
	var got struct {
		Headers map[string]string `json:"headers"`
		Time    string            `json:"time"`
		Address string            `json:"address"`
		XDomain *bool             `json:"xdomain"`
		Secure  *bool             `json:"secure"`
		Issued  int64             `json:"issued"`
		URL     string            `json:"url"`
		Query   map[string]any    `json:"query"`
		Auth    map[string]any    `json:"auth"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(u, "http://")
	host, _, _ = strings.Cut(host, "/")
	if got.Query["EIO"] != "4" || got.Query["transport"] != "websocket" || got.Auth["token"] != "t" ||
		!strings.HasPrefix(got.URL, "/socket.io/?") || !strings.Contains(got.URL, "EIO=4") || got.Address != "127.0.0.1" ||
		got.Headers["host"] != host || got.Headers["upgrade"] == "" || got.Time == "" ||
		got.Issued < before.UnixMilli() || got.XDomain == nil || *got.XDomain || got.Secure == nil || *got.Secure {
		t.Fatalf("handshake JSON = %s", b)
	}
	if b2, _ := json.Marshal(pair[1]); string(b2) != string(b) {
		t.Fatalf("second Handshake differs:\n%s\n%s", b2, b)
	}
}
