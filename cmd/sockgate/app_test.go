package main

import (
	"context"
	"errors"
	"flag"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestMain_Help: -h lists the flags and names the token subcommand.
func TestMain_Help(t *testing.T) {
	out := &syncBuffer{}
	m := &Main{Config: DefaultConfig(), Stderr: out, Getenv: env()}
	if err := m.ParseFlags([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("ParseFlags(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"sockgate token -sub ID", "sockgate token -h", "-jwt-user-claim", "(env SOCKGATE_JWT_USER_CLAIM)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h output lacks %q:\n%s", want, out)
		}
	}
}

// TestMain_StartupError: a start-up failure is returned (main prints it
// once) and logs no "sockgate stopped" line; a clean stop logs one
// without an empty error.
func TestMain_StartupError(t *testing.T) {
	logs := &syncBuffer{}
	m := &Main{Config: DefaultConfig(), Stderr: logs, Getenv: env()}
	missing := filepath.Join(t.TempDir(), "absent.pem")
	if err := m.ParseFlags([]string{"-addr", "127.0.0.1:0", "-jwt-alg", "RS256", "-jwt-public-key", missing, "-data-dir", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "public key file") {
		t.Fatalf("Run = %v, want the key file's error", err)
	}
	if s := logs.String(); strings.Contains(s, "stopped") || strings.Contains(s, "<nil>") {
		t.Errorf("start-up failure logged a stop:\n%s", s)
	}

	ok, okLogs := runMain(t)
	if err := ok.Close(); err != nil {
		t.Fatal(err)
	}
	if s := okLogs.String(); !strings.Contains(s, `"msg":"sockgate stopped"}`) {
		t.Errorf("clean stop not logged as such:\n%s", s)
	}
}

// TestMain_Warnings: settings that are legal but likely mistakes are
// logged at Warn when the server starts.
func TestMain_Warnings(t *testing.T) {
	_, logs := runMain(t, "-db", filepath.Join(t.TempDir(), "x.db"), "-cors-credentials")
	for _, want := range []string{
		`"level":"WARN","msg":"-db (DATABASE_URL) is set but no JWT key is configured`,
		`"level":"WARN","msg":"-cors-credentials has no effect without -cors-origins`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if w := (Config{DatabaseURL: "x.db", JWTSecret: testSecret}).warnings(); len(w) != 0 {
		t.Errorf("warnings with a JWT key: %q", w)
	}
}

// TestMakefile: `make token SUB=bob` names the user bob unless NAME is
// given, and `make run` builds the binary, then execs it (so stopping make
// stops the server), saying so before the possibly slow build.
func TestMakefile(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		testenv.Unavailable(t, "make", err)
	}
	dryRun := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("make", append([]string{"-n", "-C", filepath.Join("..", "..")}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := dryRun("token", "SUB=bob"); !strings.Contains(out, `token -sub "bob" -name "bob"`) {
		t.Errorf("make token SUB=bob runs:\n%s", out)
	}
	if out := dryRun("token", "SUB=bob", "NAME=Bob Builder"); !strings.Contains(out, `token -sub "bob" -name "Bob Builder"`) {
		t.Errorf("make token SUB=bob NAME=... runs:\n%s", out)
	}
	run := dryRun("run")
	build, exe := strings.Index(run, "go build -o bin/sockgate ./cmd/sockgate"), strings.Index(run, "exec ./bin/sockgate")
	if say := strings.Index(run, "make run: building bin/sockgate"); say < 0 || build < say || exe < build {
		t.Errorf("make run does not say, build, then exec:\n%s", run)
	}
	if !strings.Contains(run, "127.0.0.1:3000") {
		t.Errorf("make run does not default to loopback:\n%s", run)
	}
}
