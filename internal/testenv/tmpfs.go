package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a new directory and returns its
// path: a small file system that fills up (disk-full tests). It is
// unmounted and removed when the test ends (those of killed test
// processes by the next call). Mounting needs root (or
// CAP_SYS_ADMIN); without it the test is Unavailable.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	sweepTemp("sockgate-tmpfs-", func(d string) { _ = syscall.Unmount(d, syscall.MNT_DETACH) })
	dir, err := os.MkdirTemp("", fmt.Sprintf("sockgate-tmpfs-%d-", os.Getpid()))
	if err != nil {
		t.Fatalf("testenv: tmpfs dir: %v", err)
	}
	opts := "size=" + strconv.FormatInt(size, 10) + ",mode=0700"
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		_ = os.Remove(dir)
		Unavailable(t, "mount", fmt.Errorf("mount -t tmpfs -o %s: %w", opts, err))
	}
	t.Cleanup(func() {
		// Lazily: a process the test failed to stop must not keep it mounted.
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("testenv: umount %s: %v", dir, err)
			return
		}
		_ = os.Remove(dir)
	})
	return dir
}

// FillDisk writes zeros to a new file in dir until the file system is
// full (ENOSPC) and returns the file's path; removing it frees the space.
// The file is removed when the test ends.
func FillDisk(t testing.TB, dir string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-")
	if err != nil {
		t.Fatalf("testenv: fill %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := len(buf); n >= 1; n /= 2 { // the last few KiB too
		for {
			if _, err = f.Write(buf[:n]); err != nil {
				break
			}
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("testenv: fill %s: %v", dir, err)
		}
	}
	return filepath.Clean(f.Name())
}
