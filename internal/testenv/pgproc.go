package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresServer is a private PostgreSQL server owned by one test: its own
// cluster (initdb) in a temporary directory, a postmaster on a free
// loopback port with trust authentication for user postgres. Unlike
// Postgres (a database on the shared server), tests may kill it by PID,
// restart it on the same data directory (crash recovery), lock its tables
// or change its configuration (ALTER SYSTEM).
//
// PostgreSQL refuses to run as root: when the tests run as root, initdb
// and the server run as the system user "postgres" (Debian's package
// creates it), the data directory is owned by that user.
type PostgresServer struct {
	*Process
	Addr    string // 127.0.0.1:port
	DataDir string

	bin    string // directory holding initdb and postgres
	logDir string // of the server's logs, outside the data directory
	cred   *syscall.Credential
	port   int
}

// StartPostgresServer initialises a cluster and starts its server on a
// free loopback port, waiting until it accepts connections. The server is
// stopped and its directory removed when the test ends. Missing binaries
// (Debian package postgresql) or no "postgres" user to run them as, when
// root: the test is Unavailable.
func StartPostgresServer(t testing.TB) *PostgresServer {
	t.Helper()
	p := &PostgresServer{bin: postgresBinDir(t), cred: postgresCredential(t), logDir: t.TempDir()}
	p.DataDir = p.makeDataDir(t)
	p.initdb(t)
	var port int
	p.Process, port = startOnFreePort(t, "postgres", p.logDir, p.command, p.ready)
	p.port = port
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return p
}

// URL returns the DSN of database "postgres" as user postgres.
func (p *PostgresServer) URL() string {
	return "postgres://postgres@" + p.Addr + "/postgres?sslmode=disable"
}

// Kill SIGKILLs the server's process group (postmaster and backends) and
// returns once the postmaster has exited and, within 5 s, every process of
// the group: a backend forked while the signal was sent escapes it, and
// holds the shared memory that a new postmaster refuses to share.
func (p *PostgresServer) Kill() {
	p.Process.Kill()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); errors.Is(err, syscall.ESRCH) {
			return
		}
	}
}

// Start starts the server again on the same data directory and port after
// Kill or Stop (PostgreSQL coming back: after a SIGKILL it runs crash
// recovery first) and waits until it accepts connections. A start refused
// while the last processes of the old server exit is tried again, three
// times.
func (p *PostgresServer) Start(t testing.TB) {
	t.Helper()
	var errs []error
	for range 3 {
		proc, err := startProcess("postgres", p.logDir, p.command(p.port))
		if err != nil {
			t.Fatalf("testenv: restart postgres: %v", err)
		}
		if err := proc.waitReady(60*time.Second, func() error { return p.ready(proc, p.port) }); err != nil {
			proc.Kill()
			errs = append(errs, err)
			time.Sleep(200 * time.Millisecond) // no condition to await: the old processes are not ours to wait for
			continue
		}
		proc.ownedBy(t)
		p.Process = proc
		return
	}
	t.Fatalf("testenv: restart postgres on %s: %v", p.Addr, errors.Join(errs...))
}

// Conn returns a connection to database "postgres" as superuser, closed
// when the test ends.
func (p *PostgresServer) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", p.Addr, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// makeDataDir creates the cluster directory, owned by the server's user.
// It is not under t.TempDir: that directory is private to root. It is
// removed after the server stopped (cleanups run last-in first-out);
// those of killed test processes by the next call.
func (p *PostgresServer) makeDataDir(t testing.TB) string {
	t.Helper()
	sweepTemp("sockgate-pg-", nil)
	dir, err := os.MkdirTemp("", fmt.Sprintf("sockgate-pg-%d-", os.Getpid()))
	if err != nil {
		t.Fatalf("testenv: postgres data dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if p.cred != nil {
		if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatalf("testenv: chown %s: %v", dir, err)
		}
	}
	return filepath.Join(dir, "data") // initdb creates it, with the mode it wants
}

// initdb creates the cluster: trust authentication, UTF-8, C locale, no
// fsync of the new files (a test cluster).
func (p *PostgresServer) initdb(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, "initdb"),
		"-D", p.DataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	p.prepare(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
}

// command is the postmaster on port: loopback TCP only, its Unix socket in
// the data directory, logs on stderr. fsync is off: the tests kill
// processes, never the machine, and the page cache survives a process.
func (p *PostgresServer) command(port int) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.DataDir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+p.DataDir,
		"-c", "fsync=off", "-c", "max_connections=60", "-c", "shared_buffers=16MB",
		"-c", "logging_collector=off", "-c", "log_min_messages=warning")
	p.prepare(cmd)
	return cmd
}

// prepare runs cmd as the server's user, in its directory.
func (p *PostgresServer) prepare(cmd *exec.Cmd) {
	cmd.Dir = filepath.Dir(p.DataDir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
}

// ready reports whether the server on port accepts queries and is proc
// (its postmaster.pid names proc), not another server on that port.
func (p *PostgresServer) ready(proc *Process, port int) error {
	b, err := os.ReadFile(filepath.Join(p.DataDir, "postmaster.pid"))
	if err != nil {
		return err
	}
	if pid, _, _ := strings.Cut(string(b), "\n"); pid != strconv.Itoa(proc.Pid()) {
		return fmt.Errorf("postmaster.pid names %s, not ours (%d)", pid, proc.Pid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.Ping(ctx)
}

// postgresBinDir finds the directory of initdb and postgres: the one of
// initdb on PATH (symlinks resolved), else the newest
// /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
func postgresBinDir(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if dir := filepath.Dir(p); isExecutable(filepath.Join(dir, "postgres")) {
			return dir
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir
		}
	}
	Unavailable(t, "initdb", errors.New("initdb and postgres not found on PATH nor in /usr/lib/postgresql/*/bin (Debian package postgresql)"))
	return ""
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// postgresCredential is the user the server runs as: nil (the test's own)
// unless the tests run as root, then the system user "postgres".
func postgresCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		Unavailable(t, "postgres user", fmt.Errorf("PostgreSQL does not run as root and there is no user postgres to run it as: %v", err))
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("testenv: user postgres: %v", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}

// sweepTemp removes the directories os.TempDir()/<prefix><pid>-* that test
// processes no longer running left behind (a test binary killed before
// its cleanups), first calling before on each (to unmount it, say). Best
// effort.
func sweepTemp(prefix string, before func(dir string)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range dirs {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue
		}
		if before != nil {
			before(d)
		}
		_ = os.RemoveAll(d)
	}
}
