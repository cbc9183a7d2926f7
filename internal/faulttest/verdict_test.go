package faulttest

import (
	"testing"
	"time"
)

// TestVerdict: each assertion of the suite fails on a run that breaks it,
// and none on a clean run, without any process (the faults that pass on
// a given server still have assertions that can fail).
func TestVerdict(t *testing.T) {
	t0 := time.Now()
	s := &scenario{t: t, timeout: 2 * time.Second, deadline: 2*time.Second + margin, faultStart: t0, faultEnd: t0.Add(time.Second)}
	m := newMember("m00", "m00", "c1", "", "", s.deadline)
	s.members = []*member{m}
	ok := &outMsg{clientMsgID: "m00-1", ackedID: "A1", ackedSeq: 1}
	ok.attempts = []*attempt{{msg: ok, sent: t0, answered: t0.Add(100 * time.Millisecond)}}
	m.msgs = []*outMsg{ok}
	m.record(wireMessage{ID: "A1", ChatID: "c1", Seq: 1}, "live")
	rows := []row{{id: "A1", chat: "c1", sender: "m00", clientMsgID: "m00-1", seq: 1, createdAt: t0}}
	for _, v := range mustVerdict(s, fault{sigterm: true}, rows) {
		if len(v.list) > 0 {
			t.Errorf("clean run: %s: %v", v.what, v.list)
		}
	}

	ghost := &outMsg{clientMsgID: "m00-2", ackedID: "GHOST"}                               // acked, not stored
	ghost.attempts = []*attempt{{msg: ghost, sent: t0, answered: t0.Add(5 * time.Second)}} // late
	bad := &outMsg{clientMsgID: "m00-3"}
	bad.attempts = []*attempt{
		{msg: bad, sent: t0, answered: t0.Add(time.Millisecond), code: "internal"},
		{msg: bad, sent: t0.Add(time.Second), lostAt: t0.Add(2 * time.Second)}, // committed, unanswered
	}
	m.msgs = append(m.msgs, ghost, bad)
	m.record(wireMessage{ID: "A3", ChatID: "c1", Seq: 3}, "live")
	m.record(wireMessage{ID: "A2", ChatID: "c1", Seq: 2}, "live") // inversion
	rows = append(rows,
		row{id: "A2", chat: "c1", sender: "m00", clientMsgID: "m00-9", seq: 2, createdAt: t0},
		row{id: "A3", chat: "c1", sender: "m00", clientMsgID: "m00-9", seq: 3, createdAt: t0}, // m00-9 twice
		row{id: "A4", chat: "c1", sender: "m00", clientMsgID: "m00-3", seq: 4, createdAt: t0.Add(1500 * time.Millisecond)},
	) // A4 never received
	for _, v := range mustVerdict(s, fault{sigterm: true}, rows) {
		if len(v.list) == 0 {
			t.Errorf("broken run: no violation of %q", v.what)
		}
	}
}

func mustVerdict(s *scenario, f fault, rows []row) []*violations {
	vs, _ := s.verdict(f, rows)
	if len(vs) != 7 {
		s.t.Fatalf("%d assertions, want 7", len(vs))
	}
	return vs
}
