package faulttest

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// The faults, one test each (doc.go says what each does and asserts). The
// lengths scale with the server's event timeout T: an outage of T, a
// lock, a stall or a full disk of 3T (with T = 10 s, the acceptance's
// 30 s table lock).

// TestFault_PostgresKill: PostgreSQL's process group is SIGKILLed under
// load, stays down for T, then restarts on the same data directory (crash
// recovery) and port.
func TestFault_PostgresKill(t *testing.T) {
	s := newScenario(t, setup{redis: true})
	s.run(fault{visible: true, inject: func(s *scenario) {
		s.pg.Kill()
		s.mark("postgres SIGKILLed (pid group)")
		hold(s.timeout)
		s.pg.Start(t)
		s.mark("postgres restarted (pid %d)", s.pg.Pid())
	}})
}

// TestFault_SQLiteDiskFull: sockgate on SQLite whose data directory is a
// 16 MiB tmpfs; a filler file takes every free byte for 3T, then is
// removed.
func TestFault_SQLiteDiskFull(t *testing.T) {
	s := newScenario(t, setup{sqlite: true})
	s.run(fault{visible: true, inject: func(s *scenario) {
		filler := testenv.FillDisk(t, s.dataDir)
		s.mark("tmpfs full")
		hold(3 * s.timeout)
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		s.mark("tmpfs freed")
	}})
}

// TestFault_RedisKill: the private Redis is SIGKILLed under load, stays
// down for T, then a new, empty one starts on the same port.
func TestFault_RedisKill(t *testing.T) {
	s := newScenario(t, setup{redis: true})
	s.run(fault{inject: func(s *scenario) {
		s.rd.Kill()
		s.mark("redis SIGKILLed")
		hold(s.timeout)
		s.rd.Start(t)
		s.mark("redis restarted, empty")
	}})
}

// TestFault_RedisStop: the private Redis is SIGSTOPped for 3T (a hung
// Redis: connections stay open, nothing answers), then SIGCONTinued.
func TestFault_RedisStop(t *testing.T) {
	s := newScenario(t, setup{redis: true})
	s.run(fault{inject: func(s *scenario) {
		signal(t, s.rd.Process, syscall.SIGSTOP)
		s.mark("redis SIGSTOPped")
		hold(3 * s.timeout)
		signal(t, s.rd.Process, syscall.SIGCONT)
		s.mark("redis SIGCONTinued")
	}})
}

// TestFault_TableLock: a transaction holds LOCK TABLE messages IN ACCESS
// EXCLUSIVE MODE (what an ALTER TABLE takes) for 3T, then rolls back.
func TestFault_TableLock(t *testing.T) {
	s := newScenario(t, setup{redis: true})
	s.run(fault{visible: true, inject: func(s *scenario) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*s.timeout+30*time.Second)
		defer cancel()
		c := s.pg.Conn(t)
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		s.mark("messages locked")
		hold(3 * s.timeout)
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		s.mark("lock released")
	}})
}

// TestFault_SlowCommit: every COMMIT of a write waits for a synchronous
// standby that does not exist (synchronous_standby_names) for 3T: the
// transaction is written but its COMMIT does not answer. Then the setting
// is reset and the waiting commits complete.
func TestFault_SlowCommit(t *testing.T) {
	s := newScenario(t, setup{redis: true})
	s.run(fault{visible: true, inject: func(s *scenario) {
		pgSet(t, s, "ALTER SYSTEM SET synchronous_standby_names = 'faulttest_absent_standby'")
		s.mark("commits wait for an absent standby")
		hold(3 * s.timeout)
		pgSet(t, s, "ALTER SYSTEM RESET synchronous_standby_names")
		s.mark("commits answer again")
	}})
}

// TestFault_SockgateSIGTERM: sockgate gets SIGTERM under load (a trigger
// makes each INSERT take 50 ms, so handlers are running), drains and
// exits; a new process starts on the same address.
func TestFault_SockgateSIGTERM(t *testing.T) {
	s := newScenario(t, setup{redis: true})
	slowInserts(t, s)
	s.run(fault{restarts: true, sigterm: true, inject: func(s *scenario) {
		s.mark("SIGTERM to sockgate")
		s.sg.Stop() // SIGTERM, SIGKILL only after testenv.StopGrace
		s.mark("sockgate exited: %v", s.sg.Err())
		s.startSockgate(t)
		s.mark("sockgate restarted")
	}})
}

// TestFault_SockgateSIGKILL: sockgate is SIGKILLed under load (INSERTs
// take 50 ms); a new process starts on the same address.
func TestFault_SockgateSIGKILL(t *testing.T) {
	s := newScenario(t, setup{redis: true})
	slowInserts(t, s)
	s.run(fault{restarts: true, inject: func(s *scenario) {
		s.sg.Kill()
		s.mark("sockgate SIGKILLed")
		s.startSockgate(t)
		s.mark("sockgate restarted")
	}})
}

// slowInserts makes every INSERT into messages sleep 50 ms (a trigger), so
// that under load handlers are running when sockgate is stopped.
func slowInserts(t *testing.T, s *scenario) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.pg.Conn(t).Exec(ctx, `
		CREATE FUNCTION faulttest_slow() RETURNS trigger LANGUAGE plpgsql AS
		  $$ BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$;
		CREATE TRIGGER faulttest_slow BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION faulttest_slow()`)
	if err != nil {
		t.Fatal(err)
	}
}

// pgSet runs an ALTER SYSTEM and reloads the configuration.
func pgSet(t *testing.T, s *scenario, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.pg.Conn(t)
	if _, err := c.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
}

func signal(t *testing.T, p *testenv.Process, sig syscall.Signal) {
	t.Helper()
	if err := p.Signal(sig); err != nil {
		t.Fatalf("%s: %v", sig, err)
	}
}
