package socketio

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sockgate/sockgate/socketio/internal/sioclient"
)

func TestServer_ConnectAndEcho(t *testing.T) {
	hs := make(chan *Handshake, 1)
	srv, url := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/").OnConnection(func(sock *Socket) {
			hs <- sock.Handshake()
			if err := sock.Emit("auth", sock.Handshake().Auth); err != nil {
				t.Errorf("emit auth: %v", err)
			}
			sock.On("echo", func(sock *Socket, args Args, ack AckFunc) {
				if err := sock.Emit("echo-back", args.Values()...); err != nil {
					t.Errorf("emit: %v", err)
				}
			})
		})
	})
	c, id := connect(t, url, "/", map[string]string{"token": "123"})
	if len(id) != 20 {
		t.Fatalf("socket id %q has %d characters, want 20", id, len(id))
	}
	if id == c.SID {
		t.Fatalf("socket id equals the engine sid")
	}
	if n := srv.Clients(); n != 1 {
		t.Fatalf("Clients() = %d", n)
	}
	h := <-hs
	if h.Query.Get("EIO") != "4" || h.Address == "" || h.Time.IsZero() || h.Headers.Get("Upgrade") == "" || h.Secure {
		t.Fatalf("handshake = %+v", h)
	}
	ctx := testCtx(t)
	_, name, args, err := c.NextEvent(ctx, "/")
	if err != nil || name != "auth" || len(args) != 1 || string(args[0]) != `{"token":"123"}` {
		t.Fatalf("auth event = %q %s %v", name, args, err)
	}
	if err := c.Emit("/", "echo", 1, "two", map[string]any{"3": []any{true}}); err != nil {
		t.Fatal(err)
	}
	_, name, args, err = c.NextEvent(ctx, "/")
	if err != nil || name != "echo-back" {
		t.Fatalf("echo = %q %v", name, err)
	}
	got, _ := json.Marshal(args)
	if string(got) != `[1,"two",{"3":[true]}]` {
		t.Fatalf("echo args = %s", got)
	}
}

func TestServer_InvalidNamespace(t *testing.T) {
	_, url := newTestServer(t, Config{}, nil)
	c := dial(t, url)
	_, err := c.Connect(testCtx(t), "/random", nil)
	var ce *sioclient.ConnectError
	if !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
		t.Fatalf("err = %v, want connect_error Invalid namespace", err)
	}
}
