package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/store"
)

func TestFiles_Put(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := store.Files{Dir: filepath.Join(dir, "files")}

	t.Run("ContentAddressed", func(t *testing.T) {
		sum, size, err := f.Put(ctx, strings.NewReader("hello"), 10)
		if err != nil || sum != sumA || size != 5 {
			t.Fatalf("Put = %s %d %v", sum, size, err)
		}
		if _, err := os.Stat(filepath.Join(f.Dir, sumA[:2], sumA[2:])); err != nil {
			t.Fatalf("file not at its address: %v", err)
		}
		// Same content again: same address, no error.
		sum2, _, err := f.Put(ctx, strings.NewReader("hello"), 10)
		if err != nil || sum2 != sum {
			t.Fatalf("second Put = %s %v", sum2, err)
		}
		r, err := f.Open(ctx, sum)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.Seek(1, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		if string(b) != "ello" {
			t.Fatalf("read after seek = %q", b)
		}
	})
	t.Run("ExactlyMax", func(t *testing.T) {
		_, size, err := f.Put(ctx, strings.NewReader("12345"), 5)
		if err != nil || size != 5 {
			t.Fatalf("Put at the limit = %d %v", size, err)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		_, _, err := f.Put(ctx, strings.NewReader("123456"), 5)
		wantErr(t, err, store.ErrTooLarge)
		assertNoTemp(t, f.Dir)
	})
	t.Run("Cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		r := &cancellingReader{cancel: cancel}
		_, _, err := f.Put(cctx, r, 0)
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("err = %v, want context canceled", err)
		}
		assertNoTemp(t, f.Dir)
	})
	t.Run("Streams", func(t *testing.T) {
		// 64 MiB through Put must not be buffered in memory.
		const n = 64 << 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h := sha256.New()
		sum, size, err := f.Put(ctx, io.TeeReader(io.LimitReader(patternReader{}, n), h), n)
		runtime.ReadMemStats(&after)
		if err != nil || size != n || sum != hex.EncodeToString(h.Sum(nil)) {
			t.Fatalf("Put = %s %d %v", sum, size, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Fatalf("Put of %d bytes allocated %d bytes", n, alloc)
		}
	})
	t.Run("OpenErrors", func(t *testing.T) {
		_, err := f.Open(ctx, strings.Repeat("0", 64))
		wantErr(t, err, store.ErrNotFound)
		_, err = f.Open(ctx, "../../etc/passwd")
		wantErr(t, err, store.ErrInvalid)
		_, _, err = store.Files{}.Put(ctx, strings.NewReader("x"), 0)
		wantErr(t, err, store.ErrInvalid)
	})
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("temporary files left behind: %d", len(entries))
	}
}

// cancellingReader returns data once, then cancels its context.
type cancellingReader struct {
	cancel func()
	n      int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	r.n++
	if r.n > 1 {
		r.cancel()
	}
	return copy(p, bytes.Repeat([]byte("x"), len(p))), nil
}

type patternReader struct{}

func (patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}
