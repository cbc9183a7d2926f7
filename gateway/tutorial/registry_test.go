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
	for _, rule := range []struct {
		name string
		test func(t *testing.T, r registry)
	}{
		{"FirstJoinerHosts", ruleFirstJoinerHosts},
		{"JoinTwiceIsNoOp", ruleJoinTwiceIsNoOp},
		{"UserIDTaken", ruleUserIDTaken},
		{"HostRebindsAfterReload", ruleHostRebindsAfterReload},
		{"NonHostRejoinStaysGuest", ruleNonHostRejoinStaysGuest},
		{"LastLeaveDeletes", ruleLastLeaveDeletes},
		{"UnknownRoom", ruleUnknownRoom},
		{"RoomsOldestFirstAndCopied", ruleRoomsOldestFirstAndCopied},
	} {
		t.Run(rule.name, func(t *testing.T) { rule.test(t, newReg(t)) })
	}
}

var (
	testCtx = context.Background()
	alice   = User{UserID: "u-a", UserName: "Alice", SocketID: "sa"}
	bob     = User{UserID: "u-b", UserName: "Bob", SocketID: "sb"}
)

// mustJoin joins u to room on r and returns the room.
func mustJoin(t *testing.T, r registry, room string, u User) Room {
	t.Helper()
	got, err := r.Join(testCtx, room, u)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// mustLeave removes socket id from room on r, which must have had it.
func mustLeave(t *testing.T, r registry, room, socketID string) User {
	t.Helper()
	u, ok, err := r.Leave(testCtx, room, socketID)
	if !ok || err != nil {
		t.Fatalf("Leave(%s, %s) = %+v, %v, %v", room, socketID, u, ok, err)
	}
	return u
}

func ruleFirstJoinerHosts(t *testing.T, r registry) {
	if room := mustJoin(t, r, "r1", alice); room.Name != "r1" || room.Host != alice || len(room.Users) != 1 {
		t.Errorf("created room %+v", room)
	}
	room := mustJoin(t, r, "r1", bob)
	if room.Name != "r1" || room.Host != alice || len(room.Users) != 2 || room.Users[0] != alice || room.Users[1] != bob {
		t.Errorf("room %+v", room)
	}
}

func ruleJoinTwiceIsNoOp(t *testing.T, r registry) {
	mustJoin(t, r, "r1", alice)
	if room := mustJoin(t, r, "r1", alice); len(room.Users) != 1 {
		t.Errorf("users %+v", room.Users)
	}
}

func ruleUserIDTaken(t *testing.T, r registry) {
	mustJoin(t, r, "r1", alice)
	_, err := r.Join(testCtx, "r1", User{UserID: "u-a", UserName: "Eve", SocketID: "se"})
	if !errors.Is(err, errRegistryUserIDTaken) {
		t.Errorf("err %v", err)
	}
	if room, _ := r.Room(testCtx, "r1"); len(room.Users) != 1 || room.Host != alice {
		t.Errorf("refused join changed the room: %+v", room)
	}
}

func ruleHostRebindsAfterReload(t *testing.T, r registry) {
	mustJoin(t, r, "r1", alice)
	mustJoin(t, r, "r1", bob)
	if u := mustLeave(t, r, "r1", "sa"); u != alice {
		t.Errorf("Leave removed %+v", u)
	}
	alice2 := User{UserID: "u-a", UserName: "Alice", SocketID: "sa2"}
	room := mustJoin(t, r, "r1", alice2)
	if room.Host != alice2 || len(room.Users) != 2 || room.Users[1] != alice2 {
		t.Errorf("room %+v, want host %+v", room, alice2)
	}
}

func ruleNonHostRejoinStaysGuest(t *testing.T, r registry) {
	mustJoin(t, r, "r1", alice)
	mustJoin(t, r, "r1", bob)
	mustLeave(t, r, "r1", "sb")
	bob2 := User{UserID: "u-b", UserName: "Bob", SocketID: "sb2"}
	if room := mustJoin(t, r, "r1", bob2); room.Host != alice || len(room.Users) != 2 {
		t.Errorf("room %+v", room)
	}
}

func ruleLastLeaveDeletes(t *testing.T, r registry) {
	mustJoin(t, r, "r1", alice)
	mustJoin(t, r, "r2", alice)
	mustJoin(t, r, "r2", bob)
	left, err := r.LeaveAll(testCtx, "sa")
	slices.Sort(left)
	if err != nil || !slices.Equal(left, []string{"r1", "r2"}) {
		t.Fatalf("LeaveAll = %v, %v", left, err)
	}
	if _, err := r.Room(testCtx, "r1"); !errors.Is(err, errRegistryNoRoom) {
		t.Errorf("r1 still there: %v", err)
	}
	room, err := r.Room(testCtx, "r2")
	if err != nil || len(room.Users) != 1 || room.Users[0] != bob || room.Host != alice {
		t.Errorf("r2 = %+v, %v", room, err)
	}
	if n, err := r.Count(testCtx); n != 1 || err != nil {
		t.Errorf("Count = %d, %v", n, err)
	}
	if _, ok, err := r.Leave(testCtx, "r2", "sa"); ok || err != nil {
		t.Errorf("left a room it was not in: %v, %v", ok, err)
	}
	mustLeave(t, r, "r2", "sb")
	if n, _ := r.Count(testCtx); n != 0 {
		t.Errorf("Count = %d after the last leave", n)
	}
	if left, err := r.LeaveAll(testCtx, "sa"); len(left) != 0 || err != nil {
		t.Errorf("LeaveAll of a socket in no room = %v, %v", left, err)
	}
}

func ruleUnknownRoom(t *testing.T, r registry) {
	if _, err := r.Room(testCtx, "nope"); !errors.Is(err, errRegistryNoRoom) {
		t.Errorf("Room = %v", err)
	}
	if _, ok, err := r.Leave(testCtx, "nope", "sa"); ok || err != nil {
		t.Errorf("Leave = %v, %v", ok, err)
	}
	if rooms, err := r.Rooms(testCtx); len(rooms) != 0 || err != nil {
		t.Errorf("Rooms = %v, %v", rooms, err)
	}
}

func ruleRoomsOldestFirstAndCopied(t *testing.T, r registry) {
	mustJoin(t, r, "zz", alice)
	mustJoin(t, r, "aa", bob)
	mustJoin(t, r, "mm", bob)
	mustLeave(t, r, "zz", "sa")
	mustJoin(t, r, "zz", alice) // recreated: now the newest
	rooms, err := r.Rooms(testCtx)
	var names []string
	for _, room := range rooms {
		names = append(names, room.Name)
	}
	if err != nil || !slices.Equal(names, []string{"aa", "mm", "zz"}) {
		t.Fatalf("rooms %+v, %v", rooms, err)
	}
	rooms[2].Users[0].UserName = "mutated"
	again, _ := r.Room(testCtx, "zz")
	if again.Users[0].UserName != "Alice" {
		t.Error("registry shares its slices with callers")
	}
}
