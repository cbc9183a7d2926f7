// Package store keeps sockgate's persistent chats (SPEC §3 and §6, storage
// contract §8): users, chats (general or order-specific, archivable),
// memberships with roles, messages, attachment metadata and read marks, in
// SQLite or PostgreSQL through GORM, plus two content-addressed stores for
// attachment bytes: Files, a local directory (one instance), and Blobs, in
// the database (every instance of a cluster reads them).
//
// # Drivers
//
// Open picks the driver from the DSN: postgres:// or postgresql:// URLs use
// gorm.io/driver/postgres (pgx); anything else is a SQLite file path opened
// with modernc.org/sqlite (SQLite translated to pure Go, 3.54 at v1.62)
// through github.com/libtnb/sqlite, its GORM dialect. Pure Go keeps the
// binary building with CGO_ENABLED=0, cross-compiling and running in a
// scratch image (mattn/go-sqlite3 needs cgo).
//
// Why modernc over github.com/ncruces/go-sqlite3 (v0.37, SQLite 3.54
// through wasm2go), measured when both replaced glebarez/sqlite 1.11
// (modernc 1.23, SQLite 3.41) on 2 shared cores:
//   - the store's tests pass on modernc; on ncruces TestStore_Open's
//     ConcurrentOpen failed 2 runs in 5 ("invalid _pragma: database is
//     locked" from journal_mode(WAL) while another instance migrated);
//   - ncruces's GORM dialect (gormlite) is not served by our module proxy,
//     so it needed a dialect of our own; libtnb/sqlite is a maintained one
//     that follows modernc's releases;
//   - BenchmarkStore_CreateMessage/sqlite, median of 4 (ms per committed
//     message): Serial modernc 1.62 0.43, ncruces 0.65, old 0.58;
//     Parallel8 0.43, 0.50, 0.44;
//   - binary (CGO_ENABLED=0, stripped): 30.1 MB, 31.8 MB, old 29.3 MB.
//
// SQLite runs in WAL mode (readers never block the writer), with
// foreign keys on, a busy timeout (Config.BusyTimeout), synchronous=NORMAL
// and BEGIN IMMEDIATE transactions: a transaction takes the write lock when
// it starts, so one that reads before it writes never fails on lock
// upgrade. All are DSN parameters, applied to every pooled connection.
// libtnb/sqlite also turns on, process-wide, modernc's strict pragmas (an
// unknown pragma is an error), Linux OFD locks and fdatasync.
// In-memory SQLite is refused (each pooled connection would see its own
// database). Driver errors are classified by their result codes:
// SQLITE_BUSY (the busy timeout ran out) and SQLITE_CANTOPEN wrap
// ErrUnavailable; unique and primary-key violations are conflicts.
//
// The same SQL runs on both: queries are written by hand with GORM's `?`
// binding (no AutoMigrate), and every time is a BIGINT of microseconds since
// the epoch, which both dialects store, compare and sort identically. GORM's
// own log goes to Config.Logger, SQL traces only at Debug.
//
// # Migrations
//
// Versioned SQL files embedded from migrations/ (NNNN_name.sql, or
// NNNN_name.<dialect>.sql where the dialects differ) are applied at Open,
// each in one transaction with its schema_migrations row; applied versions
// are skipped, so Open is idempotent, and concurrent Opens (several
// instances starting together) are serialized by an advisory lock on
// PostgreSQL and by the write lock on SQLite. Never edit an applied
// migration: add the next version.
//
// # Ids and order
//
// Chat, message and attachment ids are ULID-shaped strings: 26 Crockford
// base32 characters, a 48-bit millisecond timestamp then 80 random bits,
// strictly increasing within a process. Every message also has a per-chat
// Seq (1, 2, 3... without gaps) assigned inside the insert transaction
// under the chat's lock, held until commit: a batch (see Group commit)
// reads its chats with `SELECT ... FOR UPDATE` in id order on PostgreSQL,
// under the database write lock (BEGIN IMMEDIATE) on SQLite, and writes
// their new last_seq; the one-message path takes the lock with
// `UPDATE chats SET last_seq = last_seq + 1 ... RETURNING`. A refused or
// failed insert rolls the increment back. Under that lock the new id is
// forced above the chat's previous message id and created_at above the
// previous created_at, so within a chat seq, id and time orders agree even
// when instances' clocks disagree. History cursors (MessagesBefore/After)
// compare seqs and are exact: a page continues precisely where the previous
// one stopped, whatever is inserted meanwhile. MessagesPage uses offsets
// (REST's ?page=) and shifts when messages arrive between pages.
// MissedMessages compares ids across a user's chats; see its comment for
// the precise contract.
//
// # Idempotency
//
// A message with a ClientMsgID is stored at most once per (sender,
// ClientMsgID), enforced by a unique index: a retry, even concurrent with
// the first attempt, returns the original message with created=false and
// writes nothing (SPEC §8: "a retry with the same id is not stored twice and
// gets the original ack"). CreateMessage returns only after commit, so an ack
// built from its result never acknowledges an unstored message.
//
// # Group commit
//
// CreateMessage runs no transaction of its own: it queues its message
// for one of Config.Committers committers (4 on PostgreSQL, 1 on SQLite; a
// chat always maps to the same one, so a process's messages of a chat
// keep their arrival order) and waits. A committer takes everything
// queued while its previous batch committed (up to 256 messages, 1 MiB of
// content, 1024 attachments; no timer: a lone message commits at once)
// and stores it in one transaction of a fixed number of statements: its
// chats read and locked, the idempotency keys and the memberships looked
// up with one unique-index probe per pair in one statement each, one
// multi-row INSERT, one UPDATE ... FROM (VALUES ...) of the chat heads,
// plus one UPDATE per attachment. One COMMIT (one fsync) then answers
// every message of the batch, none before it. A refused message (not a
// member, archived, a bad attachment, a clientMsgId of another chat)
// fails alone; a clientMsgId twice in one batch stores the first and
// returns it to the second with created=false. A batch failing in a way
// a retry may not meet answers all its messages with that ErrUnavailable
// (after looking a row up when its COMMIT's outcome is unknown); anything
// else unexpected (a unique violation or a deadlock with another process)
// rolls it back and stores its messages one transaction each, the old
// path. Batches of different committers or processes lock their chats in
// id order, so they cannot deadlock each other. Close stores what is queued.
//
// bench's cmd/durable (the real binary, closed-loop senders), one
// transaction per message → group commit, acked messages/s (ack p99), on 2
// cores shared with other sessions' builds and benchmarks (load 8-11;
// runs vary by ±30%):
//
//	                     one per message (p99)     group commit (p99)
//	SQLite      direct  50   968-1,484 (150-670 ms)    2,750-3,960 (40-80 ms)
//	SQLite      direct 500   923-1,698 (0.5-1.2 s)     2,530-3,630 (0.4-0.8 s)
//	SQLite      hot     50   681-1,476 (100-305 ms)    2,540-2,790 (79-138 ms)
//	SQLite      hot    500   274-407 (1.6-2.9 s)       1,450-2,290 (0.46-0.93 s)
//	PostgreSQL  direct  50   768-1,293 (117-302 ms)    1,890-2,940 (60-147 ms)
//	PostgreSQL  direct 500   1,085-1,274 (1.2-1.4 s)   4,610-5,730 (204-297 ms)
//	PostgreSQL  hot     50   276-530 (268-631 ms)      1,510-2,445 (45-120 ms)
//	PostgreSQL  hot    500   acks timed out            1,210-1,810 (0.57-0.88 s)
//
// The store alone (BenchmarkStore_CreateMessage/Parallel500*, 500
// goroutines, no gateway) takes 12-17k messages/s into 250 chats and
// 20-26k/s into one chat on PostgreSQL, 11-14k/s and 14-32k/s on SQLite.
// End to end the bench is bound by CPU, not by the store: in the server's
// profiles the store is 20% of its CPU with direct chats and 5% in the hot
// chat, where the fan-out of every message to 500 sockets dominates, and
// the server, the load generator and PostgreSQL share the two cores.
// With 500 closed-loop senders the mean ack latency is 500 / rate
// (Little's law): a p99 of 50 ms needs well over 10k/s end to end.
//
// # Errors
//
// Methods return the sentinels of errors.go (ErrNotFound, ErrForbidden,
// ErrArchived, ErrConflict, ErrInvalid, ErrTooLarge, ErrUnavailable),
// wrapped with detail; the gateway maps them to wire codes.
//
// ErrUnavailable ("a retry may succeed", the gateway's `unavailable`) wraps
// every failure that is not a fact of the data: the database unreachable or
// the connection lost mid-statement (driver.ErrBadConn, io.ErrUnexpectedEOF
// and EOF, net errors, pgconn connect/receive failures, a closed Store);
// PostgreSQL SQLSTATE classes 08 (connection), 53 (insufficient resources:
// disk, memory, connections), 57P0x (shutdown, cannot connect now), 57014
// (statement_timeout), 55P03 (lock_timeout), 40001 and 40P01
// (serialization failure, deadlock), 58000/58030 (system, I/O); SQLite
// BUSY, LOCKED, CANTOPEN, FULL, IOERR, READONLY, NOMEM, PROTOCOL. Context
// errors are the caller's own deadline and pass through unwrapped.
// errors_db_test.go provokes each on a real database (a backend terminated
// and a connection cut mid-statement, statement and lock timeouts behind a
// LOCK TABLE, a deadlock, SQLite on a full tmpfs, read-only).
//
// # Deadlines and COMMIT
//
// A write transaction's statements run under the caller's context; its
// BEGIN and COMMIT under a context that keeps the caller's values but not
// its cancellation, bounded by the caller's deadline plus
// Config.StatementTimeout. A message batch has many callers: its
// statements run detached from their cancellation until the latest of
// their deadlines (plus the statement timeout for COMMIT), and each caller
// waits for the batch's outcome even past its own deadline; a caller
// whose deadline passes while its message is still queued returns at once
// with its context's error, and the message is never stored. A deadline (or a client leaving) therefore
// interrupts a write before its COMMIT and rolls it back, never the COMMIT
// itself: the caller learns the commit's own outcome. A COMMIT that fails
// with its connection (outcome unknown) is resolved for CreateMessage by
// looking the message up on another connection. On PostgreSQL every pooled
// connection has statement_timeout and lock_timeout
// (Config.StatementTimeout, LockTimeout; 10s by default, the gateway's
// event timeout, which the wiring should pass) and
// idle_in_transaction_session_timeout (the statement timeout), as startup
// parameters; migrations lift the first two inside their transaction.
//
// # Readiness
//
// Ping, the /readyz check, fails with ErrUnavailable and the reason unless
// a write can succeed now: an upsert of the Store's row in store_health
// (migration 0003; one row per process start, a few bytes each) under the
// caller's deadline, after the same in-process writer queue as messages on
// SQLite; and no write failed unavailable in the last 10s without a
// committed write since (a database that takes the probe but not messages:
// a locked table, lock timeouts).
//
// # Authorization
//
// The store enforces the rules that are facts of the data: only members
// write messages, read marks and attachments of a chat; archived chats take
// no new messages, members or attachments (read marks are still accepted);
// only an owner archives. Who may read history, add members or download an
// attachment is the caller's decision (Membership, IsMember, Attachment.ChatID).
//
// # Concurrency
//
// A Store is safe for concurrent use, and any number of Stores (processes)
// may share one database: all ordering and uniqueness decisions are made by
// the database inside transactions, none in process memory (group
// commit's queues only order a process's own messages on their way to the
// database). On SQLite a
// Store additionally admits one write transaction at a time (SQLite has one
// writer anyway), so its own writers queue in order instead of polling in
// SQLite's busy handler; other processes are still arbitrated by the busy
// timeout. Reads never wait for writes (WAL, PostgreSQL MVCC). Files is safe
// for concurrent use: uploads land in a temporary file and are renamed into
// place atomically.
//
// # Blobs
//
// Blobs keeps each content once, as a blobs row (sha256, size, chunk_size)
// and its bytes in blob_chunks rows of 256 KiB (migration 0002). Put
// streams: it holds one chunk in memory, writes each chunk with its own
// short statement (COPY on PostgreSQL, where pgx would copy a bytea
// parameter twice; an INSERT on SQLite, whose driver copies it outside the
// Go heap), and learns the SHA-256 only at the end, so a blob is written
// under a random id with sha256 NULL ("pending") and gets its sum in one
// transaction at the end, unless that content exists already (the copy is
// then deleted; a concurrent identical Put loses on the unique index the
// same way). One statement per chunk rather than one transaction per
// upload: a slow client holds no pooled connection and, on SQLite, no
// write lock between its chunks. A failed Put (over the cap, a broken
// body, a done ctx) deletes its rows before returning, with a context of
// its own; what a dead process leaves pending is deleted by the first Put
// 24 hours later. Readers fetch one chunk per Read that needs it, so a
// Range reads only the chunks it covers.
package store
