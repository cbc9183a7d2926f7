package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// blobStore is what Files and Blobs have in common (the gateway's
// chats.Blobs).
type blobStore interface {
	Put(ctx context.Context, r io.Reader, maxBytes int64) (string, int64, error)
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, error)
}

var (
	_ blobStore = store.Files{}
	_ blobStore = store.Blobs{}
)

// blobBackend is a blobStore under test with a count of what it holds:
// stored contents plus anything a failed Put left behind (temporary files,
// pending blobs).
type blobBackend struct {
	name  string
	bs    blobStore
	count func(t *testing.T) int64
}

// eachBlobBackend runs fn on Files and on Blobs of each dialect, with
// small chunks so that a few KiB span several of them.
func eachBlobBackend(t *testing.T, fn func(t *testing.T, b blobBackend)) {
	t.Run("files", func(t *testing.T) {
		f := store.Files{Dir: filepath.Join(t.TempDir(), "files")}
		fn(t, blobBackend{name: "files", bs: f, count: func(t *testing.T) int64 { return regularFiles(t, f.Dir) }})
	})
	storetest.EachDialect(t, func(t *testing.T, d string) {
		b := store.Blobs{Store: storetest.Open(t, d), ChunkSize: 1000}
		fn(t, blobBackend{name: "db", bs: b, count: func(t *testing.T) int64 {
			st := blobStats(t, b)
			return st.Blobs + st.Pending
		}})
	})
}

func blobStats(t *testing.T, b store.Blobs) store.BlobStats {
	t.Helper()
	st, err := b.Stats(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func regularFiles(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if d != nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pattern returns n bytes that differ from chunk to chunk.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/1000)
	}
	return b
}

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustPut(t *testing.T, bs blobStore, content []byte) string {
	t.Helper()
	sum, size, err := bs.Put(ctxT(t), bytes.NewReader(content), 0)
	if err != nil || sum != sumOf(content) || size != int64(len(content)) {
		t.Fatalf("Put = %s %d %v, want %s %d", sum, size, err, sumOf(content), len(content))
	}
	return sum
}

func TestBlobStores(t *testing.T) {
	eachBlobBackend(t, func(t *testing.T, b blobBackend) {
		ctx := ctxT(t)
		content := pattern(3500) // 3 full chunks of 1000 and one of 500
		sum := mustPut(t, b.bs, content)

		t.Run("ReadAll", func(t *testing.T) {
			r := mustOpen(t, b.bs, sum)
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content) {
				t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
			}
		})
		t.Run("Seek", func(t *testing.T) { testSeek(t, mustOpen(t, b.bs, sum), content) })
		t.Run("Ranges", func(t *testing.T) { testRanges(t, mustOpen(t, b.bs, sum), content) })
		t.Run("Dedupe", func(t *testing.T) {
			before := b.count(t)
			if again := mustPut(t, b.bs, content); again != sum {
				t.Fatalf("second Put: %s", again)
			}
			if after := b.count(t); after != before {
				t.Fatalf("identical content stored twice: %d → %d", before, after)
			}
		})
		t.Run("Empty", func(t *testing.T) {
			r := mustOpen(t, b.bs, mustPut(t, b.bs, nil))
			if got, err := io.ReadAll(r); err != nil || len(got) != 0 {
				t.Fatalf("empty blob read %d bytes, %v", len(got), err)
			}
		})
		t.Run("ExactlyMax", func(t *testing.T) {
			if _, size, err := b.bs.Put(ctx, bytes.NewReader(pattern(3000)), 3000); err != nil || size != 3000 {
				t.Fatalf("Put at the limit = %d %v", size, err)
			}
		})
		t.Run("Failures", func(t *testing.T) { testPutFailures(t, b) })
		t.Run("OpenErrors", func(t *testing.T) {
			_, err := b.bs.Open(ctx, strings.Repeat("0", 64))
			wantErr(t, err, store.ErrNotFound)
			_, err = b.bs.Open(ctx, "../../etc/passwd")
			wantErr(t, err, store.ErrInvalid)
		})
	})
}

func mustOpen(t *testing.T, bs blobStore, sum string) io.ReadSeekCloser {
	t.Helper()
	r, err := bs.Open(ctxT(t), sum)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// testSeek reads after each kind of seek, across chunk boundaries.
func testSeek(t *testing.T, r io.ReadSeeker, content []byte) {
	n := int64(len(content))
	for _, tc := range []struct {
		off    int64
		whence int
		pos    int64
		read   int
	}{
		{999, io.SeekStart, 999, 2}, // the last byte of chunk 0 and the first of chunk 1
		{2000, io.SeekStart, 2000, 1000},
		{-10, io.SeekCurrent, 2990, 510},
		{-1, io.SeekEnd, n - 1, 1},
		{0, io.SeekStart, 0, 3500},
		{0, io.SeekEnd, n, 0},
	} {
		pos, err := r.Seek(tc.off, tc.whence)
		if err != nil || pos != tc.pos {
			t.Fatalf("Seek(%d, %d) = %d %v, want %d", tc.off, tc.whence, pos, err, tc.pos)
		}
		got := make([]byte, tc.read)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, content[pos:pos+int64(tc.read)]) {
			t.Fatalf("read %d at %d: %v", tc.read, pos, err)
		}
	}
	if k, err := r.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		t.Fatalf("read at the end = %d %v, want EOF", k, err)
	}
	if _, err := r.Seek(5000, io.SeekStart); err != nil {
		t.Fatalf("seek past the end: %v", err)
	}
	if k, err := r.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		t.Fatalf("read past the end = %d %v, want EOF", k, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("negative seek accepted")
	}
}

// testRanges serves the reader with http.ServeContent, as downloads do.
func testRanges(t *testing.T, r io.ReadSeeker, content []byte) {
	for _, tc := range []struct{ rng, want string }{
		{"bytes=995-1004", string(content[995:1005])},
		{"bytes=-7", string(content[3493:])},
		{"bytes=3000-", string(content[3000:])},
	} {
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Range", tc.rng)
		w := httptest.NewRecorder()
		http.ServeContent(w, req, "", time.Time{}, r)
		if w.Code != http.StatusPartialContent || w.Body.String() != tc.want {
			t.Fatalf("%s: %d, %d bytes", tc.rng, w.Code, w.Body.Len())
		}
	}
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Range", "bytes=0-0,3499-3499")
	w := httptest.NewRecorder()
	http.ServeContent(w, req, "", time.Time{}, r)
	if body := w.Body.String(); w.Code != http.StatusPartialContent || !strings.Contains(body, string(content[:1])) ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
		t.Fatalf("multiple ranges: %d %v", w.Code, w.Header())
	}
}

// testPutFailures checks that a refused or broken Put leaves nothing.
func testPutFailures(t *testing.T, b blobBackend) {
	ctx := ctxT(t)
	before := b.count(t)
	_, _, err := b.bs.Put(ctx, bytes.NewReader(pattern(3001)), 3000)
	wantErr(t, err, store.ErrTooLarge)

	truncated := io.MultiReader(bytes.NewReader(pattern(2500)), iotestErr{io.ErrUnexpectedEOF})
	if _, _, err = b.bs.Put(ctx, truncated, 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: %v, want io.ErrUnexpectedEOF", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, _, err = b.bs.Put(cctx, &cancellingReader{cancel: cancel}, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}
	if after := b.count(t); after != before {
		t.Fatalf("failed Puts left %d things behind", after-before)
	}
}

// iotestErr is a reader that fails with err.
type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

// TestBlobs covers what is particular to the database store: chunks,
// several Stores on one database, concurrent identical uploads, memory.
func TestBlobs(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d string) {
		dsn := storetest.DSN(t, d)
		a := store.Blobs{Store: storetest.OpenConfig(t, store.Config{DSN: dsn}), ChunkSize: 1000}
		b := store.Blobs{Store: storetest.OpenConfig(t, store.Config{DSN: dsn})}
		content := pattern(3500)
		sum := mustPut(t, a, content)
		if st := blobStats(t, a); st != (store.BlobStats{Blobs: 1, Bytes: 3500, Chunks: 4}) {
			t.Fatalf("stats %+v, want 1 blob of 3500 bytes in 4 chunks", st)
		}

		t.Run("OtherInstanceReads", func(t *testing.T) {
			// b has another chunk size: the blob's own is used.
			r := mustOpen(t, b, sum)
			testSeek(t, r, content)
		})
		t.Run("ConcurrentIdentical", func(t *testing.T) {
			other := pattern(5000)[1000:]
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for i := range 6 {
				w := []store.Blobs{a, b}[i%2]
				wg.Go(func() {
					s, _, err := w.Put(ctxT(t), bytes.NewReader(other), 0)
					if err == nil && s != sumOf(other) {
						err = fmt.Errorf("sum %s", s)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			st := blobStats(t, a)
			if st.Blobs != 2 || st.Pending != 0 {
				t.Fatalf("after concurrent identical Puts: %+v, want 2 blobs, none pending", st)
			}
		})
		t.Run("ClosedReader", func(t *testing.T) {
			r := mustOpen(t, a, sum)
			r.Close()
			if _, err := r.Read(make([]byte, 1)); err == nil {
				t.Fatal("read after Close succeeded")
			}
		})
		t.Run("Streams", func(t *testing.T) { testBlobsStream(t, b) })
	})
}

// testBlobsStream puts 16 MiB and checks that the allocations stay far
// below the content's size: the upload is never held in memory.
func testBlobsStream(t *testing.T, b store.Blobs) {
	const n = 16 << 20
	h := sha256.New()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sum, size, err := b.Put(ctxT(t), io.TeeReader(io.LimitReader(patternReader{}, n), h), n)
	runtime.ReadMemStats(&after)
	if err != nil || size != n || sum != hex.EncodeToString(h.Sum(nil)) {
		t.Fatalf("Put = %s %d %v", sum, size, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Put of %d MiB allocated %d KiB", n>>20, alloc>>10)
	if alloc > 2<<20 {
		t.Fatalf("Put of %d bytes allocated %d bytes", n, alloc)
	}
}
