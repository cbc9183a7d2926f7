package redis

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
)

// emitStep is a broadcast of the recovery scenario: from, to rooms, except
// rooms, one integer argument.
type emitStep struct {
	from          func() *socketio.Namespace
	rooms, except []string
	arg           int
}

func (e emitStep) emit(t *testing.T) {
	t.Helper()
	op := e.from().To(e.rooms...)
	if len(e.except) > 0 {
		op = op.Except(e.except...)
	}
	if err := op.EmitContext(testCtx(t), "m", e.arg); err != nil {
		t.Fatal(err)
	}
}

// TestStreams_RecoverOnAnotherServer: a real socket.io-client in room r,
// cut from A, reconnects to B (the proxy now leads there) and keeps its
// id and rooms; the broadcasts to it sent by A and B while it was away
// arrive exactly once, in stream order, those to other rooms or excluding
// r not at all; then it receives live broadcasts from A through B.
func TestStreams_RecoverOnAnotherServer(t *testing.T) {
	r := testenv.StartRedisServer(t)
	a, b := startRecoveryNode(t, r, testConfig()), startRecoveryNode(t, r, testConfig())
	waitServers(t, "/", 2, a.node, b.node)
	proxy := startProxy(t, a.addr)
	js := startStreamsNode(t, r, "socket.io", false)
	c := js.connect(t, "c", proxy.url(), "r")
	fromA, fromB := func() *socketio.Namespace { return a.srv.Of("/") }, func() *socketio.Namespace { return b.srv.Of("/") }
	emitStep{from: fromA, rooms: []string{"r"}, arg: 0}.emit(t)
	if off := c.expect(t, "m", "[0]"); off == "" {
		t.Fatal("no offset on a broadcast with recovery on")
	}

	cutAndWait(t, proxy, r.Client(t))
	missed := []emitStep{
		{from: fromA, rooms: []string{"r"}, arg: 1},
		{from: fromB, rooms: []string{"r"}, arg: 2},
		{from: fromA, rooms: []string{"other"}, arg: -1},
		{from: fromB, except: []string{"r"}, arg: -2},
		{from: fromA, arg: 3},
		{from: fromB, rooms: []string{c.id}, arg: 4},
	}
	for _, e := range missed {
		e.emit(t)
	}
	proxy.resume(b.addr)
	c.expectReconnect(t)
	for _, want := range []string{"[1]", "[2]", "[3]", "[4]"} {
		c.expect(t, "m", want)
	}
	testenv.WaitFor(t, 2*time.Second, func() error { return roomHas(b.srv.Of("/"), "r", c.id) })
	emitStep{from: fromA, rooms: []string{"r"}, arg: 5}.emit(t)
	c.expect(t, "m", "[5]")
}

// TestStreams_RecoverAfterRestart: A's client is cut, A stops and a new
// server takes its place on the same Redis; the client recovers there
// with what B broadcast meanwhile.
func TestStreams_RecoverAfterRestart(t *testing.T) {
	r := testenv.StartRedisServer(t)
	a, b := startRecoveryNode(t, r, testConfig()), startRecoveryNode(t, r, testConfig())
	waitServers(t, "/", 2, a.node, b.node)
	proxy := startProxy(t, a.addr)
	js := startStreamsNode(t, r, "socket.io", false)
	c := js.connect(t, "c", proxy.url(), "r")
	fromB := func() *socketio.Namespace { return b.srv.Of("/") }
	emitStep{from: fromB, rooms: []string{"r"}, arg: 0}.emit(t)
	c.expect(t, "m", "[0]")

	cutAndWait(t, proxy, r.Client(t))
	a.stop()
	emitStep{from: fromB, rooms: []string{"r"}, arg: 1}.emit(t)
	a2 := startRecoveryNode(t, r, testConfig())
	emitStep{from: fromB, rooms: []string{"r"}, arg: 2}.emit(t)
	proxy.resume(a2.addr)
	c.expectReconnect(t)
	c.expect(t, "m", "[1]")
	c.expect(t, "m", "[2]")
	emitStep{from: func() *socketio.Namespace { return a2.srv.Of("/") }, rooms: []string{"r"}, arg: 3}.emit(t)
	c.expect(t, "m", "[3]")
}

// roomHas reports whether socket id is in room on ns's server.
func roomHas(ns *socketio.Namespace, room, id string) error {
	socks, err := ns.In(room).Local().FetchSockets(context.Background())
	if err != nil {
		return err
	}
	for _, s := range socks {
		if s.ID == id {
			return nil
		}
	}
	return errNotInRoom
}

var errNotInRoom = errors.New("not in room yet")

// TestStreams_OffsetsInStreamOrder: A and B broadcast to a room at the
// same time; a client on A receives every broadcast once, with offsets
// strictly increasing (A's own broadcasts are delivered in stream order
// too, not ahead of B's that its reader has not handed over yet), which
// is what lets a client's last offset stand for everything before it.
func TestStreams_OffsetsInStreamOrder(t *testing.T) {
	r := testenv.StartRedisServer(t)
	a, b := startRecoveryNode(t, r, testConfig()), startRecoveryNode(t, r, testConfig())
	waitServers(t, "/", 2, a.node, b.node)
	c := connect(t, a.node, "/", "c", "r")
	const each = 150
	var wg sync.WaitGroup
	for _, n := range []*recoveryNode{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := n.srv.Of("/").To("r").Emit("m", i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var last streamID
	for i := range 2 * each {
		_, _, args, err := c.NextEvent(testCtx(t), "/")
		if err != nil || len(args) != 2 {
			t.Fatalf("event %d: %v %s", i, err, args)
		}
		var off string
		_ = json.Unmarshal(args[1], &off)
		id, err := parseStreamID(off)
		if err != nil || !last.less(id) {
			t.Fatalf("event %d: offset %q after %s", i, off, last)
		}
		last = id
	}
	wg.Wait()
}

// TestStreams_RecoverWithoutOffset closes a gap of Node's: a client that
// received no broadcast has no offset to send (socket.io-client then
// sends its pid alone and Node's adapter recovers nothing); here the
// session's own offset, the newest entry delivered before the socket
// connected, is where the replay starts.
func TestStreams_RecoverWithoutOffset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		prior int // broadcasts to another room before the client connects
	}{{"EmptyStream", 0}, {"AfterOtherBroadcasts", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			r := testenv.StartRedisServer(t)
			a, b := startRecoveryNode(t, r, testConfig()), startRecoveryNode(t, r, testConfig())
			waitServers(t, "/", 2, a.node, b.node)
			other := connect(t, a.node, "/", "other", "elsewhere")
			fromA := func() *socketio.Namespace { return a.srv.Of("/") }
			for i := range tc.prior {
				emitStep{from: fromA, rooms: []string{"elsewhere"}, arg: 100 + i}.emit(t)
				if _, name, args, err := other.NextEvent(testCtx(t), "/"); err != nil || name != "m" || len(args) != 2 {
					t.Fatalf("other got %v %s%s", err, name, args)
				}
			}
			proxy := startProxy(t, a.addr)
			js := startStreamsNode(t, r, "socket.io", false)
			c := js.connect(t, "c", proxy.url(), "r")
			cutAndWait(t, proxy, r.Client(t))
			emitStep{from: fromA, rooms: []string{"r"}, arg: 1}.emit(t)
			emitStep{from: func() *socketio.Namespace { return b.srv.Of("/") }, rooms: []string{"r"}, arg: 2}.emit(t)
			proxy.resume(b.addr)
			c.expectReconnect(t)
			c.expect(t, "m", "[1]")
			c.expect(t, "m", "[2]")
		})
	}
}
