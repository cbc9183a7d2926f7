package socketio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pollingClient speaks Engine.IO long-polling with plain HTTP requests.
type pollingClient struct {
	t   *testing.T
	url string
	sid string
}

func newPollingClient(t *testing.T, base string) *pollingClient {
	t.Helper()
	pc := &pollingClient{t: t, url: base + "?EIO=4&transport=polling"}
	body := pc.get()
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake = %q", body)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		t.Fatal(err)
	}
	pc.sid = open.SID
	pc.url += "&sid=" + open.SID
	return pc
}

func (pc *pollingClient) get() string {
	pc.t.Helper()
	resp, err := http.Get(pc.url)
	if err != nil {
		pc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		pc.t.Fatalf("GET %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// post sends Engine.IO packets (already typed: "40", "b<base64>").
func (pc *pollingClient) post(packets ...string) {
	pc.t.Helper()
	resp, err := http.Post(pc.url, "text/plain;charset=UTF-8", strings.NewReader(strings.Join(packets, "\x1e")))
	if err != nil {
		pc.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		pc.t.Fatalf("POST %d", resp.StatusCode)
	}
}

// packets polls until n Engine.IO packets other than pings arrived.
func (pc *pollingClient) packets(n int) []string {
	pc.t.Helper()
	var out []string
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		for _, p := range strings.Split(pc.get(), "\x1e") {
			switch p {
			case "2":
				pc.post("3")
			case "6", "":
			default:
				out = append(out, p)
			}
		}
	}
	if len(out) < n {
		pc.t.Fatalf("got %d packets %q, want %d", len(out), out, n)
	}
	return out
}

// TestSocket_BinaryOverPolling: a binary event and its binary echo travel
// over long-polling (attachments as base64 "b" packets).
func TestSocket_BinaryOverPolling(t *testing.T) {
	_, url := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) {
			s.On("bin", func(s *Socket, args Args, ack AckFunc) {
				var b []byte
				if err := args.Decode(0, &b); err != nil {
					t.Error(err)
				}
				_ = ack(append(b, 4))
			})
		})
	})
	pc := newPollingClient(t, url)
	pc.post("40")
	if got := pc.packets(1); !strings.HasPrefix(got[0], `40{"sid":"`) {
		t.Fatalf("connect reply = %q", got)
	}
	pc.post(`451-7["bin",{"_placeholder":true,"num":0}]`, "b"+base64.StdEncoding.EncodeToString([]byte{1, 2, 3}))
	got := pc.packets(2)
	if got[0] != `461-7[{"_placeholder":true,"num":0}]` {
		t.Fatalf("ack text = %q", got[0])
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(got[1], "b"))
	if err != nil || !bytes.Equal(b, []byte{1, 2, 3, 4}) {
		t.Fatalf("ack attachment = %q", got[1])
	}
}
