package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Dialect names, as reported by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Config configures Open.
type Config struct {
	// DSN selects the database: a postgres:// or postgresql:// URL opens
	// PostgreSQL; anything else is a SQLite file path (its directory is
	// created). Required.
	DSN string
	// Logger receives migration notices (Info), slow statements (Warn) and
	// the SQL trace without bound values (Debug). Nil discards.
	Logger *slog.Logger
	// Now is the clock for created/read/archived times and message ids.
	// Nil means time.Now.
	Now func() time.Time
	// MaxOpenConns caps the connection pool. Zero means 20 for PostgreSQL and
	// 8 for SQLite (one writer at a time anyway; readers run concurrently
	// under WAL).
	MaxOpenConns int
	// BusyTimeout is how long a SQLite write waits for the write lock held
	// by another connection or process. Zero means 10s. Ignored for PostgreSQL.
	BusyTimeout time.Duration
}

// Store is the chat database. It is safe for concurrent use by many
// goroutines, and several Stores (processes) may share one PostgreSQL
// database or one SQLite file: per-chat ordering is decided inside the
// database, not in memory.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect string
	log     *slog.Logger
	now     func() time.Time
	ids     *idGen
	// writer admits one write transaction at a time on SQLite, which has a
	// single writer anyway: in-process writers queue here, fairly and
	// without polling, instead of in SQLite's sleeping busy handler (which
	// still arbitrates between processes). Nil on PostgreSQL.
	writer chan struct{}
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the database named by cfg.DSN and applies pending
// migrations before returning. A database that cannot be reached yields an
// error wrapping ErrUnavailable.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DSN == "" {
		return nil, fmt.Errorf("store: open: empty DSN: %w", ErrInvalid)
	}
	s := &Store{log: cfg.Logger, now: cfg.Now, ids: newIDGen()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	gcfg := &gorm.Config{
		Logger:                 gormLogger{log: s.log, slow: time.Second},
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return s.now().UTC() },
	}
	var dialector gorm.Dialector
	maxOpen := cfg.MaxOpenConns
	if IsPostgresDSN(cfg.DSN) {
		s.dialect = DialectPostgres
		dialector = postgres.Open(cfg.DSN)
		if maxOpen == 0 {
			maxOpen = 20
		}
	} else {
		s.dialect = DialectSQLite
		dsn, err := sqliteDSN(cfg.DSN, cfg.BusyTimeout)
		if err != nil {
			return nil, err
		}
		dialector = sqlite.Open(dsn)
		s.writer = make(chan struct{}, 1)
		if maxOpen == 0 {
			maxOpen = 8
		}
	}
	db, err := gorm.Open(dialector, gcfg)
	if err != nil {
		return nil, wrap("open", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, wrap("open", err)
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxOpen)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s.db, s.sqlDB = db, sqlDB
	if err := s.Ping(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if _, err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// sqliteDSN turns a file path into a modernc.org/sqlite DSN: WAL (readers do
// not block the writer), foreign keys on, a busy timeout, and BEGIN IMMEDIATE
// for every transaction so that a transaction that reads before it writes
// cannot fail with SQLITE_BUSY on lock upgrade.
func sqliteDSN(path string, busy time.Duration) (string, error) {
	if busy <= 0 {
		busy = 10 * time.Second
	}
	file, query, _ := strings.Cut(path, "?")
	file = strings.TrimPrefix(file, "file:")
	if file == "" || file == ":memory:" {
		return "", fmt.Errorf("store: open: SQLite needs a file path, got %q: %w", path, ErrInvalid)
	}
	if dir := filepath.Dir(file); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", fmt.Errorf("store: open: %w", err)
		}
	}
	params := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busy.Milliseconds()),
		"_pragma=journal_mode(WAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
		"_txlock=immediate",
	}
	if query != "" {
		params = append(params, query)
	}
	return file + "?" + strings.Join(params, "&"), nil
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w: %w", ErrUnavailable, err)
	}
	var one int
	if err := s.db.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error; err != nil {
		return fmt.Errorf("store: ping: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close closes the connection pool. Calls after Close fail with
// ErrUnavailable.
func (s *Store) Close() error {
	if err := s.sqlDB.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on SQLite).
func (s *Store) write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.db.WithContext(ctx).Transaction(fn)
}

// micros converts a time to the stored representation.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts a stored time back, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nowMicros is the Store clock truncated to the stored precision.
func (s *Store) nowMicros() int64 { return micros(s.now()) }
