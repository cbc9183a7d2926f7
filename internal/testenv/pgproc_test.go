package testenv

import (
	"context"
	"testing"
	"time"
)

// TestPostgresServer: a private server starts, keeps a committed row
// across a SIGKILL of its process group and a restart on the same port.
func TestPostgresServer(t *testing.T) {
	pg := StartPostgresServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := pg.Conn(t)
	if _, err := c.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	pid := pg.Pid()
	pg.Kill()
	pg.Start(t)
	if pg.Pid() == pid {
		t.Fatalf("restarted server has the old pid %d", pid)
	}
	var v int
	if err := pg.Conn(t).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: v=%d err=%v, want 42", v, err)
	}
}
