package faulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/internal/testenv"
)

// The load (see doc.go): bounded counts, so that the suite's run time does
// not depend on the machine's speed.
const (
	members    = 12                     // clients, each its own user
	chatsCount = 3                      // members are spread over them
	sendEvery  = 300 * time.Millisecond // per member: ~3.3 messages/s, under the 10/s rule
	maxPending = 8                      // unanswered attempts per member
	// margin is added to the server's event timeout to make an answer's
	// deadline: transport and scheduling on a loaded machine (-race).
	margin = 1500 * time.Millisecond
	// wantedTimeout is the event timeout the suite asks for with
	// SOCKGATE_EVENT_TIMEOUT when the binary has that setting.
	wantedTimeout = 2 * time.Second
	// defaultTimeout is the server's own (gateway.Config.EventTimeout).
	defaultTimeout = 10 * time.Second

	loadBefore    = time.Second      // load before the fault (after every member acked)
	loadAfter     = 2 * time.Second  // load after recovery
	recoveryBound = 30 * time.Second // fault end → everyone's messages acked again
	drainBound    = 30 * time.Second // load end → every message acked
	settleBound   = 10 * time.Second // → every committed message received
)

// setup says which services a scenario runs on.
type setup struct {
	sqlite bool // SQLite on a small tmpfs; else the private PostgreSQL
	redis  bool // a private Redis (-redis: adapter, limiter, presence)
}

// scenario is one fault test's world: the services, one sockgate, the
// members and the timeline.
type scenario struct {
	t        *testing.T
	timeout  time.Duration // the server's event timeout
	deadline time.Duration // timeout + margin: the latest an answer may come
	env      []string

	pg      *testenv.PostgresServer
	rd      *testenv.RedisServer
	dataDir string // SQLite's, on the tmpfs
	secret  string
	sg      *testenv.Sockgate
	addr    string

	chats   []string
	members []*member
	stop    context.CancelFunc
	wg      sync.WaitGroup
	fresh   atomic.Bool // members generate new messages

	faultStart, faultEnd time.Time
	recoveredIn          time.Duration // -1: did not recover
	timeline             []string
	failures             []string // errorf's, repeated when the test ends
}

// newScenario starts the services and sockgate, creates the chats and
// connects the members, each of whom has then received one seed message
// per chat (so that every reconnection presents a lastMessageId).
func newScenario(t *testing.T, su setup) *scenario {
	t.Helper()
	var b [24]byte
	_, _ = rand.Read(b[:])
	s := &scenario{t: t, secret: hex.EncodeToString(b[:]), recoveredIn: -1}
	t.Cleanup(s.repeatFailures) // first registered: runs after the processes' log tails
	s.timeout, s.env = eventTimeout(t)
	s.deadline = s.timeout + margin
	if su.sqlite {
		s.dataDir = testenv.Tmpfs(t, 16<<20)
	} else {
		s.pg = testenv.StartPostgresServer(t)
	}
	if su.redis {
		s.rd = testenv.StartRedisServer(t)
	}
	s.startSockgate(t)
	s.createChats(t)
	s.connect(t)
	return s
}

// eventTimeout returns the server's event timeout and the environment that
// sets it: wantedTimeout through SOCKGATE_EVENT_TIMEOUT when the binary
// lists -event-timeout, else its default (the faults then last longer).
func eventTimeout(t *testing.T) (time.Duration, []string) {
	out, _ := exec.Command(testenv.SockgateBinary(t), "-h").CombinedOutput()
	if bytes.Contains(out, []byte("-event-timeout")) {
		return wantedTimeout, []string{"SOCKGATE_EVENT_TIMEOUT=" + wantedTimeout.String()}
	}
	t.Logf("faulttest: sockgate has no -event-timeout: using its default %v (faults are scaled to it)", defaultTimeout)
	return defaultTimeout, nil
}

// startSockgate starts sockgate (again, after a kill: on the same address).
func (s *scenario) startSockgate(t *testing.T) {
	t.Helper()
	cfg := testenv.SockgateConfig{
		JWTSecret: s.secret, DataDir: s.dataDir,
		// The members all connect from 127.0.0.1, and reconnect at once.
		Env: append([]string{"SOCKGATE_RATE_LIMITS=connect=0"}, s.env...),
	}
	if s.pg != nil {
		cfg.DatabaseURL = s.pg.URL()
	}
	if s.rd != nil {
		cfg.RedisURL = s.rd.URL()
	}
	if s.addr != "" {
		cfg.Args = []string{"-addr", s.addr} // after -addr 127.0.0.1:0: this one wins
	}
	s.sg = testenv.StartSockgate(t, cfg)
	s.addr = s.sg.Addr
}

// token mints a member's JWT.
func (s *scenario) token(t *testing.T, user string) string {
	t.Helper()
	tok, err := auth.Mint([]byte(s.secret), auth.Identity{ID: user, Name: strings.ToUpper(user)}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// memberName is the name (and user id) of member i.
func memberName(i int) string { return fmt.Sprintf("m%02d", i) }

// createChats creates chatsCount general chats over REST; member i belongs
// to chat i % chatsCount.
func (s *scenario) createChats(t *testing.T) {
	t.Helper()
	for c := range chatsCount {
		var ids []string
		for i := c + chatsCount; i < members; i += chatsCount {
			ids = append(ids, memberName(i))
		}
		body, _ := json.Marshal(map[string]any{"kind": "general", "title": fmt.Sprintf("fault %d", c), "memberIds": ids})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.sg.URL+"/chats", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token(t, memberName(c)))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("POST /chats: %v", err)
		}
		var chat struct{ ID string }
		err = json.NewDecoder(res.Body).Decode(&chat)
		res.Body.Close()
		cancel()
		if res.StatusCode != http.StatusCreated || err != nil || chat.ID == "" {
			t.Fatalf("POST /chats: %s (%v)", res.Status, err)
		}
		s.chats = append(s.chats, chat.ID)
	}
}

// connect starts the members and their senders, waits until each joined,
// then has the first member of each chat send a seed message and waits
// until every member received it.
func (s *scenario) connect(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	t.Cleanup(s.halt)
	for i := range members {
		name := memberName(i)
		m := newMember(name, name, s.chats[i%chatsCount], s.token(t, name), s.addr, s.deadline)
		s.members = append(s.members, m)
		s.wg.Go(func() { m.run(ctx) })
		s.wg.Go(func() { s.send(ctx, m) })
	}
	s.waitFor(t, "every member joined", 20*time.Second, func() error {
		for _, m := range s.members {
			if m.state(func() bool { return m.ready }) == false {
				return fmt.Errorf("%s not joined (%v)", m.name, m.lastErrors())
			}
		}
		return nil
	})
	var seedSeq int
	for _, m := range s.members[:chatsCount] {
		m.mu.Lock()
		m.queue = append(m.queue, m.newMsg(&seedSeq))
		m.mu.Unlock()
	}
	s.waitFor(t, "every member received its chat's seed message", 20*time.Second, func() error {
		for _, m := range s.members {
			if m.state(func() bool { return m.newest == "" }) {
				return fmt.Errorf("%s has no message yet", m.name)
			}
		}
		return nil
	})
}

// halt stops the members (idempotent).
func (s *scenario) halt() {
	s.stop()
	s.wg.Wait()
}

// send is a member's sender: every sendEvery, a due retry or (under load) a
// new message.
func (s *scenario) send(ctx context.Context, m *member) {
	tick := time.NewTicker(sendEvery)
	defer tick.Stop()
	var seq int
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			m.giveUp(now)
			if msg := m.next(now, s.fresh.Load(), &seq); msg != nil && !m.emit(msg, maxPending) {
				m.unqueue(msg)
			}
		}
	}
}

// mark adds an entry to the timeline printed with the results.
func (s *scenario) mark(format string, args ...any) {
	s.timeline = append(s.timeline, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	s.t.Logf(format, args...)
}

// errorf fails the test and keeps the reason for repeatFailures.
func (s *scenario) errorf(format string, args ...any) {
	s.t.Helper()
	msg := fmt.Sprintf(format, args...)
	s.failures = append(s.failures, msg)
	s.t.Error(msg)
}

// repeatFailures logs the reasons of a failed scenario once more, last: the
// processes' log tails printed at cleanup would otherwise bury them, and CI
// shows only the end of the output.
func (s *scenario) repeatFailures() {
	if len(s.failures) > 0 {
		s.t.Logf("faulttest: %s failed because:\n  %s", s.t.Name(), strings.Join(s.failures, "\n  "))
	}
}

// waitFor is testenv.WaitFor with a name in the failure.
func (s *scenario) waitFor(t *testing.T, what string, d time.Duration, cond func() error) {
	t.Helper()
	if err := await(d, cond); err != nil {
		s.errorf("%s: not after %v: %v", what, d, err)
		t.FailNow()
	}
}

// await polls cond until it returns nil or d passes (its last error).
func await(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hold lasts a fault for d: the fault's length is the experiment, not a
// synchronisation (the tests await every outcome).
func hold(d time.Duration) { time.Sleep(d) }

// fault is what one test does to the system under load.
type fault struct {
	// inject starts the fault and ends it, the load running meanwhile.
	inject func(s *scenario)
	// visible: the fault must show in the answers (errors, or answers
	// given up): else the injection did not work and the test proves
	// nothing.
	visible bool
	// restarts: sockgate is restarted, connections drop.
	restarts bool
	// sigterm: sockgate is stopped with SIGTERM; every running handler's
	// ack must be flushed.
	sigterm bool
}

// run is the experiment: load, the fault, recovery, drain, settle, then
// every assertion of the acceptance.
func (s *scenario) run(f fault) {
	t := s.t
	s.fresh.Store(true)
	s.mark("load on")
	s.waitFor(t, "every member acked under load before the fault", 20*time.Second, s.ackedSince(time.Now()))
	hold(loadBefore)
	s.faultStart = time.Now()
	f.inject(s)
	s.faultEnd = time.Now()
	s.mark("fault over")
	if err := await(recoveryBound, s.recovered(s.faultEnd)); err != nil {
		s.errorf("no recovery by itself within %v of the fault's end: %v", recoveryBound, err)
	} else {
		s.recoveredIn = time.Since(s.faultEnd)
		s.mark("recovered: readyz 200 and every member acked again, %v after the fault", s.recoveredIn.Round(time.Millisecond))
		hold(loadAfter)
	}
	s.fresh.Store(false)
	s.mark("load off")
	if err := await(drainBound, s.allAcked); err != nil {
		s.errorf("not every message acked within %v of the load's end: %v", drainBound, err)
	}
	if err := await(settleBound, func() error { return s.allDelivered(s.rows(t)) }); err != nil {
		s.mark("not every committed message delivered after %v: %v", settleBound, err)
	}
	s.halt()
	s.check(f, s.rows(t))
}

// ackedSince: every member has a message acked whose first attempt was
// sent at or after since.
func (s *scenario) ackedSince(since time.Time) func() error {
	return func() error {
		for _, m := range s.members {
			if !m.ackedAfter(since) {
				return fmt.Errorf("%s has no message sent since %s acked (%v)", m.name, since.Format("15:04:05.000"), m.lastErrors())
			}
		}
		return nil
	}
}

// recovered: /readyz answers 200 and every member has a message sent
// after the fault's end acked.
func (s *scenario) recovered(since time.Time) func() error {
	acked := s.ackedSince(since)
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.sg.Ready(ctx); err != nil {
			return err
		}
		return acked()
	}
}

// allAcked: no member has a message unacked.
func (s *scenario) allAcked() error {
	for _, m := range s.members {
		if n := m.unacked(); n > 0 {
			return fmt.Errorf("%s has %d messages unacked (%v)", m.name, n, m.lastErrors())
		}
	}
	return nil
}
