package store

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
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
	// A read's bound values stay out too (GORM's Scan recorded its SQL
	// with them, past the ParamsFilter, so they reached the Debug trace
	// and the slow-SQL warning).
	if _, err := s.UserByID(ctx, "secret-user-id"); err == nil {
		t.Fatal("UserByID(secret-user-id) found a user")
	}
	out := buf.String()
	if strings.Contains(out, "secret-user-id") {
		t.Fatalf("bound value of a read logged:\n%s", out)
	}
	if !strings.Contains(out, "FROM users WHERE id = ") {
		t.Fatalf("no SQL trace of the read:\n%s", out)
	}
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

// TestGormLogger_NoScan: no store query uses GORM's Scan (see gormLogger).
func TestGormLogger_NoScan(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	scan := regexp.MustCompile(`\)\s*\.Scan\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if scan.MatchString(line) && !strings.Contains(line, "Row().Scan(") {
				t.Errorf("%s:%d: GORM Scan (use Find): %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
