package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sockgatePkg is the import path of the binary StartSockgate runs.
const sockgatePkg = "github.com/sockgate/sockgate/cmd/sockgate"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// SockgateBinary returns the path of ./cmd/sockgate built for this test
// process: built once (the go build cache makes it cheap), with the race
// detector when the tests run with it (the cluster's processes are then
// checked for races too), else static as in the Docker image. The binary
// lives in a directory named after the test process; directories of test
// processes that no longer run are removed by the next build.
func SockgateBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { buildPath, buildErr = buildSockgate() })
	if buildErr != nil {
		t.Fatalf("testenv: build sockgate: %v", buildErr)
	}
	return buildPath
}

func buildSockgate() (string, error) {
	sweepBuilds()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("sockgate-testbin-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "sockgate")
	args := []string{"build", "-o", out}
	env := os.Environ()
	if raceEnabled {
		args = append(args, "-race")
	} else {
		env = append(env, "CGO_ENABLED=0")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, sockgatePkg)...)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, b)
	}
	return out, nil
}

// sweepBuilds removes the binaries of test processes that no longer run.
func sweepBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "sockgate-testbin-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "sockgate-testbin-"))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

// SockgateConfig is how StartSockgate runs an instance. Zero values are
// the defaults named on each field.
type SockgateConfig struct {
	Name        string // in messages and log names; "sockgate" when empty
	DatabaseURL string // -db; empty: SQLite under the instance's data dir
	RedisURL    string // -redis; empty: no Redis
	JWTSecret   string // JWT_SECRET; empty: no JWT key (anonymous only, no store)
	// DataDir is -data-dir; empty: a new temporary directory.
	DataDir string
	// Env is more environment (SOCKGATE_…=…), after the defaults below, so
	// it overrides them: JSON logs at debug level, a 5 s shutdown timeout.
	Env []string
	// Args are more flags, after -addr, -db, -redis and -data-dir.
	Args []string
}

// Sockgate is a sockgate process owned by one test.
type Sockgate struct {
	*Process
	Addr string // 127.0.0.1:port it listens on
	URL  string // http://127.0.0.1:port
}

// StartSockgate runs SockgateBinary on a loopback port it picks itself
// (-addr 127.0.0.1:0, read back from its "sockgate listening" log line) and
// waits until GET /readyz answers 200. The environment is only what cfg
// says (plus PATH and HOME), never the test's SOCKGATE_* or DATABASE_URL.
// The process is stopped (SIGTERM: a graceful shutdown) when the test ends;
// a data race it reported fails the test.
func StartSockgate(t testing.TB, cfg SockgateConfig) *Sockgate {
	t.Helper()
	s := launchSockgate(t, cfg)
	if err := s.waitStarted(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return s
}

// launchSockgate starts the process (owned by t) without waiting for it.
func launchSockgate(t testing.TB, cfg SockgateConfig) *Sockgate {
	t.Helper()
	bin := SockgateBinary(t)
	if cfg.Name == "" {
		cfg.Name = "sockgate"
	}
	dir := t.TempDir()
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(dir, "data")
	}
	args := []string{"-addr", "127.0.0.1:0", "-data-dir", cfg.DataDir}
	if cfg.DatabaseURL != "" {
		args = append(args, "-db", cfg.DatabaseURL)
	}
	if cfg.RedisURL != "" {
		args = append(args, "-redis", cfg.RedisURL)
	}
	cmd := exec.Command(bin, append(args, cfg.Args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir(),
		"GORACE=halt_on_error=0",
		"SOCKGATE_LOG_FORMAT=json", "SOCKGATE_LOG_LEVEL=debug", "SOCKGATE_SHUTDOWN_TIMEOUT=5s",
	}
	if cfg.JWTSecret != "" {
		cmd.Env = append(cmd.Env, "JWT_SECRET="+cfg.JWTSecret)
	}
	cmd.Env = append(cmd.Env, cfg.Env...)

	p, err := startProcess(cfg.Name, dir, cmd)
	if err != nil {
		t.Fatalf("testenv: start %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { // runs after the Stop registered by ownedBy
		if r := raceReport(p.Log()); r != "" {
			t.Errorf("testenv: %s reported a data race:\n%s", cfg.Name, r)
		}
	})
	p.ownedBy(t)
	return &Sockgate{Process: p}
}

// waitStarted waits for the listening address and for /readyz.
func (s *Sockgate) waitStarted() error {
	return s.waitReady(30*time.Second, func() error {
		if s.Addr == "" {
			addr, err := listeningAddr(s.LogPath)
			if err != nil {
				return err
			}
			s.Addr, s.URL = addr, "http://"+addr
		}
		return s.Ready(context.Background())
	})
}

// listeningAddr reads the address from the "sockgate listening" line of a
// JSON log.
func listeningAddr(logPath string) (string, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "sockgate listening" && line.Addr != "" {
			return line.Addr, nil
		}
	}
	return "", errors.New(`no "sockgate listening" log line yet`)
}

// Ready returns nil when GET /readyz answers 200.
func (s *Sockgate) Ready(ctx context.Context) error {
	res, body, err := httpGet(ctx, s.URL+"/readyz")
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %s %s", res.Status, body)
	}
	return nil
}

// Metric returns the value of one series of the instance's /metrics, named
// as Prometheus prints it: `sockgate_sockets{namespace="/"}`. A series
// that is not there is an error.
func (s *Sockgate) Metric(ctx context.Context, series string) (float64, error) {
	res, body, err := httpGet(ctx, s.URL+"/metrics")
	if err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	for _, l := range strings.Split(body, "\n") {
		i := strings.LastIndexByte(l, ' ') // label values may hold spaces, values none
		if i > 0 && l[:i] == series {
			return strconv.ParseFloat(l[i+1:], 64)
		}
	}
	return 0, fmt.Errorf("%s: no series %s in /metrics", s.Name, series)
}

// httpGet does one bounded GET (5 s unless ctx says less) and reads the body.
func httpGet(ctx context.Context, url string) (*http.Response, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	return res, string(b), err
}
