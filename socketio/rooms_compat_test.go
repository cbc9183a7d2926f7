package socketio_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/sockgate/sockgate/socketio"
)

// labels returns the "m" events client c received, in order.
func labels(t *testing.T, p *puppet, c string) []string {
	t.Helper()
	var out []string
	for _, l := range p.linesOf(c, "event") {
		if l.Event != "m" {
			continue
		}
		var s string
		if len(l.Args) != 1 || json.Unmarshal(l.Args[0], &s) != nil {
			t.Fatalf("unexpected m event %s", l)
		}
		out = append(out, s)
	}
	return out
}

// TestCompat_RoomsAndBroadcast: rooms, broadcast flags and server-side room
// operations as the clients observe them.
func TestCompat_RoomsAndBroadcast(t *testing.T) {
	var tr *tracker
	cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
		ns := srv.Of("/")
		ns.OnConnection(func(s *socketio.Socket) {
			var a struct {
				Name  string
				Rooms []string
			}
			_ = json.Unmarshal(s.Handshake().Auth, &a)
			s.Join(a.Rooms...)
			s.SetData(map[string]any{"user": a.Name, "n": len(a.Rooms)})
		})
		tr = track(ns) // after the joins: a tracked socket is in its rooms
	})
	ws := func(rooms ...string) clientOpts {
		return clientOpts{Transports: []string{"websocket"}, Auth: map[string]any{"rooms": rooms}}
	}
	p := startPuppet(t, cs,
		clientSpec{Name: "A", Opts: ws("r1")},
		clientSpec{Name: "B", Opts: ws("r1", "r2")},
		clientSpec{Name: "C", Opts: ws("r2")},
		clientSpec{Name: "D", Opts: ws("r4")},
		clientSpec{Name: "P", Opts: clientOpts{Transports: []string{"polling"}}},
	)
	names := []string{"A", "B", "C", "D", "P"}
	ids := map[string]string{}
	sock := map[string]*socketio.Socket{}
	for _, n := range names {
		ids[n] = p.expect(n, "connect").ID
		sock[n] = tr.socket(t, n)
	}
	ns := sock["A"].Namespace()
	ctx := ctxT(t)
	barrier := func(label string) {
		t.Helper()
		must(t, ns.Emit("m", label))
		for _, n := range names {
			if sock[n].Connected() {
				p.await(n+" "+label, func(l line) bool {
					return l.C == n && l.Event == "m" && len(l.Args) == 1 && string(l.Args[0]) == `"`+label+`"`
				})
			}
		}
	}

	must(t, ns.To("r1").Emit("m", "to-r1"))
	must(t, ns.To("r1", "r2").Emit("m", "to-r1-r2"))
	must(t, ns.In("r2").Emit("m", "in-r2"))
	must(t, ns.Except("r2").Emit("m", "except-r2"))
	must(t, ns.To("r1").Except("r2").Emit("m", "r1-except-r2"))
	must(t, sock["A"].Broadcast().Emit("m", "bcast-A"))
	must(t, sock["B"].To("r1").Emit("m", "B-to-r1"))
	must(t, sock["A"].Except("r2").Emit("m", "A-except-r2"))
	must(t, ns.Local().Emit("m", "local"))
	must(t, ns.To("r4").Local().Emit("m", "local-r4"))
	must(t, ns.To(ids["C"]).Emit("m", "to-id-C"))
	sock["C"].Join("r5")
	must(t, ns.To("r5").Emit("m", "r5"))
	sock["C"].Leave("r5")
	must(t, ns.To("r5").Emit("m", "r5-after-leave"))
	must(t, ns.In("r1").SocketsJoin(ctx, "r3"))
	must(t, ns.To("r3").Emit("m", "r3"))
	must(t, ns.In("r2").SocketsLeave(ctx, "r2"))
	must(t, ns.To("r2").Emit("m", "r2-after-leave"))
	must(t, ns.In(ids["D"]).SocketsJoin(ctx, "r3"))
	must(t, ns.To("r3").Emit("m", "r3-with-D"))
	barrier("end1")

	want := map[string][]string{
		"A": {"to-r1", "to-r1-r2", "except-r2", "r1-except-r2", "B-to-r1", "local", "r3", "r3-with-D", "end1"},
		"B": {"to-r1", "to-r1-r2", "in-r2", "bcast-A", "local", "r3", "r3-with-D", "end1"},
		"C": {"to-r1-r2", "in-r2", "bcast-A", "local", "to-id-C", "r5", "end1"},
		"D": {"except-r2", "bcast-A", "A-except-r2", "local", "local-r4", "r3-with-D", "end1"},
		"P": {"except-r2", "bcast-A", "A-except-r2", "local", "end1"},
	}
	for _, n := range names {
		if got := labels(t, p, n); !slices.Equal(got, want[n]) {
			t.Errorf("%s received %q,\nwant %q", n, got, want[n])
		}
	}

	// Rooms as the server sees them.
	wantRooms := map[string][]string{
		"A": {ids["A"], "r1", "r3"}, "B": {ids["B"], "r1", "r3"}, "C": {ids["C"]},
		"D": {ids["D"], "r3", "r4"}, "P": {ids["P"]},
	}
	for n, w := range wantRooms {
		got := slices.Sorted(slices.Values(sock[n].Rooms()))
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s.Rooms() = %v, want %v", n, got, w)
		}
	}
	infos, err := ns.In("r3").FetchSockets(ctx)
	must(t, err)
	var fetched []string
	for _, in := range infos {
		var a struct{ Name string }
		must(t, json.Unmarshal(in.Handshake.Auth, &a))
		fetched = append(fetched, a.Name)
		if in.ID != ids[a.Name] {
			t.Errorf("FetchSockets: %s has id %q, client says %q", a.Name, in.ID, ids[a.Name])
		}
		jsonEq(t, a.Name+" SocketInfo.Data", in.Data, map[string]any{"user": a.Name, "n": map[string]int{"A": 1, "B": 2, "D": 1}[a.Name]})
		got := slices.Sorted(slices.Values(in.Rooms))
		w := slices.Sorted(slices.Values(wantRooms[a.Name]))
		if !slices.Equal(got, w) {
			t.Errorf("FetchSockets: %s rooms %v, want %v", a.Name, got, w)
		}
	}
	slices.Sort(fetched)
	if !slices.Equal(fetched, []string{"A", "B", "D"}) {
		t.Errorf("In(r3).FetchSockets = %v, want [A B D]", fetched)
	}
	if all, err := ns.FetchSockets(ctx); err != nil || len(all) != 5 {
		t.Errorf("FetchSockets: %d sockets, %v", len(all), err)
	}

	// Volatile: delivered to an idle WebSocket; dropped for a polling
	// client whose poll has just been used (as Node does).
	must(t, ns.To("r1").Volatile().Emit("m", "vol-r1"))
	must(t, sock["D"].Volatile().Emit("m", "vol-D"))
	must(t, sock["P"].Emit("m", "p-normal"))
	must(t, sock["P"].Volatile().Emit("m", "p-vol"))
	barrier("end2")
	for n, tail := range map[string][]string{
		"A": {"vol-r1", "end2"}, "B": {"vol-r1", "end2"}, "C": {"end2"}, "D": {"vol-D", "end2"}, "P": {"p-normal", "end2"},
	} {
		got := labels(t, p, n)[len(want[n]):]
		if !slices.Equal(got, tail) {
			t.Errorf("%s received %q after end1, want %q", n, got, tail)
		}
	}

	// Disconnections driven by the server, and one by a client.
	must(t, ns.In("r1").DisconnectSockets(ctx, false))
	must(t, ns.In(ids["C"]).DisconnectSockets(ctx, true))
	for _, n := range []string{"A", "B", "C"} {
		if d := p.expect(n, "disconnect"); d.Reason != "io server disconnect" {
			t.Errorf("%s: client reason %q, want \"io server disconnect\"", n, d.Reason)
		}
		if r := tr.reason(t, n); r != socketio.ReasonServerNamespaceDisconnect {
			t.Errorf("%s: server reason %q, want %q", n, r, socketio.ReasonServerNamespaceDisconnect)
		}
	}
	command(t, sock["D"], cmd{Op: "disconnect"})
	if r := tr.reason(t, "D"); r != socketio.ReasonClientNamespaceDisconnect {
		t.Errorf("D: server reason %q", r)
	}
	tr.mu.Lock()
	dRooms := slices.Sorted(slices.Values(tr.disconnecting["D"]))
	tr.mu.Unlock()
	if w := slices.Sorted(slices.Values(wantRooms["D"])); !slices.Equal(dRooms, w) {
		t.Errorf("OnDisconnecting saw rooms %v, want %v", dRooms, w)
	}
	if r := sock["D"].Rooms(); len(r) != 0 {
		t.Errorf("Rooms() after disconnect = %v, want none", r)
	}
	if n := ns.Len(); n != 1 {
		t.Errorf("Len() = %d, want 1 (P)", n)
	}
	barrier("end3")
	if got := labels(t, p, "P"); got[len(got)-1] != "end3" {
		t.Errorf("P last received %q", got[len(got)-1])
	}
	for _, n := range []string{"A", "B", "C", "D"} {
		if got := labels(t, p, n); slices.Contains(got, "end3") {
			t.Errorf("disconnected %s received end3", n)
		}
	}
	command(t, sock["P"], cmd{Op: "disconnect"})
	p.waitExit()
}
