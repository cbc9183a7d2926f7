package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestCluster_SIGKILL: the shared state of an instance that dies without
// cleaning up expires by itself within -cluster-ttl: a tutorial room with
// a member on each instance shows only the survivor's member on B once A
// was SIGKILLed, at most TTL (+ one heartbeat of slack) after A's last
// heartbeat.
func TestCluster_SIGKILL(t *testing.T) {
	const beat, ttl = 250 * time.Millisecond, 1500 * time.Millisecond
	c := testenv.StartCluster(t, testenv.ClusterConfig{Env: []string{
		"SOCKGATE_CLUSTER_HEARTBEAT=" + beat.String(), "SOCKGATE_CLUSTER_TTL=" + ttl.String(),
		"SOCKGATE_RATE_LIMITS=http:GET /api/rooms=0", // the test polls the room view
	}})
	user := func(cl, id string) map[string]any {
		return map[string]any{"userId": id, "userName": id, "socketId": "$id:" + cl}
	}
	join := func(cl, id string) step {
		return step{Op: "emit", C: cl, Event: "join_room", Args: []any{map[string]any{"roomName": "doomed", "user": user(cl, id), "eventName": "join_room"}}}
	}
	cl := startClients(t, c.LB.URL, plan{
		Clients: map[string]clientOpts{
			"a": {LocalAddress: c.SourceFor(t, 0), Transports: []string{"websocket"}},
			"b": {LocalAddress: c.SourceFor(t, 1), Transports: []string{"websocket"}},
		},
		Steps: []step{{Op: "connect", C: "a"}, {Op: "connect", C: "b"}, join("a", "ann"), join("b", "bea")},
	})
	for range 4 { // two connects, two join acks
		if r := cl.next(15 * time.Second); r.Op != "connect" && r.Op != "ack" {
			t.Fatalf("want connect/ack, got %s", r.Raw)
		}
	}
	if r := cl.next(15 * time.Second); r.Op != "done" {
		t.Fatalf("want done, got %s", r.Raw)
	}
	if got := roomUsers(t, c.Instances[1].URL); got != "ann,bea" {
		t.Fatalf("room on B before the kill: %q, want ann,bea", got)
	}
	c.Instances[0].Kill()
	killed := time.Now()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if got := roomUsers(t, c.Instances[1].URL); got != "bea" {
			return fmt.Errorf("room on B: %q, want bea", got)
		}
		return nil
	})
	if took := time.Since(killed); took > ttl+beat+500*time.Millisecond {
		t.Errorf("A's member expired %v after the kill; the bound is the TTL %v (+ a heartbeat)", took, ttl)
	}
}

// roomUsers returns the userIds of tutorial room "doomed" on url, joined
// by commas ("" when the room does not exist).
func roomUsers(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/rooms/doomed", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	switch res.StatusCode {
	case http.StatusNotFound:
		return ""
	case http.StatusOK:
	default:
		t.Fatalf("GET /api/rooms/doomed: %d %s", res.StatusCode, b)
	}
	var room struct{ Users []struct{ UserID string } }
	if err := json.Unmarshal(b, &room); err != nil {
		t.Fatalf("room: %d %s", res.StatusCode, b)
	}
	out := ""
	for i, u := range room.Users {
		if i > 0 {
			out += ","
		}
		out += u.UserID
	}
	return out
}
