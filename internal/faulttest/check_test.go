package faulttest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // database/sql driver "sqlite": the scenario's SQLite file
)

// row is a stored message, read from the database itself.
type row struct {
	id, chat, sender, clientMsgID string
	seq                           int64
	createdAt                     time.Time
}

// rows reads every stored message (nil, logged, when the database cannot
// be read: the assertions then report everything missing).
func (s *scenario) rows(t *testing.T) []row {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const q = "SELECT id, chat_id, seq, sender_id, COALESCE(client_msg_id, ''), created_at FROM messages ORDER BY id"
	var out []row
	scan := func(scan func(...any) error) error {
		var r row
		var micros int64
		if err := scan(&r.id, &r.chat, &r.seq, &r.sender, &r.clientMsgID, &micros); err != nil {
			return err
		}
		r.createdAt = time.UnixMicro(micros)
		out = append(out, r)
		return nil
	}
	var err error
	if s.pg != nil {
		err = pgRows(ctx, s.pg.URL(), q, scan)
	} else {
		err = sqliteRows(ctx, filepath.Join(s.dataDir, "sockgate.db"), q, scan)
	}
	if err != nil {
		t.Logf("faulttest: reading the messages: %v", err)
		return nil
	}
	return out
}

func pgRows(ctx context.Context, url, q string, scan func(func(...any) error) error) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	rs, err := c.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs.Scan); err != nil {
			return err
		}
	}
	return rs.Err()
}

func sqliteRows(ctx context.Context, path, q string, scan func(func(...any) error) error) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rs, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs.Scan); err != nil {
			return err
		}
	}
	return rs.Err()
}

// allDelivered: every member received every stored message of its chat.
func (s *scenario) allDelivered(rows []row) error {
	if rows == nil {
		return fmt.Errorf("no rows read")
	}
	for _, m := range s.members {
		if miss := m.missing(rows); len(miss) > 0 {
			return fmt.Errorf("%s misses %d messages", m.name, len(miss))
		}
	}
	return nil
}

// missing returns the ids of its chat's rows the member never received.
func (m *member) missing(rows []row) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range rows {
		if _, ok := m.seen[r.id]; !ok && r.chat == m.chat {
			out = append(out, fmt.Sprintf("%s(seq %d, %s)", r.id, r.seq, r.clientMsgID))
		}
	}
	return out
}

// violations collects one assertion's failures.
type violations struct {
	what string
	list []string
}

func (v *violations) add(format string, args ...any) {
	v.list = append(v.list, fmt.Sprintf(format, args...))
}

// report fails the test with the first few violations.
func (v *violations) report(s *scenario) {
	s.t.Helper()
	if len(v.list) == 0 {
		return
	}
	shown := v.list[:min(len(v.list), 8)]
	s.errorf("%s: %d violations, e.g.:\n  %s", v.what, len(v.list), strings.Join(shown, "\n  "))
}

// check asserts the acceptance on the whole run.
func (s *scenario) check(f fault, rows []row) {
	t := s.t
	vs, st := s.verdict(f, rows)
	s.summary(st, rows)
	if rows == nil {
		s.errorf("the database could not be read after the run")
	}
	for _, v := range vs {
		v.report(s)
	}
	if f.visible && st.duringFault == 0 {
		s.errorf("the fault had no visible effect (no error and no answer given up while it lasted): the injection failed")
	}
	if !f.restarts && st.drops > 0 {
		t.Logf("faulttest: %d connections were lost although sockgate kept running", st.drops)
	}
}

// verdict is every assertion's violations (in the order of doc.go) and the
// run's figures; the members must have stopped.
func (s *scenario) verdict(f fault, rows []row) ([]*violations, stats) {
	byID := map[string]row{}
	perClientMsg := map[string]int{}
	for _, r := range rows {
		byID[r.id] = r
		perClientMsg[r.sender+"/"+r.clientMsgID]++
	}
	missing := violations{what: "acked but missing from the database"}
	dups := violations{what: "clientMsgId stored more than once"}
	codes := violations{what: "error ack other than unavailable"}
	late := violations{what: fmt.Sprintf("answer later than its deadline (event timeout %v + %v)", s.timeout, margin)}
	unflushed := violations{what: "running handler's ack not flushed on SIGTERM (committed, connection closed unanswered)"}
	for k, n := range perClientMsg {
		if n > 1 && !strings.HasSuffix(k, "/") {
			dups.add("%s stored %d times", k, n)
		}
	}
	sort.Strings(dups.list)
	st := stats{codes: map[string]int{}}
	for _, m := range s.members {
		m.mu.Lock()
		for _, msg := range m.msgs {
			if msg.ackedID != "" {
				if r, ok := byID[msg.ackedID]; !ok || r.clientMsgID != msg.clientMsgID || r.chat != m.chat {
					missing.add("%s: %s acked as %s (seq %d): no such row", m.name, msg.clientMsgID, msg.ackedID, msg.ackedSeq)
				}
			}
			for _, a := range msg.attempts {
				s.checkAttempt(f, m, a, rows, &st, &codes, &late, &unflushed)
			}
		}
		st.drops += m.drops
		m.mu.Unlock()
	}
	inversions := violations{what: "live seq inversion or duplicate at a receiver"}
	undelivered := violations{what: "committed message not delivered to a member (live, replayed or synced)"}
	for _, m := range s.members {
		m.mu.Lock()
		inversions.list = append(inversions.list, m.problems...)
		drops := m.drops
		m.mu.Unlock()
		for _, id := range m.missing(rows) {
			undelivered.add("%s (connections lost: %d) never got %s", m.name, drops, id)
		}
	}
	return []*violations{&missing, &dups, &codes, &late, &inversions, &undelivered, &unflushed}, st
}

// stats are the run's figures, for the log.
type stats struct {
	attempts, ok, lost, gaveUp, drops, duringFault int
	codes                                          map[string]int
	maxLatency                                     time.Duration
}

// checkAttempt checks one attempt's answer: its code, its deadline, and on
// SIGTERM whether a committed attempt went unanswered. m.mu held.
func (s *scenario) checkAttempt(f fault, m *member, a *attempt, rows []row, st *stats, codes, late, unflushed *violations) {
	st.attempts++
	inFault := !a.sent.Before(s.faultStart) && a.sent.Before(s.faultEnd)
	switch {
	case a.answered.IsZero() && !a.lostAt.IsZero():
		st.lost++
		if a.lostAt.Sub(a.sent) > s.deadline {
			late.add("%s: %s sent %s, unanswered for %v until its connection closed", m.name, a.msg.clientMsgID, stamp(a.sent), a.lostAt.Sub(a.sent).Round(time.Millisecond))
		}
		if f.sigterm && committedDuring(rows, m.user, a) {
			unflushed.add("%s: %s sent %s, committed, connection closed %s without its ack", m.name, a.msg.clientMsgID, stamp(a.sent), stamp(a.lostAt))
		}
	case a.answered.IsZero():
		late.add("%s: %s sent %s, never answered", m.name, a.msg.clientMsgID, stamp(a.sent))
	default:
		if a.code == "" {
			st.ok++
		} else {
			st.codes[a.code]++
			if a.code != "unavailable" {
				codes.add("%s: %s sent %s answered %q after %v", m.name, a.msg.clientMsgID, stamp(a.sent), a.code, a.latency().Round(time.Millisecond))
			}
		}
		st.maxLatency = max(st.maxLatency, a.latency())
		if a.latency() > s.deadline {
			late.add("%s: %s sent %s answered (%q) after %v", m.name, a.msg.clientMsgID, stamp(a.sent), a.code, a.latency().Round(time.Millisecond))
		}
	}
	if a.gaveUp {
		st.gaveUp++
	}
	if inFault && (a.code != "" || a.gaveUp || a.latency() > s.timeout/2) {
		st.duringFault++
	}
}

// committedDuring: the attempt's message was stored while the attempt was
// in flight (between its sending and its connection's end).
func committedDuring(rows []row, user string, a *attempt) bool {
	for _, r := range rows {
		if r.sender == user && r.clientMsgID == a.msg.clientMsgID {
			return !r.createdAt.Before(a.sent.Add(-time.Millisecond)) && !r.createdAt.After(a.lostAt)
		}
	}
	return false
}

// summary logs the figures and the timeline.
func (s *scenario) summary(st stats, rows []row) {
	var codes []string
	for c, n := range st.codes {
		codes = append(codes, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codes)
	s.t.Logf("faulttest: event timeout %v, deadline %v; %d rows; %d attempts: %d ok, errors %v, %d lost with their connection, %d given up; "+
		"max answer latency %v; %d connections lost; recovered %v after the fault\n  %s",
		s.timeout, s.deadline, len(rows), st.attempts, st.ok, codes, st.lost, st.gaveUp,
		st.maxLatency.Round(time.Millisecond), st.drops, s.recoveredIn.Round(time.Millisecond), strings.Join(s.timeline, "\n  "))
}

func stamp(t time.Time) string { return t.Format("15:04:05.000") }
