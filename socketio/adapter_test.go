package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/socketio/parser"
)

// recordAdapter is a MemoryAdapter that records what the core passes it.
type recordAdapter struct {
	*MemoryAdapter
	mu       sync.Mutex
	timeouts []time.Duration
	ctxs     []context.Context
	closed   context.Context
}

func (r *recordAdapter) Broadcast(ctx context.Context, p *parser.Packet, opts BroadcastOptions) error {
	r.mu.Lock()
	r.ctxs = append(r.ctxs, ctx)
	r.mu.Unlock()
	return r.MemoryAdapter.Broadcast(ctx, p, opts)
}

func (r *recordAdapter) BroadcastWithAck(ctx context.Context, p *parser.Packet, opts BroadcastOptions, cc func(int), ack func(Args)) error {
	r.mu.Lock()
	r.timeouts = append(r.timeouts, opts.Flags.Timeout)
	r.mu.Unlock()
	return r.MemoryAdapter.BroadcastWithAck(ctx, p, opts, cc, ack)
}

func (r *recordAdapter) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = ctx
	r.mu.Unlock()
	return nil
}

type ctxKey struct{}

func TestAdapter_ReceivesContextAndTimeout(t *testing.T) {
	var rec *recordAdapter
	srv, err := Open(Config{AckTimeout: 3 * time.Second, Adapter: func(n *Namespace) (Adapter, error) {
		rec = &recordAdapter{MemoryAdapter: NewMemoryAdapter(n)}
		return rec, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ns := srv.Of("/")
	ctx := context.WithValue(context.Background(), ctxKey{}, "mine")
	if err := ns.To("r").EmitContext(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	if got := rec.ctxs[0].Value(ctxKey{}); got != "mine" {
		t.Fatalf("Broadcast got ctx value %v", got)
	}
	_, _ = ns.Timeout(2*time.Second).EmitWithAck(context.Background(), "e")
	dctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = ns.Timeout(5*time.Second).EmitWithAck(dctx, "e")
	_, _ = ns.EmitWithAck(context.Background(), "e")
	want := []time.Duration{2 * time.Second, time.Second, 3 * time.Second}
	for i, w := range want {
		if got := rec.timeouts[i]; got > w || got < w-200*time.Millisecond {
			t.Errorf("EmitWithAck %d passed Flags.Timeout %v, want ≈%v", i, got, w)
		}
	}
	sctx := context.WithValue(context.Background(), ctxKey{}, "shutdown")
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if rec.closed == nil || rec.closed.Value(ctxKey{}) != "shutdown" {
		t.Fatal("Close did not get Shutdown's context")
	}
}

func TestAdapterFactory_Error(t *testing.T) {
	errDown := errors.New("redis down")
	var fail sync.Map // namespace name → bool
	factory := func(n *Namespace) (Adapter, error) {
		if v, _ := fail.Load(n.Name()); v == true {
			return nil, errDown
		}
		return NewMemoryAdapter(n), nil
	}
	t.Run("Open", func(t *testing.T) {
		fail.Store("/", true)
		defer fail.Delete("/")
		if _, err := Open(Config{Adapter: factory}); !errors.Is(err, errDown) {
			t.Fatalf("Open err = %v, want %v", err, errDown)
		}
	})
	t.Run("OfErrRetries", func(t *testing.T) {
		srv, err := Open(Config{Adapter: factory})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown(context.Background())
		fail.Store("/static", true)
		if _, err := srv.OfErr("/static"); !errors.Is(err, errDown) {
			t.Fatalf("OfErr err = %v", err)
		}
		fail.Delete("/static")
		if n, err := srv.OfErr("/static"); err != nil || n == nil {
			t.Fatalf("OfErr after recovery = %v, %v", n, err)
		}
	})
	t.Run("DynamicRefused", func(t *testing.T) {
		fail.Store("/dyn", true)
		defer fail.Delete("/dyn")
		_, u := newTestServer(t, Config{Adapter: factory}, func(s *Server) {
			s.OfFunc(func(string, json.RawMessage) bool { return true }, func(*Namespace) {})
		})
		c := dial(t, u)
		_, err := c.Connect(testCtx(t), "/dyn", nil)
		if err == nil || err.Error() != "connect_error: server error" {
			t.Fatalf("connect err = %v, want connect_error: server error", err)
		}
		fail.Delete("/dyn")
		if _, err := c.Connect(testCtx(t), "/dyn", nil); err != nil {
			t.Fatalf("connect after recovery: %v", err)
		}
	})
}
