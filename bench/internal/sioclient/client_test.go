package sioclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func TestIntField(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  string
		want int64
		ok   bool
	}{
		{"First", `2["msg",{"s":12,"t":1700000000123456789,"d":"x"}]`, "s", 12, true},
		{"Later", `2["msg",{"s":12,"t":1700000000123456789,"d":"x"}]`, "t", 1700000000123456789, true},
		{"Missing", `2["msg",{"s":12}]`, "t", 0, false},
		{"NotANumber", `2["msg",{"t":"x"}]`, "t", 0, false},
		{"KeyIsSuffix", `2["msg",{"st":5,"t":7}]`, "t", 7, true},
		{"Truncated", `2["msg",{"t"`, "t", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := IntField([]byte(tt.in), tt.key)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("IntField(%q, %q) = %d, %v; want %d, %v", tt.in, tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAckID(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{`312[{"n":1}]`, 12, true},
		{`3[]`, 0, false},
		{`2["x"]`, 0, false},
		{`3`, 0, false},
	}
	for _, tt := range tests {
		got, ok := AckID([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("AckID(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// fakeServer accepts one WebSocket connection and runs script on it.
func fakeServer(t *testing.T, script func(c net.Conn) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("EIO") != "4" || r.URL.Query().Get("transport") != "websocket" {
			errc <- errors.New("bad query " + r.URL.RawQuery)
			return
		}
		c, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- script(c)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("fake server: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("fake server script did not finish")
		}
	})
	return ln.Addr().String()
}

func expect(c net.Conn, want string) error {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := wsutil.ReadClientText(c)
	if err != nil {
		return err
	}
	if string(got) != want {
		return errors.New("got " + string(got) + ", want " + want)
	}
	return nil
}

func TestConn_ReadAll(t *testing.T) {
	big := strings.Repeat("b", 70000) // 64-bit length form, larger than the read buffer
	mid := strings.Repeat("m", 300)   // 16-bit length form
	addr := fakeServer(t, func(c net.Conn) error {
		if err := wsutil.WriteServerText(c, []byte(`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)); err != nil {
			return err
		}
		if err := expect(c, "40"); err != nil {
			return err
		}
		if err := wsutil.WriteServerText(c, []byte(`40{"sid":"y"}`)); err != nil {
			return err
		}
		if err := wsutil.WriteServerText(c, []byte(`42["msg",{"s":1}]`)); err != nil {
			return err
		}
		if err := wsutil.WriteServerText(c, []byte("2")); err != nil { // Engine.IO ping
			return err
		}
		if err := expect(c, "3"); err != nil {
			return err
		}
		if err := wsutil.WriteServerText(c, []byte(`42["mid","`+mid+`"]`)); err != nil {
			return err
		}
		// A fragmented message.
		if err := ws.WriteFrame(c, ws.NewFrame(ws.OpText, false, []byte(`43["fr`))); err != nil {
			return err
		}
		if err := ws.WriteFrame(c, ws.NewFrame(ws.OpContinuation, true, []byte(`ag"]`))); err != nil {
			return err
		}
		if err := wsutil.WriteServerText(c, []byte(`42["big","`+big+`"]`)); err != nil {
			return err
		}
		if err := expect(c, `42["done"]`); err != nil {
			return err
		}
		return wsutil.WriteServerText(c, []byte(`41`))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	err = c.ReadAll(func(p []byte) {
		got = append(got, string(p))
		if strings.HasPrefix(string(p), `2["big"`) {
			if err := c.Write(`42["done"]`); err != nil {
				t.Error(err)
			}
		}
	})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadAll ended with %v, want ErrClosed", err)
	}
	want := []string{`2["msg",{"s":1}]`, `2["mid","` + mid + `"]`, `3["frag"]`, `2["big","` + big + `"]`}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d = %.60q, want %.60q", i, got[i], want[i])
		}
	}
}

func TestDial_ConnectError(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) error {
		if err := wsutil.WriteServerText(c, []byte(`0{"sid":"x"}`)); err != nil {
			return err
		}
		if err := expect(c, "40"); err != nil {
			return err
		}
		return wsutil.WriteServerText(c, []byte(`44{"message":"nope"}`))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, addr, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dial = %v, want ErrClosed (connect_error)", err)
	}
}
