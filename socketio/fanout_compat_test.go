package socketio_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
)

// TestCompat_FanoutOrdering: one client emits 1,000 numbered events as fast
// as it can (every tenth with a binary attachment); the server relays each
// to a room of 200 sockets with To(room).Emit; every receiver gets all
// 1,000, in order, attachments intact. 200 receivers in
// one Node process (one Manager each), over WebSocket and over polling
// without upgrade.
func TestCompat_FanoutOrdering(t *testing.T) {
	const receivers, count = 200, 1000
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			var (
				mu      sync.Mutex
				relayed int
				badSeq  string
			)
			cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
				srv.Of("/").OnConnection(func(s *socketio.Socket) {
					var a struct{ Role string }
					_ = json.Unmarshal(s.Handshake().Auth, &a)
					switch a.Role {
					case "recv":
						s.On("join", func(s *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
							s.Join("room")
							if ack != nil {
								_ = ack()
							}
						})
					case "send":
						s.On("n", func(s *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
							var n int
							if err := args.Decode(0, &n); err != nil {
								t.Errorf("n: %v", err)
							}
							mu.Lock()
							if n != relayed && badSeq == "" {
								badSeq = fmt.Sprintf("server got %d after %d events", n, relayed)
							}
							relayed++
							mu.Unlock()
							if err := s.To("room").Emit("n", args.Values()...); err != nil {
								t.Errorf("relay: %v", err)
							}
						})
					}
				})
			})
			cfg, _ := json.Marshal(map[string]any{
				"receivers": receivers, "count": count, "transports": []string{transport}, "watchdogMs": 50000,
			})
			script := testenv.StartNode(t, "testdata/compat/fanout.js", cs.URL, string(cfg))
			var result struct {
				Ev         string          `json:"ev"`
				Message    string          `json:"message"`
				Receivers  int             `json:"receivers"`
				Complete   int             `json:"complete"`
				Disordered int             `json:"disordered"`
				MinGot     int             `json:"minGot"`
				FirstBad   json.RawMessage `json:"firstBad"`
				Summary    json.RawMessage `json:"summary"`
				MS         int             `json:"ms"`
			}
			for l := range script.Lines {
				if err := json.Unmarshal([]byte(l), &result); err != nil {
					t.Fatalf("fanout.js: %q: %v", l, err)
				}
				if result.Ev == "fatal" {
					t.Fatalf("fanout.js: %s (summary %s)", result.Message, result.Summary)
				}
				if result.Ev == "result" {
					break
				}
			}
			if result.Ev != "result" {
				t.Fatal("fanout.js exited without a result")
			}
			t.Logf("%s: %d receivers × %d events in %d ms (client-side wall time)", transport, receivers, count, result.MS)
			if result.Receivers != receivers || result.Complete != receivers || result.Disordered != 0 {
				t.Errorf("receivers %d, complete %d, disordered %d (first %s), min received %d; want all %d complete and in order",
					result.Receivers, result.Complete, result.Disordered, result.FirstBad, result.MinGot, receivers)
			}
			mu.Lock()
			defer mu.Unlock()
			if relayed != count || badSeq != "" {
				t.Errorf("server relayed %d events (%s), want %d in order", relayed, badSeq, count)
			}
		})
	}
}
