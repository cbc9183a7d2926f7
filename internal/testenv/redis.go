package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the server used when REDIS_URL is not set: the local
// Redis, database 0.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Redis returns a client to the Redis named by REDIS_URL (else
// DefaultRedisURL), already pinged, and a key prefix unique to this call
// ("sockgate_test:<pid>:<random>:"). Tests must put every key they create
// under the prefix: at cleanup the keys matching it are deleted (SCAN, not
// KEYS, so a shared server is not blocked) and the client is closed. Redis
// has no cheap per-test database, so the prefix is the isolation; tests that
// share one namespace must pass the prefix around rather than call Redis twice.
// A server that cannot be reached makes the test Unavailable.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = DefaultRedisURL
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testenv: REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		Unavailable(t, "redis", err)
	}

	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	prefix := fmt.Sprintf("sockgate_test:%d:%s:", os.Getpid(), hex.EncodeToString(b[:]))

	t.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, redisGlobEscape(prefix)+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("testenv: scan redis keys %s*: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := client.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("testenv: delete redis keys %s*: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
	return client, prefix
}

// redisGlobEscape escapes the characters that are special in a Redis MATCH
// pattern, so the prefix matches only itself.
func redisGlobEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// RedisSpace is one test's part of the shared Redis: the client and a key
// prefix unique to the test, without the trailing ":" (the form sockgate's
// packages take a prefix in). Several instances under test share it as they
// would share a production Redis.
type RedisSpace struct {
	Client *redis.Client
	Prefix string
}

// NewRedisSpace returns a RedisSpace on the shared Redis (see Redis).
func NewRedisSpace(t testing.TB) RedisSpace {
	t.Helper()
	rc, prefix := Redis(t)
	return RedisSpace{Client: rc, Prefix: strings.TrimSuffix(prefix, ":")}
}

// Keys lists the space's keys that contain part, without the prefix, sorted.
func (s RedisSpace) Keys(t testing.TB, part string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := s.Client.Scan(ctx, 0, s.Prefix+":*", 500).Iterator()
	for iter.Next(ctx) {
		if k := strings.TrimPrefix(iter.Val(), s.Prefix); strings.Contains(k, part) {
			out = append(out, k)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
