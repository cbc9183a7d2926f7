package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProcess(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		Unavailable(t, "sh", err)
	}

	t.Run("StoppedAtCleanupWithItsGroup", func(t *testing.T) {
		var parent, child int
		t.Run("Owner", func(t *testing.T) {
			// A shell with a child of its own: the cleanup's SIGTERM goes
			// to the whole process group.
			p := StartProcess(t, "sh", t.TempDir(), exec.Command(sh, "-c", "sleep 300 & echo $!; wait"))
			WaitFor(t, 5*time.Second, func() error {
				if p.Log() == "" {
					return errors.New("no pid printed yet")
				}
				return nil
			})
			parent = p.Pid()
			if _, err := fmt.Sscan(p.Log(), &child); err != nil {
				t.Fatal(err)
			}
		})
		for _, pid := range []int{parent, child} {
			WaitFor(t, 5*time.Second, func() error {
				if running(pid) {
					return fmt.Errorf("process %d still runs after the test ended", pid)
				}
				return nil
			})
		}
	})

	t.Run("Kill", func(t *testing.T) {
		p := StartProcess(t, "sleep", t.TempDir(), exec.Command("sleep", "300"))
		p.Kill()
		select {
		case <-p.Exited():
		default:
			t.Fatal("Kill returned before the process exited")
		}
		if p.Err() == nil {
			t.Fatal("a killed process reports a clean exit")
		}
	})
}

func TestFreePort(t *testing.T) {
	if p := FreePort(t); p <= 0 || p > 65535 {
		t.Fatalf("port %d", p)
	}
}

// running reports whether pid exists and is not a zombie (an orphan's
// zombie lasts until init reaps it).
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}
