package cluster

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

func TestConfig_WithDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	if c.Prefix != "sockgate" || c.InstanceID == "" || c.Heartbeat != DefaultHeartbeat || c.TTL != 3*DefaultHeartbeat {
		t.Errorf("defaults %+v", c)
	}
	if c2 := (Config{}).WithDefaults(); c2.InstanceID == c.InstanceID {
		t.Error("two instances drew the same id")
	}
	c = Config{Heartbeat: time.Second, TTL: time.Second}.WithDefaults()
	if c.TTL != 3*time.Second {
		t.Errorf("TTL not above the heartbeat kept: %v", c.TTL)
	}
}

// TestHeartbeat: the key exists while the heartbeat runs (refreshed past
// its TTL), and expires after Stop.
func TestHeartbeat(t *testing.T) {
	rc, prefix := testenv.Redis(t)
	c := Config{Redis: rc, Prefix: prefix, Heartbeat: 50 * time.Millisecond, TTL: 150 * time.Millisecond}.WithDefaults()
	key := prefix + ":alive:x"
	h := StartHeartbeat(c, key, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	testenv.WaitFor(t, 2*time.Second, func() error {
		if rc.Exists(ctx, key).Val() != 1 {
			return errors.New("no heartbeat key")
		}
		return nil
	})
	start := time.Now()
	testenv.WaitFor(t, 2*time.Second, func() error {
		if rc.Exists(ctx, key).Val() != 1 {
			t.Fatalf("key expired while the heartbeat ran")
		}
		if time.Since(start) < 3*c.TTL {
			return errors.New("still watching")
		}
		return nil
	})
	h.Stop()
	testenv.WaitFor(t, 2*time.Second, func() error {
		if rc.Exists(ctx, key).Val() != 0 {
			return errors.New("key outlived the stopped heartbeat")
		}
		return nil
	})
}
