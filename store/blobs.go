package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"gorm.io/gorm"
)

// DefaultChunkSize is the chunk size of Blobs when Blobs.ChunkSize is zero.
const DefaultChunkSize = 256 << 10

// pendingTTL is how long a pending blob (one whose Put never finished: the
// process died mid-upload) is kept before a later Put deletes it. A Put
// that fails in a live process deletes its own rows at once.
const pendingTTL = 24 * time.Hour

// cleanupTimeout bounds the deletion of a failed Put's rows, which runs
// even when the Put's ctx is done.
const cleanupTimeout = 10 * time.Second

// Blobs is a content-addressed blob store in the database, the
// counterpart of Files for a cluster: every instance on the same database
// reads every blob. A blob is a row of blobs (its SHA-256, size and chunk
// size) and its bytes in rows of blob_chunks of ChunkSize bytes (the last
// one shorter). Identical contents share one blob. Blobs is safe for
// concurrent use by any number of Stores on one database.
type Blobs struct {
	Store *Store // required
	// ChunkSize is the size of the chunks new blobs are written in. Zero
	// means DefaultChunkSize. Each blob records its own, so changing it
	// never affects blobs already written.
	ChunkSize int
}

// BlobStats counts what Blobs holds.
type BlobStats struct {
	Blobs   int64 // complete blobs
	Bytes   int64 // their total size
	Pending int64 // blobs being written, or left by a process that died writing
	Chunks  int64 // chunk rows, of complete and pending blobs
}

// chunkBufs recycles the chunk buffers of Put (DefaultChunkSize only).
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, DefaultChunkSize); return &b }}

func (b Blobs) chunkSize() int {
	if b.ChunkSize <= 0 {
		return DefaultChunkSize
	}
	return b.ChunkSize
}

// Put streams r into a new blob, one chunk at a time: it holds one chunk
// in memory, never the whole content, and each chunk is written by its
// own short statement, so a slow client holds no connection or lock
// between chunks. More than maxBytes (maxBytes ≤ 0: no limit) fails with
// ErrTooLarge, and a done ctx stops the copy; on any failure the rows
// written so far are deleted before Put returns. When a blob with the same
// content exists, the new copy is deleted and the existing one is kept:
// the sum is known only at the end, so an identical upload still writes
// its chunks once.
func (b Blobs) Put(ctx context.Context, r io.Reader, maxBytes int64) (sum string, size int64, err error) {
	s := b.Store
	if s == nil {
		return "", 0, fmt.Errorf("%w: Blobs.Store is nil", ErrInvalid)
	}
	id, cs := s.ids.next(s.now()), b.chunkSize()
	if err := s.exec(ctx, "INSERT INTO blobs (id, sha256, size, chunk_size, created_at) VALUES (?, NULL, 0, ?, ?)",
		id, cs, s.nowMicros()); err != nil {
		return "", 0, wrap("put blob", err)
	}
	keep := false
	defer func() {
		if !keep {
			s.dropBlob(ctx, id)
		}
	}()
	h := sha256.New()
	src := io.Reader(ctxReader{ctx, r})
	if maxBytes > 0 {
		src = io.LimitReader(src, maxBytes+1)
	}
	if size, err = s.writeChunks(ctx, id, cs, src, h, maxBytes); err != nil {
		return "", 0, err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	dup, err := s.commitBlob(ctx, id, sum, size)
	if err != nil {
		return "", 0, wrap("put blob", err)
	}
	keep = !dup
	return sum, size, nil
}

// writeChunks copies src into the chunks of blob id, hashing it into h,
// and returns the number of bytes copied.
func (s *Store) writeChunks(ctx context.Context, id string, cs int, src io.Reader, h hash.Hash, maxBytes int64) (int64, error) {
	var buf []byte
	if cs == DefaultChunkSize {
		p := chunkBufs.Get().(*[]byte)
		defer chunkBufs.Put(p)
		buf = *p
	} else {
		buf = make([]byte, cs)
	}
	var size int64
	for idx := 0; ; idx++ {
		n, rerr := fill(src, buf)
		if n > 0 {
			size += int64(n)
			if maxBytes > 0 && size > maxBytes {
				return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
			}
			h.Write(buf[:n])
			if err := s.putChunk(ctx, id, idx, buf[:n]); err != nil {
				return 0, wrap("put blob chunk", err)
			}
		}
		switch {
		case rerr == io.EOF:
			return size, nil
		case rerr != nil:
			return 0, fmt.Errorf("store: blobs: read: %w", rerr)
		}
	}
}

// fill reads from r until buf is full or r fails. Unlike io.ReadFull it
// reports a short read only as io.EOF, so that an io.ErrUnexpectedEOF of r
// itself (a truncated body) stays an error.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// putChunk writes one chunk: on PostgreSQL by COPY (copyChunk), on SQLite
// by an INSERT binding data (the driver copies it outside the Go heap).
func (s *Store) putChunk(ctx context.Context, id string, idx int, data []byte) error {
	if s.dialect == DialectPostgres {
		return s.copyChunk(ctx, id, idx, data)
	}
	return s.exec(ctx, "INSERT INTO blob_chunks (blob_id, idx, data) VALUES (?, ?, ?)", id, idx, data)
}

// commitBlob gives the pending blob id its sum and size, unless a blob
// with that sum exists (dup: the caller deletes id). It also deletes the
// pending blobs older than pendingTTL, left by processes that died.
func (s *Store) commitBlob(ctx context.Context, id, sum string, size int64) (dup bool, err error) {
	err = s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM blobs WHERE sha256 IS NULL AND created_at < ?",
			micros(s.now().Add(-pendingTTL))).Error; err != nil {
			return err
		}
		var n int64
		if err := tx.Raw("SELECT COUNT(*) FROM blobs WHERE sha256 = ?", sum).Find(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			dup = true
			return nil
		}
		return tx.Exec("UPDATE blobs SET sha256 = ?, size = ? WHERE id = ?", sum, size, id).Error
	})
	if err != nil && isUniqueViolation(err) {
		// The same content committed concurrently by another Put.
		return true, nil
	}
	return dup, err
}

// dropBlob deletes blob id and (by cascade) its chunks, even when ctx is
// done. A failure is logged: the blob is still pending, so a later Put
// deletes it after pendingTTL.
func (s *Store) dropBlob(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.exec(ctx, "DELETE FROM blobs WHERE id = ?", id); err != nil {
		s.log.Warn("store: pending blob not deleted; a later upload deletes it", "blob", id, "err", err)
	}
}

// exec runs one statement; on SQLite it waits its turn among this Store's
// writers like write's transactions.
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	if s.writer == nil {
		return s.db.WithContext(ctx).Exec(query, args...).Error
	}
	return s.write(ctx, func(tx *gorm.DB) error { return tx.Exec(query, args...).Error })
}

// Open returns a reader of the blob with the given SHA-256 (lower-case
// hex): ErrNotFound if there is none, ErrInvalid if sum is not a SHA-256.
// The reader fetches one chunk at a time, when a Read needs it, with ctx
// (it must outlive the reader's use); it holds one chunk in memory and
// supports Seek, so ranges read only the chunks they cover.
func (b Blobs) Open(ctx context.Context, sum string) (io.ReadSeekCloser, error) {
	if !sha256Hex.MatchString(sum) || b.Store == nil {
		return nil, fmt.Errorf("%w: blob sha256 %q", ErrInvalid, sum)
	}
	var rows []struct {
		ID        string
		Size      int64
		ChunkSize int64
	}
	err := b.Store.db.WithContext(ctx).Raw("SELECT id, size, chunk_size FROM blobs WHERE sha256 = ?", sum).Find(&rows).Error
	if err != nil {
		return nil, wrap("open blob", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: blob %s", ErrNotFound, sum)
	}
	return &blobReader{ctx: ctx, s: b.Store, id: rows[0].ID, size: rows[0].Size, chunk: rows[0].ChunkSize, cur: -1}, nil
}

// Stats counts the blobs, their bytes, the pending blobs and the chunks.
func (b Blobs) Stats(ctx context.Context) (BlobStats, error) {
	var st BlobStats
	err := b.Store.db.WithContext(ctx).Raw(`SELECT
		(SELECT COUNT(*) FROM blobs WHERE sha256 IS NOT NULL) AS blobs,
		(SELECT COALESCE(SUM(size), 0) FROM blobs WHERE sha256 IS NOT NULL) AS bytes,
		(SELECT COUNT(*) FROM blobs WHERE sha256 IS NULL) AS pending,
		(SELECT COUNT(*) FROM blob_chunks) AS chunks`).Find(&st).Error
	return st, wrap("blob stats", err)
}

// errReaderClosed is returned by a blobReader's methods after Close.
var errReaderClosed = errors.New("store: blob reader closed")

// blobReader reads a blob chunk by chunk. Not safe for concurrent use.
type blobReader struct {
	ctx   context.Context
	s     *Store
	id    string
	size  int64
	chunk int64  // chunk size
	off   int64  // next byte to read
	cur   int64  // index of the chunk in buf; -1: none
	buf   []byte // chunk cur
	done  bool   // closed
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, errReaderClosed
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	idx := r.off / r.chunk
	if idx != r.cur {
		if err := r.load(idx); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.off-idx*r.chunk:])
	r.off += int64(n)
	return n, nil
}

// load reads chunk idx into buf, reusing buf's memory.
func (r *blobReader) load(idx int64) error {
	want := min(r.chunk, r.size-idx*r.chunk)
	rows, err := r.s.db.WithContext(r.ctx).Raw("SELECT data FROM blob_chunks WHERE blob_id = ? AND idx = ?", r.id, idx).Rows()
	if err != nil {
		return wrap("read blob", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return wrap("read blob", err)
		}
		return fmt.Errorf("store: read blob %s: chunk %d missing", r.id, idx)
	}
	var data sql.RawBytes
	if err := rows.Scan(&data); err != nil {
		return wrap("read blob", err)
	}
	if int64(len(data)) != want {
		return fmt.Errorf("store: read blob %s: chunk %d has %d bytes, want %d", r.id, idx, len(data), want)
	}
	r.buf, r.cur = append(r.buf[:0], data...), idx
	return nil
}

func (r *blobReader) Seek(offset int64, whence int) (int64, error) {
	if r.done {
		return 0, errReaderClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, fmt.Errorf("store: blob seek: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("store: blob seek: negative position %d", offset)
	}
	r.off = offset
	return offset, nil
}

// Close releases the chunk buffer. Reads and seeks after Close fail.
func (r *blobReader) Close() error {
	r.done, r.buf = true, nil
	return nil
}
