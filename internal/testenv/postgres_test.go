package testenv

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dsn string
	t.Run("Created", func(t *testing.T) {
		dsn = Postgres(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var tables int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("fresh database has %d tables (%v)", tables, err)
		}
		// Stay connected: cleanup must drop it anyway (WITH (FORCE)).
		if _, err := conn.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
			t.Fatal(err)
		}
	})
	admin := adminConn(t, ctx)
	if exists(t, ctx, admin, dbName(t, dsn)) {
		t.Fatalf("database of %s not dropped at cleanup", dsn)
	}

	t.Run("SweepsDeadProcesses", func(t *testing.T) {
		stale := dbPrefix() + "999999999_000000000000" // no such pid
		live := dbPrefix() + strconv.Itoa(os.Getpid()) + "_ffffffffffff"
		for _, name := range []string{stale, live} {
			if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{live}.Sanitize()) })
		sweepDatabases(ctx, admin)
		if exists(t, ctx, admin, stale) {
			t.Fatal("stale database not swept")
		}
		if !exists(t, ctx, admin, live) {
			t.Fatal("database of a live process swept")
		}
	})
}

func adminConn(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	server := os.Getenv("DATABASE_URL")
	if server == "" {
		server = DefaultPostgresURL
	}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		Unavailable(t, "postgres", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exists(t *testing.T, ctx context.Context, conn *pgx.Conn, name string) bool {
	t.Helper()
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func dbName(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}
