package socketio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/socketio"
)

// bothTransports runs f over a WebSocket-only and a polling-only client.
func bothTransports(t *testing.T, f func(t *testing.T, transports []string)) {
	for _, tp := range []string{"websocket", "polling"} {
		t.Run(tp, func(t *testing.T) { f(t, []string{tp}) })
	}
}

type sumReq struct {
	A int `json:"a"`
	B int `json:"b"`
}

type sumReply struct {
	Sum int `json:"sum"`
}

// TestCompat_Acks: acknowledgements both ways, with their timeouts.
func TestCompat_Acks(t *testing.T) {
	bothTransports(t, testAcks)
}

func testAcks(t *testing.T, transports []string) {
	var (
		mu         sync.Mutex
		secondAck  error
		plainAck   = make(chan bool, 1)
		silentSeen = make(chan bool, 1)
	)
	var tr *tracker
	cs := startCompat(t, socketio.Config{AckTimeout: 300 * time.Millisecond}, func(srv *socketio.Server) {
		ns := srv.Of("/")
		tr = track(ns)
		ns.OnConnection(func(s *socketio.Socket) {
			s.On("sum", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				var req sumReq
				if err := args.Decode(0, &req); err != nil || ack == nil {
					t.Errorf("sum: %v, ack %v", err, ack != nil)
					return
				}
				if err := ack(sumReply{req.A + req.B}, "ok"); err != nil {
					t.Errorf("ack: %v", err)
				}
				err := ack("again")
				mu.Lock()
				secondAck = err
				mu.Unlock()
			})
			s.On("silent", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				silentSeen <- ack != nil // never answered
			})
			s.On("double", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				var n int
				_ = args.Decode(0, &n)
				if ack != nil {
					_ = ack(2 * n)
				}
			})
			s.On("plain", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				plainAck <- ack != nil
			})
		})
	})
	opts := clientOpts{Transports: transports}
	p := startPuppet(t, cs,
		clientSpec{Name: "a", Opts: opts},
		clientSpec{Name: "mute", Opts: opts, NoAck: true})
	p.expect("a", "connect")
	p.expect("mute", "connect")
	s := tr.socket(t, "a")
	mute := tr.socket(t, "mute")

	t.Run("ClientEmitWithAck", func(t *testing.T) {
		command(t, s, cmd{Op: "emit", Event: "sum", Args: []any{sumReq{2, 40}}, Ack: true, Tag: "sum"})
		l := p.expectTag("a", "sum")
		if l.Ev != "ack" {
			t.Fatalf("sum: %s", l)
		}
		argsEq(t, "sum ack", l, sumReply{42}, "ok")
		mu.Lock()
		defer mu.Unlock()
		if !errors.Is(secondAck, socketio.ErrAckSent) {
			t.Errorf("second ack call: %v, want ErrAckSent", secondAck)
		}
	})
	t.Run("ClientEmitWithoutAck", func(t *testing.T) {
		command(t, s, cmd{Op: "emit", Event: "plain", Args: []any{1}})
		select {
		case got := <-plainAck:
			if got {
				t.Error("handler got an AckFunc for an event sent without ack")
			}
		case <-time.After(compatTimeout):
			t.Fatal("plain event never handled")
		}
	})
	t.Run("ClientTimeout", func(t *testing.T) {
		command(t, s, cmd{Op: "emit", Event: "silent", Args: []any{"x"}, Ack: true, Timeout: 300, Tag: "silent"})
		l := p.expectTag("a", "silent")
		if l.Ev != "ack_error" || l.Message != "operation has timed out" {
			t.Errorf("socket.timeout(300).emitWithAck to a server that never acks: %s", l)
		}
		if !<-silentSeen {
			t.Error("silent handler had no AckFunc")
		}
	})
	t.Run("ServerEmitWithAck", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), compatTimeout)
		defer cancel()
		reply, err := s.EmitWithAck(ctx, "ask", map[string]any{"q": 1}, "two", []byte{7})
		if err != nil {
			t.Fatalf("EmitWithAck: %v", err)
		}
		var q struct{ Q int }
		var two string
		var b []byte
		must(t, reply.Decode(0, &q))
		must(t, reply.Decode(1, &two))
		must(t, reply.Decode(2, &b))
		if reply.Len() != 3 || q.Q != 1 || two != "two" || !bytes.Equal(b, []byte{7}) {
			t.Errorf("reply: len %d, %+v %q %v", reply.Len(), q, two, b)
		}
		l := p.expectEvent("a", "ask")
		if !l.Ack {
			t.Error("client saw no ack callback")
		}
	})
	t.Run("ServerTimeoutCtx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.EmitWithAck(ctx, "noack-ctx", 1)
		if !errors.Is(err, socketio.ErrAckTimeout) {
			t.Errorf("EmitWithAck to a client that never answers: %v, want ErrAckTimeout", err)
		}
		if l := p.expectEvent("a", "noack-ctx"); !l.Ack {
			t.Error("client saw no ack callback")
		}
	})
	t.Run("ServerTimeoutConfig", func(t *testing.T) {
		// No deadline on ctx: Config.AckTimeout (300ms) applies.
		_, err := s.EmitWithAck(context.Background(), "noack-cfg", 1)
		if !errors.Is(err, socketio.ErrAckTimeout) {
			t.Errorf("EmitWithAck without deadline: %v, want ErrAckTimeout", err)
		}
		p.expectEvent("a", "noack-cfg")
	})
	t.Run("BroadcastWithAck", func(t *testing.T) {
		ns := s.Namespace()
		replies, err := ns.To(s.ID(), mute.ID()).Timeout(500*time.Millisecond).EmitWithAck(context.Background(), "ask-all", "hi")
		if !errors.Is(err, socketio.ErrAckTimeout) {
			t.Errorf("broadcast with a mute receiver: err %v, want ErrAckTimeout", err)
		}
		if len(replies) != 1 {
			t.Fatalf("%d replies, want 1 (from a)", len(replies))
		}
		var hi string
		must(t, replies[0].Decode(0, &hi))
		if hi != "hi" {
			t.Errorf("reply %q", hi)
		}
		p.expectEvent("mute", "ask-all")
		replies, err = ns.To(s.ID()).Timeout(compatTimeout).EmitWithAck(context.Background(), "ask-one", "x")
		if err != nil || len(replies) != 1 {
			t.Errorf("broadcast to one answering client: %d replies, %v", len(replies), err)
		}
	})
	t.Run("ClientAckStorm", func(t *testing.T) {
		// 500 acknowledged events in flight at once: every ack reaches
		// its own callback.
		command(t, s, cmd{Op: "burstAck", Event: "double", Count: 500, Tag: "storm"})
		l := p.await("ack storm", func(l line) bool { return l.Ev == "burstAck" && l.Tag == "storm" })
		if l.Answered != 500 || l.Wrong != 0 {
			t.Errorf("ack storm: %s", l)
		}
	})
	t.Run("ServerConcurrentEmitWithAck", func(t *testing.T) {
		const n = 100
		errs := make(chan error, n)
		for i := range n {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), compatTimeout)
				defer cancel()
				reply, err := s.EmitWithAck(ctx, "double", i)
				if err != nil {
					errs <- err
					return
				}
				var got int
				if err := reply.Decode(0, &got); err != nil || got != 2*i {
					errs <- fmt.Errorf("reply to %d: %d (%v)", i, got, err)
					return
				}
				errs <- nil
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("AckAfterDisconnect", func(t *testing.T) {
		// A pending EmitWithAck ends when the socket disconnects.
		done := make(chan error, 1)
		go func() {
			_, err := mute.EmitWithAck(context.Background(), "never", 1)
			done <- err
		}()
		p.expectEvent("mute", "never")
		mute.Disconnect(false)
		select {
		case err := <-done:
			if !errors.Is(err, socketio.ErrNotConnected) {
				t.Errorf("EmitWithAck pending at disconnect: %v, want ErrNotConnected", err)
			}
		case <-time.After(compatTimeout):
			t.Fatal("EmitWithAck still blocked after disconnect")
		}
	})
}

// TestCompat_Binary: Buffers nested in objects and arrays, several
// attachments per packet, empty and large ones, both ways.
func TestCompat_Binary(t *testing.T) {
	bothTransports(t, testBinary)
}

type binMeta struct {
	Name string `json:"name"`
	Blob []byte `json:"blob"`
}

type binReq struct {
	Meta binMeta  `json:"meta"`
	List [][]byte `json:"list"`
	N    int      `json:"n"`
}

func testBinary(t *testing.T, transports []string) {
	large := make([]byte, 200_000)
	for i := range large {
		large[i] = byte(i * 7)
	}
	type got struct {
		req    binReq
		top    []byte
		binary [2]bool
	}
	recv := make(chan got, 4)
	var tr *tracker
	cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
		ns := srv.Of("/")
		tr = track(ns)
		ns.OnConnection(func(s *socketio.Socket) {
			s.On("bin", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				var g got
				if err := args.Decode(0, &g.req); err != nil {
					t.Errorf("decode arg 0: %v (%s)", err, args.Raw(0))
				}
				if err := args.Decode(1, &g.top); err != nil {
					t.Errorf("decode arg 1: %v (%s)", err, args.Raw(1))
				}
				g.binary = [2]bool{args.Binary(0), args.Binary(1)}
				recv <- g
				// Re-emit the arguments unchanged, then answer with new binaries.
				if err := s.Emit("relay", args.Values()...); err != nil {
					t.Errorf("relay: %v", err)
				}
				if ack != nil {
					_ = ack(map[string]any{
						"meta": map[string]any{"blob": []byte{0xca, 0xfe}},
						"list": []any{[]byte{1}, "text", []byte{}, []byte{2, 3}},
					}, []byte{0xff})
				}
			})
		})
	})
	p := startPuppet(t, cs, clientSpec{Name: "a", Opts: clientOpts{Transports: transports}})
	p.expect("a", "connect")
	s := tr.socket(t, "a")

	arg0 := map[string]any{
		"meta": map[string]any{"name": "n", "blob": binOf([]byte{1, 2, 3})},
		"list": []any{binOf([]byte{0xff, 0}), binOf(nil), binOf(large)},
		"n":    5,
	}
	command(t, s, cmd{Op: "emit", Event: "bin", Args: []any{arg0, binOf([]byte{0xde, 0xad, 0xbe, 0xef})}, Ack: true, Tag: "bin"})

	var g got
	select {
	case g = <-recv:
	case <-time.After(compatTimeout):
		t.Fatal("bin event never handled")
	}
	if g.req.Meta.Name != "n" || !bytes.Equal(g.req.Meta.Blob, []byte{1, 2, 3}) || g.req.N != 5 {
		t.Errorf("meta decoded as %+v, n %d", g.req.Meta, g.req.N)
	}
	if len(g.req.List) != 3 || !bytes.Equal(g.req.List[0], []byte{0xff, 0}) || len(g.req.List[1]) != 0 || !bytes.Equal(g.req.List[2], large) {
		t.Errorf("list decoded with %d elements", len(g.req.List))
	}
	if !bytes.Equal(g.top, []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Errorf("top-level buffer %x", g.top)
	}
	if g.binary != [2]bool{true, true} {
		t.Errorf("Args.Binary = %v, want both true", g.binary)
	}

	ack := p.expectTag("a", "bin")
	argsEq(t, "server ack with binaries", ack, map[string]any{
		"meta": map[string]any{"blob": binOf([]byte{0xca, 0xfe})},
		"list": []any{binOf([]byte{1}), "text", binOf(nil), binOf([]byte{2, 3})},
	}, binOf([]byte{0xff}))
	relay := p.expectEvent("a", "relay")
	argsEq(t, "relayed Args.Values()", relay, arg0, binOf([]byte{0xde, 0xad, 0xbe, 0xef}))

	// Server-initiated event with attachments, and a binary EmitWithAck reply.
	must(t, s.Emit("down", map[string]any{"a": map[string]any{"b": []byte{1, 2, 3}}}, []any{[]byte{4}, []byte{5}}, large))
	down := p.expectEvent("a", "down")
	argsEq(t, "down", down, map[string]any{"a": map[string]any{"b": binOf([]byte{1, 2, 3})}}, []any{binOf([]byte{4}), binOf([]byte{5})}, binOf(large))
}

// TestCompat_EventsWaitForOnConnection: events a client emits right after
// "connect" are dispatched to the handlers its OnConnection registers, even
// when OnConnection is slow (Node registers them synchronously, so the
// client can rely on it).
func TestCompat_EventsWaitForOnConnection(t *testing.T) {
	bothTransports(t, func(t *testing.T, transports []string) {
		release := make(chan struct{})
		got := make(chan int, 10)
		cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
			srv.Of("/").OnConnection(func(s *socketio.Socket) {
				<-release // e.g. a slow lookup
				s.On("early", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
					var n int
					_ = args.Decode(0, &n)
					got <- n
				})
			})
		})
		p := startPuppet(t, cs, clientSpec{
			Name:      "a",
			Opts:      clientOpts{Transports: transports},
			OnConnect: []cmd{{Op: "burst", Event: "early", Count: 3}},
		})
		p.expect("a", "connect")
		close(release)
		for want := range 3 {
			select {
			case n := <-got:
				if n != want {
					t.Errorf("early event %d, want %d", n, want)
				}
			case <-time.After(compatTimeout):
				t.Fatalf("early event %d never dispatched", want)
			}
		}
	})
}

// TestCompat_Values: JSON values keep their exact form both ways (HTML
// characters unescaped, U+2028, empty containers, nulls, large integers,
// no arguments at all).
func TestCompat_Values(t *testing.T) {
	bothTransports(t, func(t *testing.T, transports []string) {
		type echoed struct {
			raw []string
		}
		got := make(chan echoed, 4)
		var tr *tracker
		cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
			ns := srv.Of("/")
			tr = track(ns)
			ns.OnConnection(func(s *socketio.Socket) {
				s.On("values", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
					var e echoed
					for i := range args.Len() {
						e.raw = append(e.raw, string(args.Raw(i)))
					}
					got <- e
				})
			})
		})
		p := startPuppet(t, cs, clientSpec{Name: "a", Opts: clientOpts{Transports: transports}})
		p.expect("a", "connect")
		s := tr.socket(t, "a")

		values := []any{
			nil, true, 1.5, int64(9007199254740991), "<script>&amp;</script>", "line\u2028sep\u2029", "é€😀\x1e\x00",
			[]any{}, map[string]any{}, map[string]any{"ключ": []any{nil, false, map[string]any{"a": "b"}}},
		}
		must(t, s.Emit("values", values...))
		l := p.expectEvent("a", "values")
		argsEq(t, "values at the client", l, values...)
		must(t, s.Emit("none"))
		argsEq(t, "no arguments", p.expectEvent("a", "none"))

		// And back: what the client sends is what the handler sees.
		command(t, s, cmd{Op: "emit", Event: "values", Args: values})
		var e echoed
		select {
		case e = <-got:
		case <-time.After(compatTimeout):
			t.Fatal("values never reached the server")
		}
		if len(e.raw) != len(values) {
			t.Fatalf("server got %d arguments, want %d: %q", len(e.raw), len(values), e.raw)
		}
		for i, v := range values {
			jsonEq(t, fmt.Sprint("server argument ", i), json.RawMessage(e.raw[i]), v)
		}
	})
}
