package redis

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestAdapter_MalformedIgnored: garbage and unknown messages on every
// channel are counted and ignored; the cluster keeps working.
func TestAdapter_MalformedIgnored(t *testing.T) {
	r := testenv.StartRedisServer(t)
	a, b := startNode(t, r, testConfig()), startNode(t, r, testConfig())
	waitServers(t, "/", 2, a, b)
	cb := connect(t, b, "/", "b1", "r")
	raw := r.Client(t)
	ad := b.adapter("/")
	junk := map[string][]string{
		ad.w.(*classic).broadcastCh: {"", "\xc1", "\x93\xa1a", "\x93\xa1a\x83\xa4type\x09\xa4data\x90\xa3nsp\xa1/\x80", "{}",
			"\x93\xa1z\x83\xa4type\x02\xa4data\xa1x\xa3nsp\xa1/\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80"}, // data not an array
		ad.w.(*classic).broadcastCh + "r#": {"\x92\x01\x02"},
		ad.w.(*classic).requestCh:          {"{", `{"type":99}`, `{"type":4}`, "\x81\xa4type\x07", `{"type":6,"data":[1]}`},
		ad.w.(*classic).responseCh:         {"{", `{"requestId":"nobody","sockets":[]}`, "\xc1"},
	}
	sent := 0
	ctx := testCtx(t)
	for ch, msgs := range junk {
		for _, m := range msgs {
			if err := raw.Publish(ctx, ch, m).Err(); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	if err := a.srv.Of("/").To("r").Emit("m", "still works"); err != nil {
		t.Fatal(err)
	}
	cb.expect(t, "m", `"still works"`)
	if st := ad.Stats(); st.Malformed < 10 {
		t.Fatalf("stats %+v: want most of the %d junk messages counted as malformed", st, sent)
	}
	if socks, err := a.srv.Of("/").FetchSockets(ctx); err != nil || len(socks) != 1 {
		t.Fatalf("FetchSockets after junk: %d, %v", len(socks), err)
	}
}

// TestAdapter_RedisRestart: while Redis is down local delivery works and
// publishes fail fast; when it is back the subscriptions come back by
// themselves, NUMSUB counts every server again and broadcasts cross.
func TestAdapter_RedisRestart(t *testing.T) {
	r := testenv.StartRedisServer(t)
	a, b := startNode(t, r, testConfig()), startNode(t, r, testConfig())
	waitServers(t, "/", 2, a, b)
	ca, cb := connect(t, a, "/", "a1", "r"), connect(t, b, "/", "b1", "r")
	r.Stop()

	start := time.Now()
	err := a.srv.Of("/").To("r").Emit("m", "while down")
	if err == nil {
		t.Fatal("Emit while Redis is down returned no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Emit failed after %v, want fast", d)
	}
	ca.expect(t, "m", `"while down"`) // local delivery regardless
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := a.srv.Of("/").FetchSockets(ctx); err == nil {
		t.Fatal("FetchSockets while Redis is down returned no error")
	}

	r.Start(t)
	waitServers(t, "/", 2, a, b)
	// A broadcast sent right after NUMSUB is back may still race the
	// other server's re-subscription of its pattern: retry until it lands.
	testenv.WaitFor(t, 5*time.Second, func() error {
		if err := a.srv.Of("/").To("r").Emit("m", "back"); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, name, _, err := cb.NextEvent(ctx, "/"); err != nil || name != "m" {
			return fmt.Errorf("b got %q, %v", name, err)
		}
		return nil
	})
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, _, _, err := ca.NextEvent(ctx, "/") // drain a's own copies
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
	}
	if st := b.adapter("/").Stats(); st.Reconnects == 0 {
		t.Fatalf("stats %+v: no reconnect counted", st)
	}
}
