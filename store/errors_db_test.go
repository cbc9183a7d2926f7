package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/libtnb/sqlite"
	"gorm.io/gorm"

	"github.com/sockgate/sockgate/internal/testenv"
)

// Issue 9 item 4: every store failure a retry may not meet wraps
// ErrUnavailable (the gateway answers `unavailable`, not `internal`), each
// case produced on a real database.

// sendSetup creates a chat of "u" and returns the message CreateMessage
// will store in it.
func sendSetup(t *testing.T, s *Store) NewMessage {
	t.Helper()
	c, err := s.CreateChat(t.Context(), NewChat{Kind: KindGeneral, Title: "t", CreatorID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	return NewMessage{ChatID: c.ID, SenderID: "u", Content: "hello"}
}

// lockChats holds LOCK TABLE chats on another connection of dsn until the
// returned function (also run at Cleanup) releases it.
func lockChats(t *testing.T, dsn string) (release func()) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE chats IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(context.Background())
			_ = conn.Close(context.Background())
		})
	}
	t.Cleanup(release)
	return release
}

// waitLockWaiter returns the pid of the backend of dsn's database waiting
// on a lock (the blocked statement).
func waitLockWaiter(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var pid int
	testenv.WaitFor(t, 10*time.Second, func() error {
		return conn.QueryRow(t.Context(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' LIMIT 1").Scan(&pid)
	})
	return pid
}

// sendAsync runs CreateMessage in the background.
func sendAsync(s *Store, nm NewMessage) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _, err := s.CreateMessage(ctx, nm)
		done <- err
	}()
	return done
}

// wantUnavailable fails unless err wraps ErrUnavailable and names what.
func wantUnavailable(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v: want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), what) {
		t.Fatalf("err %v: want it to say %q", err, what)
	}
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestErrors_postgresRetryable(t *testing.T) {
	t.Run("BackendTerminatedMidStatement", func(t *testing.T) {
		s, dsn := openTest(t, DialectPostgres, 0)
		nm := sendSetup(t, s)
		lockChats(t, dsn)
		done := sendAsync(s, nm)
		pid := waitLockWaiter(t, dsn)
		admin, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(t.Context(), "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		err = <-done
		wantUnavailable(t, err, "create message")
		if c := pgCode(err); c != "57P01" && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Logf("terminated: %v (code %q)", err, c)
		}
	})
	t.Run("ConnectionLostMidStatement", func(t *testing.T) {
		// A TCP proxy between the Store and PostgreSQL drops every
		// connection while a statement waits on a lock: pgx reads
		// `unexpected EOF`, no SQLSTATE.
		dsn := testenv.Postgres(t)
		proxy := startProxy(t, dsn)
		s := openDSN(t, proxy.dsn, 0)
		nm := sendSetup(t, s)
		lockChats(t, dsn)
		done := sendAsync(s, nm)
		waitLockWaiter(t, dsn)
		proxy.cut()
		err := <-done
		wantUnavailable(t, err, "create message")
		if pgCode(err) != "" {
			t.Fatalf("connection lost: %v, want no SQLSTATE", err)
		}
	})
	t.Run("StatementTimeout", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		s := openConfig(t, Config{DSN: dsn, StatementTimeout: 300 * time.Millisecond, LockTimeout: -1})
		nm := sendSetup(t, s)
		lockChats(t, dsn)
		err := <-sendAsync(s, nm)
		wantUnavailable(t, err, "statement timeout")
		if c := pgCode(err); c != "57014" {
			t.Fatalf("code %q, want 57014", c)
		}
	})
	t.Run("LockTimeout", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		s := openConfig(t, Config{DSN: dsn, StatementTimeout: 20 * time.Second, LockTimeout: 200 * time.Millisecond})
		nm := sendSetup(t, s)
		lockChats(t, dsn)
		err := <-sendAsync(s, nm)
		wantUnavailable(t, err, "lock timeout")
		if c := pgCode(err); c != "55P03" {
			t.Fatalf("code %q, want 55P03", c)
		}
		if perr := s.Ping(t.Context()); !errors.Is(perr, ErrUnavailable) {
			t.Fatalf("Ping after a failed write: %v, want ErrUnavailable", perr)
		}
	})
	t.Run("Deadlock", func(t *testing.T) {
		// Two Stores update two users in opposite orders; PostgreSQL
		// aborts one of them with 40P01.
		s1, dsn := openTest(t, DialectPostgres, 0)
		s2 := openDSN(t, dsn, 0)
		for _, id := range []string{"a", "b"} {
			if err := s1.UpsertUser(t.Context(), User{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		first := make(chan struct{}, 2)
		cross := func(s *Store, x, y string) error {
			return wrap("deadlock", s.write(t.Context(), func(tx *gorm.DB) error {
				if err := tx.Exec("UPDATE users SET name = 'x' WHERE id = ?", x).Error; err != nil {
					return err
				}
				first <- struct{}{}
				for len(first) < 2 { // both hold their first row
					time.Sleep(time.Millisecond)
				}
				return tx.Exec("UPDATE users SET name = 'y' WHERE id = ?", y).Error
			}))
		}
		errs := make(chan error, 2)
		go func() { errs <- cross(s1, "a", "b") }()
		go func() { errs <- cross(s2, "b", "a") }()
		e1, e2 := <-errs, <-errs
		err := errors.Join(e1, e2)
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("want exactly one deadlock victim: %v / %v", e1, e2)
		}
		wantUnavailable(t, err, "deadlock")
		if c := pgCode(err); c != "40P01" {
			t.Fatalf("code %q, want 40P01", c)
		}
	})
}

// TestCreateMessage_commitOutcomeUnknown: the COMMIT reaches the server,
// which commits, but its answer is lost with the connection. The message
// is stored, so CreateMessage must say so (its sender is answered success
// and the chat gets it), not ErrUnavailable. A trigger holds the COMMIT on
// an advisory lock until the proxy is set to lose the reply.
func TestCreateMessage_commitOutcomeUnknown(t *testing.T) {
	dsn := testenv.Postgres(t)
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	proxy := startProxy(t, dsn)
	s := openDSN(t, proxy.dsn, 0)
	for _, q := range []string{
		`CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN PERFORM pg_advisory_xact_lock(4243); RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT ON messages
		 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_slow_commit()`,
		`SELECT pg_advisory_lock(4243)`,
	} {
		if _, err := admin.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	nm := sendSetup(t, s)
	s.sqlDB.SetMaxIdleConns(0) // only the transaction's connection is open below
	done := make(chan error, 1)
	var m Message
	var created bool
	go func() {
		var err error
		m, created, err = s.CreateMessage(context.Background(), nm)
		done <- err
	}()
	testenv.WaitFor(t, 10*time.Second, func() error {
		var n int
		if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4243 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&n); err != nil || n == 0 {
			return fmt.Errorf("no COMMIT waiting (%v)", err)
		}
		return nil
	})
	proxy.dropNextReplies()
	if _, err := admin.Exec(t.Context(), "SELECT pg_advisory_unlock(4243)"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || !created {
		t.Fatalf("CreateMessage whose COMMIT answer was lost: created %v, err %v; want the committed message", created, err)
	}
	if got, err := s.MessageByID(t.Context(), m.ID); err != nil || got.Content != nm.Content {
		t.Fatalf("stored: %+v, %v", got, err)
	}
}

// TestErrors_postgresCodes classifies the SQLSTATEs that are impractical to
// provoke on a shared test server (out of disk, too many connections for a
// superuser, a serialization failure needs SERIALIZABLE, which the store
// does not use).
func TestErrors_postgresCodes(t *testing.T) {
	for code, want := range map[string]bool{
		"08006": true, "08001": true, "53100": true, "53200": true, "53300": true, "57P01": true,
		"57P03": true, "57014": true, "55P03": true, "40001": true, "40P01": true, "58030": true,
		"23505": false, "23503": false, "42P01": false, "22001": false,
	} {
		err := fmt.Errorf("x: %w", &pgconn.PgError{Code: code})
		if got := isUnavailable(err); got != want {
			t.Errorf("SQLSTATE %s: unavailable %v, want %v", code, got, want)
		}
	}
	for _, err := range []error{io.ErrUnexpectedEOF, fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF)} {
		if !isUnavailable(err) {
			t.Errorf("%v: not unavailable", err)
		}
	}
}

// proxy forwards TCP to PostgreSQL and can drop every connection at once,
// or let the connections open now lose the server's next reply.
type proxy struct {
	dsn   string
	mu    sync.Mutex
	conns []net.Conn
	drops []*atomic.Bool // per connection: drop the next reply and close
}

// dropNextReplies makes every connection open now lose the server's next
// answer (the client's request reached the server) and close.
func (p *proxy) dropNextReplies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.drops {
		d.Store(true)
	}
}

// startProxy listens on 127.0.0.1:0 in front of dsn's server.
func startProxy(t *testing.T, dsn string) *proxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	target := u.Host
	u.Host = ln.Addr().String()
	p := &proxy{dsn: u.String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			drop := new(atomic.Bool)
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.drops = append(p.drops, drop)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { replies(c, up, drop); c.Close(); up.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

// replies copies the server's bytes to the client until drop is set: the
// next chunk is then discarded and the copy ends.
func replies(c, up net.Conn, drop *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if drop.Load() {
			return
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every proxied connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func openConfig(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mountTmpfs mounts a tmpfs of size on a new directory, unmounted at
// Cleanup. Without the privilege it skips, or fails under CI=true.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "mount tmpfs (root)", fmt.Errorf("%v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func wantSQLite(t *testing.T, err error, code int) {
	t.Helper()
	c, ok := sqliteCode(err)
	if !ok || c&0xff != code {
		t.Fatalf("err %v: want SQLite result code %d", err, code)
	}
}

func TestErrors_sqliteRetryable(t *testing.T) {
	t.Run("DiskFull", func(t *testing.T) {
		dir := mountTmpfs(t, "512k")
		s := openDSN(t, filepath.Join(dir, "full.db"), 0)
		nm := sendSetup(t, s)
		nm.Content = strings.Repeat("0123456789", 3000) // 30 kB a message
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, _, err = s.CreateMessage(t.Context(), nm)
		}
		wantUnavailable(t, err, "disk is full")
		wantSQLite(t, err, 13) // SQLITE_FULL
		if perr := s.Ping(t.Context()); !errors.Is(perr, ErrUnavailable) {
			t.Fatalf("Ping with a full disk: %v, want ErrUnavailable", perr)
		}
	})
	t.Run("ReadOnlyDatabase", func(t *testing.T) {
		// The same file opened read-only (SQLite URI mode=ro), as a
		// database whose file cannot be written: SQLITE_READONLY.
		s, path := openTest(t, DialectSQLite, 0)
		nm := sendSetup(t, s)
		ro := readOnly(t, s, path)
		_, _, err := ro.CreateMessage(t.Context(), nm)
		wantUnavailable(t, err, "readonly")
		wantSQLite(t, err, 8) // SQLITE_READONLY
	})
	t.Run("ReadOnlyFileSystem", func(t *testing.T) {
		// The file system remounted read-only under a running Store (its
		// connections closed meanwhile): SQLITE_CANTOPEN (WAL needs its
		// shared-memory file).
		dir := mountTmpfs(t, "4m")
		s := openDSN(t, filepath.Join(dir, "ro.db"), 0)
		nm := sendSetup(t, s)
		s.sqlDB.SetMaxIdleConns(0) // no connection stays open across the remount
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			testenv.Unavailable(t, "remount read-only", fmt.Errorf("%v: %s", err, out))
		}
		_, _, err := s.CreateMessage(t.Context(), nm)
		wantUnavailable(t, err, "create message")
		if c, _ := sqliteCode(err); c&0xff != 14 && c&0xff != 8 {
			t.Fatalf("err %v: want SQLITE_CANTOPEN or SQLITE_READONLY", err)
		}
		if out, err := exec.Command("mount", "-o", "remount,rw", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount rw: %v: %s", err, out)
		}
	})
}

// readOnly returns a Store on s's file whose connections are read-only.
func readOnly(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	dsn, err := sqliteDSN(path, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	db, err := gorm.Open(sqlite.Open("file:"+dsn+"&mode=ro"), &gorm.Config{TranslateError: true, SkipDefaultTransaction: true, Logger: gormLogger{log: s.log}})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return &Store{db: db, sqlDB: sqlDB, dialect: s.dialect, log: s.log, now: s.now, ids: s.ids,
		writer: make(chan struct{}, 1), commitGrace: s.commitGrace, probeID: "ro"}
}
