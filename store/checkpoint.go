package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite's WAL is copied back into the database file by a checkpoint. By
// default SQLite runs one inside the COMMIT that grows the WAL past 1000
// pages, so every few thousand messages one sender's commit also writes
// and fsyncs megabytes while every other sender queues behind the single
// writer: measured with bench's storm (20 senders, SQLite), that was the
// idle ack p99 (24 ms; 12 ms with no checkpoint at all). So the SQLite
// connections run with wal_autocheckpoint(0) and a checkpointer goroutine
// runs PASSIVE checkpoints (the kind the automatic one is: it never blocks
// writers or readers, it copies what no reader still needs) on its own
// pooled connection, every Config.CheckpointInterval after a write.

// checkpointer runs the periodic checkpoints of a SQLite Store.
type checkpointer struct {
	dirty atomic.Bool // a write committed since the last checkpoint
	stop  chan struct{}
	once  sync.Once // Close may be called twice
	wg    sync.WaitGroup
}

// checkpointTimeout bounds one checkpoint.
const checkpointTimeout = 30 * time.Second

// startCheckpoints starts s's checkpointer (SQLite with every > 0).
func (s *Store) startCheckpoints(every time.Duration) {
	if s.dialect != DialectSQLite || every <= 0 {
		return
	}
	s.ckpt = &checkpointer{stop: make(chan struct{})}
	s.ckpt.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if s.ckpt.dirty.Swap(false) {
					s.checkpoint()
				}
			case <-s.ckpt.stop:
				return
			}
		}
	})
}

// wrote tells the checkpointer that a write committed.
func (s *Store) wrote() {
	if s.ckpt != nil {
		s.ckpt.dirty.Store(true)
	}
}

// checkpoint runs one PASSIVE checkpoint; a failure is logged (the WAL
// keeps the data; the next one retries).
func (s *Store) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), checkpointTimeout)
	defer cancel()
	var r struct{ Busy, Log, Checkpointed int }
	if err := s.db.WithContext(ctx).Raw("PRAGMA wal_checkpoint(PASSIVE)").Row().Scan(&r.Busy, &r.Log, &r.Checkpointed); err != nil {
		s.ckpt.dirty.Store(true)
		s.log.Warn("store: WAL checkpoint failed", "err", err)
		return
	}
	s.log.Debug("store: WAL checkpoint", "wal_frames", r.Log, "checkpointed", r.Checkpointed)
}

// stopCheckpoints stops the checkpointer (the last connection's close
// checkpoints what is left).
func (s *Store) stopCheckpoints() {
	if s.ckpt != nil {
		s.ckpt.once.Do(func() { close(s.ckpt.stop) })
		s.ckpt.wg.Wait()
	}
}
