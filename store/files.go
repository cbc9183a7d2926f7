package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Files is a content-addressed file store: a file's name is the SHA-256 of
// its bytes, kept at Dir/ab/cdef... (first two hex digits as a directory).
// Identical uploads share one file. Files are never rewritten, so readers
// need no locking; Put is safe for concurrent use (rename is atomic).
type Files struct {
	Dir string // root directory; created on first Put
}

// Put streams r to a temporary file under Dir while hashing it, then renames
// it to its content address. It never holds the whole content in memory.
// More than maxBytes (maxBytes ≤ 0: no limit) fails with ErrTooLarge, and a
// cancelled ctx stops the copy; either way the temporary file is removed.
func (f Files) Put(ctx context.Context, r io.Reader, maxBytes int64) (sum string, size int64, err error) {
	if f.Dir == "" {
		return "", 0, fmt.Errorf("%w: Files.Dir is empty", ErrInvalid)
	}
	tmpDir := filepath.Join(f.Dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return "", 0, fmt.Errorf("store: files: %w", err)
	}
	tmp, err := os.CreateTemp(tmpDir, "upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("store: files: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	src := io.Reader(ctxReader{ctx, r})
	if maxBytes > 0 {
		src = io.LimitReader(src, maxBytes+1)
	}
	size, err = io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return "", 0, fmt.Errorf("store: files: write: %w", err)
	}
	if maxBytes > 0 && size > maxBytes {
		return "", 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("store: files: sync: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("store: files: close: %w", err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	dst := f.path(sum)
	if err = os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", 0, fmt.Errorf("store: files: %w", err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("store: files: rename: %w", err)
	}
	return sum, size, nil
}

// Open opens the file with the given SHA-256 (lower-case hex). ErrNotFound
// if absent, ErrInvalid if sum is not a SHA-256 (so a sum can never name a
// path outside Dir). ctx is not used (a local file waits on nothing it
// could bound); it is there so that Files and Blobs open alike.
func (f Files) Open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	if !sha256Hex.MatchString(sum) || f.Dir == "" {
		return nil, fmt.Errorf("%w: sha256 %q in %q", ErrInvalid, sum, f.Dir)
	}
	file, err := os.Open(f.path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: file %s", ErrNotFound, sum)
	}
	if err != nil {
		return nil, fmt.Errorf("store: files: %w", err)
	}
	return file, nil
}

func (f Files) path(sum string) string {
	return filepath.Join(f.Dir, sum[:2], sum[2:])
}

// ctxReader stops reading once ctx is done (an abandoned upload).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
