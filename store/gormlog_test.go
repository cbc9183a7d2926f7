package store

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGormLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{DSN: filepath.Join(t.TempDir(), "l.db"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.UpsertUser(ctx, User{ID: "u", Email: "secret@example.com"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "INSERT INTO users") || !strings.Contains(out, "level=DEBUG") {
		t.Fatalf("no SQL trace at Debug:\n%s", out)
	}
	if strings.Contains(out, "secret@example.com") {
		t.Fatalf("bound value logged:\n%s", out)
	}
	if strings.Contains(out, "level=ERROR") {
		t.Fatalf("error-level log from normal operation:\n%s", out)
	}

	buf.Reset()
	quiet := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s.db.Logger = gormLogger{log: quiet, slow: time.Second}
	if _, err := s.ChatByID(ctx, "nope"); err == nil {
		t.Fatal("ChatByID(nope) succeeded")
	}
	if buf.Len() != 0 {
		t.Fatalf("logged at Info level:\n%s", buf.String())
	}
}
