package tutorial

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestMemoryRegistry(t *testing.T) {
	testRegistry(t, func(*testing.T) registry { return newMemoryRegistry() })
}

// testRegistry checks the rules of the registry interface (registry.go)
// on fresh registries made by newReg; every implementation runs it.
func testRegistry(t *testing.T, newReg func(t *testing.T) registry) {
	ctx := context.Background()
	alice := User{UserID: "u-a", UserName: "Alice", SocketID: "sa"}
	bob := User{UserID: "u-b", UserName: "Bob", SocketID: "sb"}
	mustJoin := func(t *testing.T, r registry, room string, u User) Room {
		t.Helper()
		got, err := r.Join(ctx, room, u)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("FirstJoinerHosts", func(t *testing.T) {
		r := newReg(t)
		if room := mustJoin(t, r, "r1", alice); room.Name != "r1" || room.Host != alice || len(room.Users) != 1 {
			t.Errorf("created room %+v", room)
		}
		room := mustJoin(t, r, "r1", bob)
		if room.Name != "r1" || room.Host != alice || len(room.Users) != 2 || room.Users[0] != alice || room.Users[1] != bob {
			t.Errorf("room %+v", room)
		}
	})
	t.Run("JoinTwiceIsNoOp", func(t *testing.T) {
		r := newReg(t)
		mustJoin(t, r, "r1", alice)
		if room := mustJoin(t, r, "r1", alice); len(room.Users) != 1 {
			t.Errorf("users %+v", room.Users)
		}
	})
	t.Run("UserIDTaken", func(t *testing.T) {
		r := newReg(t)
		mustJoin(t, r, "r1", alice)
		_, err := r.Join(ctx, "r1", User{UserID: "u-a", UserName: "Eve", SocketID: "se"})
		if !errors.Is(err, errRegistryUserIDTaken) {
			t.Errorf("err %v", err)
		}
		if room, _ := r.Room(ctx, "r1"); len(room.Users) != 1 || room.Host != alice {
			t.Errorf("refused join changed the room: %+v", room)
		}
	})
	t.Run("HostRebindsAfterReload", func(t *testing.T) {
		r := newReg(t)
		mustJoin(t, r, "r1", alice)
		mustJoin(t, r, "r1", bob)
		if u, ok, err := r.Leave(ctx, "r1", "sa"); !ok || err != nil || u != alice {
			t.Fatalf("Leave = %+v, %v, %v", u, ok, err)
		}
		alice2 := User{UserID: "u-a", UserName: "Alice", SocketID: "sa2"}
		room := mustJoin(t, r, "r1", alice2)
		if room.Host != alice2 || len(room.Users) != 2 || room.Users[1] != alice2 {
			t.Errorf("room %+v, want host %+v", room, alice2)
		}
	})
	t.Run("NonHostRejoinStaysGuest", func(t *testing.T) {
		r := newReg(t)
		mustJoin(t, r, "r1", alice)
		mustJoin(t, r, "r1", bob)
		if _, ok, _ := r.Leave(ctx, "r1", "sb"); !ok {
			t.Fatal("leave failed")
		}
		bob2 := User{UserID: "u-b", UserName: "Bob", SocketID: "sb2"}
		if room := mustJoin(t, r, "r1", bob2); room.Host != alice || len(room.Users) != 2 {
			t.Errorf("room %+v", room)
		}
	})
	t.Run("LastLeaveDeletes", func(t *testing.T) {
		r := newReg(t)
		mustJoin(t, r, "r1", alice)
		mustJoin(t, r, "r2", alice)
		mustJoin(t, r, "r2", bob)
		left, err := r.LeaveAll(ctx, "sa")
		slices.Sort(left)
		if err != nil || !slices.Equal(left, []string{"r1", "r2"}) {
			t.Fatalf("LeaveAll = %v, %v", left, err)
		}
		if _, err := r.Room(ctx, "r1"); !errors.Is(err, errRegistryNoRoom) {
			t.Errorf("r1 still there: %v", err)
		}
		room, err := r.Room(ctx, "r2")
		if err != nil || len(room.Users) != 1 || room.Users[0] != bob || room.Host != alice {
			t.Errorf("r2 = %+v, %v", room, err)
		}
		if n, err := r.Count(ctx); n != 1 || err != nil {
			t.Errorf("Count = %d, %v", n, err)
		}
		if _, ok, err := r.Leave(ctx, "r2", "sa"); ok || err != nil {
			t.Errorf("left a room it was not in: %v, %v", ok, err)
		}
		if _, ok, _ := r.Leave(ctx, "r2", "sb"); !ok {
			t.Fatal("leave failed")
		}
		if n, _ := r.Count(ctx); n != 0 {
			t.Errorf("Count = %d after the last leave", n)
		}
		if left, err := r.LeaveAll(ctx, "sa"); len(left) != 0 || err != nil {
			t.Errorf("LeaveAll of a socket in no room = %v, %v", left, err)
		}
	})
	t.Run("UnknownRoom", func(t *testing.T) {
		r := newReg(t)
		if _, err := r.Room(ctx, "nope"); !errors.Is(err, errRegistryNoRoom) {
			t.Errorf("Room = %v", err)
		}
		if _, ok, err := r.Leave(ctx, "nope", "sa"); ok || err != nil {
			t.Errorf("Leave = %v, %v", ok, err)
		}
		if rooms, err := r.Rooms(ctx); len(rooms) != 0 || err != nil {
			t.Errorf("Rooms = %v, %v", rooms, err)
		}
	})
	t.Run("RoomsOldestFirstAndCopied", func(t *testing.T) {
		r := newReg(t)
		mustJoin(t, r, "zz", alice)
		mustJoin(t, r, "aa", bob)
		mustJoin(t, r, "mm", bob)
		r.Leave(ctx, "zz", "sa")
		mustJoin(t, r, "zz", alice) // recreated: now the newest
		rooms, _ := r.Rooms(ctx)
		var names []string
		for _, room := range rooms {
			names = append(names, room.Name)
		}
		if !slices.Equal(names, []string{"aa", "mm", "zz"}) {
			t.Fatalf("rooms %+v", rooms)
		}
		rooms[2].Users[0].UserName = "mutated"
		again, _ := r.Room(ctx, "zz")
		if again.Users[0].UserName != "Alice" {
			t.Error("registry shares its slices with callers")
		}
	})
}
