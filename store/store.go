package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// StatementTimeout is PostgreSQL's statement_timeout and LockTimeout
	// its lock_timeout, set on every pooled connection as startup
	// parameters (a DSN that sets them itself wins). Zero means 10s, the
	// gateway's default event timeout: the wiring passes its event timeout
	// so that the server gives up on a statement (or a lock wait) no later
	// than the event that ran it, even when the client's cancellation is
	// lost with its connection. StatementTimeout also bounds a COMMIT,
	// which no event deadline interrupts (see write). LockTimeout zero
	// means StatementTimeout. Negative disables. Ignored for SQLite.
	StatementTimeout, LockTimeout time.Duration
	// Committers is the number of group-commit queues CreateMessage's
	// messages go through, a chat always through the same one: each
	// stores what queued while its previous batch committed in one
	// transaction (see commit.go). Zero means 4 on PostgreSQL (batches of
	// different chats commit in parallel) and 1 on SQLite (one writer
	// anyway). Negative turns group commit off: one transaction per message.
	Committers int
	// CheckpointInterval is how often a SQLite Store copies its WAL back
	// into the database file after writes, off the writers' path (see
	// checkpoint.go). Zero means 1s; negative leaves checkpoints to
	// SQLite, inside the COMMIT that fills 1000 pages. Ignored for
	// PostgreSQL.
	CheckpointInterval time.Duration
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
	// commitGrace bounds a COMMIT beyond its caller's deadline (write).
	commitGrace time.Duration
	// probeID is this Store's row of store_health (Ping's write).
	probeID string
	// writeFailed is the last write that failed in a way a retry may not
	// meet (ErrUnavailable), cleared by the next write that commits; Ping
	// reports it for writeFailWindow.
	writeFailed atomic.Pointer[writeFailure]
	// committers batch CreateMessage (commit.go); empty when group commit
	// is off. commitSeed hashes a chat to its committer; commitWG waits
	// for them at Close.
	committers []*committer
	commitSeed maphash.Seed
	commitWG   sync.WaitGroup
	// ckpt checkpoints a SQLite WAL (checkpoint.go); nil on PostgreSQL.
	ckpt *checkpointer
}

// writeFailure is a write that failed with an unavailable-class error.
type writeFailure struct {
	at  time.Time
	err error
}

// writeFailWindow is how long Ping reports a failed write that no
// committed write has cleared since.
const writeFailWindow = 10 * time.Second

// IsPostgresDSN reports whether dsn names a PostgreSQL database.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the database named by cfg.DSN and applies pending
// migrations before returning. A database that cannot be reached yields an
// error wrapping ErrUnavailable.
//
// Several instances opening one fresh SQLite file at once may meet
// SQLITE_BUSY without SQLite's busy wait: switching the file to WAL mode
// upgrades a read lock to a write lock, and SQLite refuses that at once
// rather than risk a deadlock (TestStore_Open/sqlite/ConcurrentOpen: 13
// of 300 runs). Open then tries again, for about a second, within ctx.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		s, err := open(ctx, cfg)
		if !sqliteBusy(err) || wait > time.Second {
			return s, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

func open(ctx context.Context, cfg Config) (*Store, error) {
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
	s.commitGrace = pgTimeout(cfg.StatementTimeout, 10*time.Second)
	if s.commitGrace <= 0 {
		s.commitGrace = 10 * time.Second
	}
	if IsPostgresDSN(cfg.DSN) {
		s.dialect = DialectPostgres
		dsn, err := postgresDSN(cfg.DSN, cfg.StatementTimeout, cfg.LockTimeout)
		if err != nil {
			return nil, err
		}
		dialector = postgres.Open(dsn)
		if maxOpen == 0 {
			maxOpen = 20
		}
	} else {
		s.dialect = DialectSQLite
		dsn, err := sqliteDSN(cfg.DSN, cfg.BusyTimeout, cfg.checkpointEvery() > 0)
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
	s.probeID = s.ids.next(s.now())
	if err := s.ping(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if _, err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	s.startBackground(cfg)
	return s, nil
}

// startBackground starts the committers and the SQLite checkpointer, with
// the defaults of cfg.Committers and cfg.CheckpointInterval.
func (s *Store) startBackground(cfg Config) {
	committers := cfg.Committers
	if committers == 0 {
		committers = 4
		if s.dialect == DialectSQLite {
			committers = 1
		}
	}
	s.startCommitters(committers)
	s.startCheckpoints(cfg.checkpointEvery())
}

// checkpointEvery is CheckpointInterval with its default; 0 leaves
// checkpoints to SQLite.
func (c Config) checkpointEvery() time.Duration {
	switch {
	case c.CheckpointInterval == 0:
		return time.Second
	case c.CheckpointInterval < 0:
		return 0
	}
	return c.CheckpointInterval
}

// sqliteDSN turns a file path into a modernc.org/sqlite DSN: WAL (readers do
// not block the writer), foreign keys on, a busy timeout, and BEGIN IMMEDIATE
// for every transaction so that a transaction that reads before it writes
// cannot fail with SQLITE_BUSY on lock upgrade.
func sqliteDSN(path string, busy time.Duration, ownCheckpoints bool) (string, error) {
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
	if ownCheckpoints {
		params = append(params, "_pragma=wal_autocheckpoint(0)")
	}
	if query != "" {
		params = append(params, query)
	}
	return file + "?" + strings.Join(params, "&"), nil
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// postgresDSN adds statement_timeout, lock_timeout and
// idle_in_transaction_session_timeout (the statement timeout: a process
// frozen inside a transaction does not hold its chat's row lock forever)
// to a PostgreSQL URL, unless it sets them: pgx sends unknown URL
// parameters as startup parameters, applied to every connection.
func postgresDSN(dsn string, statement, lock time.Duration) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("store: open: PostgreSQL URL: %w: %w", ErrInvalid, err)
	}
	statement = pgTimeout(statement, 10*time.Second)
	lock = pgTimeout(lock, statement)
	q := u.Query()
	for k, d := range map[string]time.Duration{
		"statement_timeout":                   statement,
		"lock_timeout":                        lock,
		"idle_in_transaction_session_timeout": statement,
	} {
		if !q.Has(k) && d > 0 {
			q.Set(k, strconv.FormatInt(d.Milliseconds(), 10))
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// pgTimeout applies the defaults of Config.StatementTimeout and
// LockTimeout: zero means def, negative disabled (0).
func pgTimeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return max(d, time.Millisecond)
}

// Ping is the readiness check (GET /readyz): it fails, wrapping
// ErrUnavailable, unless the database can take a write now — a tiny upsert
// of this Store's row in store_health, through the same write path as
// messages (on SQLite, the in-process writer queue and the write lock) —
// and no write has failed unavailable in the last writeFailWindow (10s)
// without a committed write since (a database that takes the probe but
// refuses messages: a locked table, lock or statement timeouts). The
// error says why.
func (s *Store) Ping(ctx context.Context) error {
	if f := s.writeFailed.Load(); f != nil && time.Since(f.at) < writeFailWindow {
		return fmt.Errorf("store: a write failed %s ago: %w: %w", time.Since(f.at).Round(time.Millisecond), ErrUnavailable, f.err)
	}
	if err := s.ping(ctx); err != nil {
		return err
	}
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return fmt.Errorf("store: write probe: %w: waiting for the writer: %w", ErrUnavailable, ctx.Err())
		}
	}
	// One statement under ctx (no commitContext: nothing to deliver), so
	// a probe waiting on a lock gives up at ctx's deadline.
	err := s.db.WithContext(ctx).Exec("INSERT INTO store_health (id, checked_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
		s.probeID, s.nowMicros()).Error
	if err != nil {
		return fmt.Errorf("store: write probe: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// ping checks that the database answers.
func (s *Store) ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w: %w", ErrUnavailable, err)
	}
	var one int
	if err := s.db.WithContext(ctx).Raw("SELECT 1").Find(&one).Error; err != nil {
		return fmt.Errorf("store: ping: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close stores the messages already queued for a group commit, then
// closes the connection pool. Calls after Close fail with ErrUnavailable.
func (s *Store) Close() error {
	s.stopCommitters()
	s.stopCheckpoints()
	if err := s.sqlDB.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on SQLite) and
// records its outcome for Ping.
//
// fn's statements run under ctx: a deadline or cancellation that ends ctx
// before COMMIT interrupts them and rolls back. The COMMIT does not run
// under ctx: once fn returned nil with ctx still alive, the transaction
// commits even if ctx ends meanwhile, bounded by ctx's deadline plus
// commitGrace (Config.StatementTimeout; on PostgreSQL statement_timeout
// bounds the COMMIT on the server too). A deadline therefore never leaves
// a commit half done with the caller believing it failed: the caller
// either gets the commit's own result or an error from before it.
func (s *Store) write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	txCtx, cancel := s.commitContext(ctx)
	defer cancel()
	err := s.db.WithContext(txCtx).Transaction(func(tx *gorm.DB) error {
		if err := fn(tx.WithContext(ctx)); err != nil {
			return err
		}
		return ctx.Err() // ended before COMMIT: roll back
	})
	switch {
	case err == nil:
		s.writeFailed.Store(nil)
		s.wrote()
	case err != nil && isUnavailable(err):
		s.writeFailed.Store(&writeFailure{at: time.Now(), err: err})
	}
	return err
}

// commitContext is the context of a transaction's BEGIN and COMMIT: ctx's
// values without its cancellation, until ctx's deadline plus commitGrace
// (no bound when ctx has no deadline: statement_timeout then bounds each
// statement on PostgreSQL).
func (s *Store) commitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	detached := context.WithoutCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(detached, d.Add(s.commitGrace))
	}
	return context.WithCancel(detached)
}

// micros converts a time to the stored representation.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts a stored time back, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nowMicros is the Store clock truncated to the stored precision.
func (s *Store) nowMicros() int64 { return micros(s.now()) }
