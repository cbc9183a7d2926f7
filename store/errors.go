package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors. Callers test them with errors.Is; the gateway maps them to
// wire codes and HTTP statuses. Returned errors wrap them with context.
var (
	// ErrNotFound: the chat, message, attachment, user or file does not exist
	// (or the message/attachment is not in the named chat).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the row already exists (a member added twice, an attachment
	// already attached to another message, a clientMsgId reused in another chat).
	ErrConflict = errors.New("store: conflict")
	// ErrArchived: the chat is archived and therefore read-only.
	ErrArchived = errors.New("store: chat archived")
	// ErrForbidden: the user is not allowed to do this (not a member, not the
	// owner, not the uploader of an attachment).
	ErrForbidden = errors.New("store: forbidden")
	// ErrTooLarge: a file exceeded the size limit given to Files.Put or Blobs.Put.
	ErrTooLarge = errors.New("store: too large")
	// ErrInvalid: an argument is malformed (empty content, unknown chat kind
	// or role, a malformed message id).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrUnavailable: the database cannot be reached or the Store is closed.
	// Driver connection errors are wrapped with it so that the gateway answers
	// "unavailable" instead of "internal".
	ErrUnavailable = errors.New("store: unavailable")
)

// wrap adds context to a database error and classifies connection failures
// as ErrUnavailable. Sentinels and context errors pass through unchanged
// apart from the context prefix.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if isSentinel(err) {
		return err // already says what happened, e.g. "store: chat archived: chat 01H..."
	}
	if isUnavailable(err) {
		return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrNotFound, ErrConflict, ErrArchived, ErrForbidden, ErrTooLarge, ErrInvalid, ErrUnavailable} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// isUnavailable reports a failure that may succeed on retry: the database
// could not be reached or lost the connection mid-statement, ran out of a
// resource (disk, connections, memory), timed out a statement or a lock,
// refused a write it may take later (read-only, busy), or aborted the
// transaction to resolve a conflict (serialization failure, deadlock).
// Context errors are the caller's own deadline, not the database's: they
// pass through (the gateway answers them `unavailable` too).
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pgRetryable(pe.Code)
	}
	if code, ok := sqliteCode(err); ok {
		return sqliteRetryable(code)
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	// Messages of errors that arrive without a type to test: database/sql
	// after Close; pgx's closed connection, its read path when the EOF
	// is not wrapped, and pgconn's send/receive/connect failures.
	msg := err.Error()
	for _, s := range []string{
		"sql: database is closed", "conn closed", "unexpected EOF",
		"failed to receive message", "failed to write startup message", "failed to connect",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// pgRetryable reports the SQLSTATEs of failures a retry may not meet:
// class 08 (connection exception), 53 (insufficient resources: disk full,
// out of memory, too many connections), 57P0x (admin or crash shutdown,
// cannot connect now), 57014 (query canceled: statement_timeout), 55P03
// (lock not available: lock_timeout), 40001 (serialization failure),
// 40P01 (deadlock detected), 58000/58030 (system and I/O errors).
func pgRetryable(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57P0"):
		return true
	}
	switch code {
	case "57014", "55P03", "40001", "40P01", "58000", "58030":
		return true
	}
	return false
}

// sqliteRetryable reports the SQLite result codes (primary code, the low
// byte of an extended one) of failures a retry may not meet: BUSY (the
// busy timeout ran out while another connection or process held the write
// lock), LOCKED, CANTOPEN (the file cannot be opened), FULL (disk full),
// IOERR (an I/O error: a failing disk, a vanished mount), READONLY (the
// file or its directory became read-only, or a read-only mount), NOMEM,
// PROTOCOL (a WAL locking race).
func sqliteRetryable(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}

// sqliteBusy reports SQLITE_BUSY (or one of its extended codes).
func sqliteBusy(err error) bool {
	code, ok := sqliteCode(err)
	return ok && code&0xff == sqlite3.SQLITE_BUSY
}

// sqliteCode returns the (extended) result code of a SQLite error.
func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

// isUniqueViolation reports a unique-constraint failure on either dialect.
func isUniqueViolation(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	// GORM translates the errors of its statements (gorm.ErrDuplicatedKey
	// above); this covers those that bypass it.
	code, _ := sqliteCode(err)
	return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// pgCodeOf returns the SQLSTATE of a PostgreSQL error, else "".
func pgCodeOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
