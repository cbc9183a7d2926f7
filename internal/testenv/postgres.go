package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var sweepOnce sync.Once

// dbPrefix is the name prefix of this host's test databases:
// sockgate_test_<host hash>_ (the pid and a random suffix follow).
func dbPrefix() string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host))
	return "sockgate_test_" + hex.EncodeToString(sum[:4]) + "_"
}

// sweepDatabases drops test databases left by killed test processes of this
// host (their pid no longer runs). Databases of other hosts sharing the
// server are never touched. Best effort: errors are ignored.
func sweepDatabases(ctx context.Context, admin *pgx.Conn) {
	prefix := dbPrefix()
	rows, err := admin.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(name, prefix), "_")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // alive (or not ours to judge)
		}
		admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

// DefaultPostgresURL is the server used when DATABASE_URL is not set: the
// local PostgreSQL with trust authentication.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Postgres returns the DSN of a new, empty database on the PostgreSQL server
// named by DATABASE_URL (else DefaultPostgresURL). The database is created for
// this call, named after the host and test process (databases left behind by
// a killed test process of this host are dropped by the next run), and
// dropped (WITH (FORCE), so lingering connections do not block it) when the
// test ends. A server that cannot be reached makes the test Unavailable.
//
// Every call gets its own database: tests that share one must pass the DSN
// around rather than call Postgres twice.
func Postgres(t testing.TB) string {
	t.Helper()
	server := os.Getenv("DATABASE_URL")
	if server == "" {
		server = DefaultPostgresURL
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("testenv: DATABASE_URL: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		Unavailable(t, "postgres", err)
	}
	defer admin.Close(context.Background())

	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	sweepOnce.Do(func() { sweepDatabases(ctx, admin) })
	name := fmt.Sprintf("%s%d_%s", dbPrefix(), os.Getpid(), hex.EncodeToString(b[:]))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		Unavailable(t, "postgres (create database)", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	return u.String()
}
