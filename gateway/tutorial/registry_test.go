package tutorial

import (
	"context"
	"errors"
	"testing"
)

func TestMemoryRegistry(t *testing.T) {
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
		r := newMemoryRegistry()
		mustJoin(t, r, "r1", alice)
		room := mustJoin(t, r, "r1", bob)
		if room.Host != alice || len(room.Users) != 2 || room.Users[1] != bob {
			t.Errorf("room %+v", room)
		}
	})
	t.Run("JoinTwiceIsNoOp", func(t *testing.T) {
		r := newMemoryRegistry()
		mustJoin(t, r, "r1", alice)
		if room := mustJoin(t, r, "r1", alice); len(room.Users) != 1 {
			t.Errorf("users %+v", room.Users)
		}
	})
	t.Run("UserIDTaken", func(t *testing.T) {
		r := newMemoryRegistry()
		mustJoin(t, r, "r1", alice)
		_, err := r.Join(ctx, "r1", User{UserID: "u-a", UserName: "Eve", SocketID: "se"})
		if !errors.Is(err, errRegistryUserIDTaken) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("HostRebindsAfterReload", func(t *testing.T) {
		r := newMemoryRegistry()
		mustJoin(t, r, "r1", alice)
		mustJoin(t, r, "r1", bob)
		if _, ok, _ := r.Leave(ctx, "r1", "sa"); !ok {
			t.Fatal("leave failed")
		}
		alice2 := User{UserID: "u-a", UserName: "Alice", SocketID: "sa2"}
		room := mustJoin(t, r, "r1", alice2)
		if room.Host != alice2 {
			t.Errorf("host %+v, want %+v", room.Host, alice2)
		}
	})
	t.Run("LastLeaveDeletes", func(t *testing.T) {
		r := newMemoryRegistry()
		mustJoin(t, r, "r1", alice)
		mustJoin(t, r, "r2", alice)
		mustJoin(t, r, "r2", bob)
		left, err := r.LeaveAll(ctx, "sa")
		if err != nil || len(left) != 2 {
			t.Fatalf("LeaveAll = %v, %v", left, err)
		}
		if _, err := r.Room(ctx, "r1"); !errors.Is(err, errRegistryNoRoom) {
			t.Errorf("r1 still there: %v", err)
		}
		room, err := r.Room(ctx, "r2")
		if err != nil || len(room.Users) != 1 || room.Users[0] != bob || room.Host != alice {
			t.Errorf("r2 = %+v, %v", room, err)
		}
		if n, _ := r.Count(ctx); n != 1 {
			t.Errorf("count %d", n)
		}
		if _, ok, _ := r.Leave(ctx, "r2", "sa"); ok {
			t.Error("left a room it was not in")
		}
	})
	t.Run("RoomsOldestFirstAndCopied", func(t *testing.T) {
		r := newMemoryRegistry()
		mustJoin(t, r, "zz", alice)
		mustJoin(t, r, "aa", bob)
		rooms, _ := r.Rooms(ctx)
		if len(rooms) != 2 || rooms[0].Name != "zz" || rooms[1].Name != "aa" {
			t.Fatalf("rooms %+v", rooms)
		}
		rooms[0].Users[0].UserName = "mutated"
		again, _ := r.Room(ctx, "zz")
		if again.Users[0].UserName != "Alice" {
			t.Error("registry shares its slices with callers")
		}
	})
}
