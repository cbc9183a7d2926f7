package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is the server used when DATABASE_URL is not set: the
// local PostgreSQL with trust authentication.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Postgres returns the DSN of a new, empty database on the PostgreSQL server
// named by DATABASE_URL (else DefaultPostgresURL). The database is created for
// this call, named after the test process so leftovers are recognisable, and
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
	name := fmt.Sprintf("sockgate_test_%d_%s", os.Getpid(), hex.EncodeToString(b[:]))
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
