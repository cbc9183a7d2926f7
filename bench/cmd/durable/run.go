package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/bench/internal/chatload"
)

// result is one run's figures.
type result struct {
	mode, store       string
	senders           int
	acked             int64
	rate              float64
	p50, p99          float64
	stored, wantStore int64
	offered           float64 // -rate; 0: closed loop
}

func (r result) String() string {
	loop := "closed loop"
	if r.offered > 0 {
		loop = fmt.Sprintf("open loop at %.0f/s", r.offered)
	}
	return fmt.Sprintf("durable %s %s senders=%d (%s): %.0f acked messages/s, ack p50 %.2f ms p99 %.2f ms; verified (%d acks in the window, every ack a new id; the store holds exactly the %d messages acked in the run)",
		r.store, r.mode, r.senders, loop, r.rate, r.p50, r.p99, r.acked, r.stored)
}

// runOne starts a fresh server (and database), prepares the chats and
// measures one window.
func runOne(ctx context.Context, c config, mode string, senders int) (result, error) {
	dir, err := os.MkdirTemp("", "sockgate-durable-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	res := result{mode: mode, senders: senders, store: "sqlite", offered: c.rate}
	dsn := ""
	if c.db != "" {
		res.store = "postgres"
		var drop func()
		if dsn, drop, err = freshDatabase(ctx, c.db); err != nil {
			return res, err
		}
		defer drop()
	}
	srv, err := chatload.Start(ctx, chatload.Options{Bin: c.bin, DataDir: dir, DB: dsn,
		RateLimits: "connect=0,/chat:chat message=0,/chat:join=0,http:POST /chats=0,http:GET /chats/{id}/messages=0"})
	if err != nil {
		return res, err
	}
	defer srv.Stop()
	peers, chats, err := prepare(ctx, srv, mode, senders, c.hot)
	if err != nil {
		return res, fmt.Errorf("prepare: %w (server log %s)", err, srv.Tail())
	}
	if err := measure(ctx, c, peers, &res); err != nil {
		return res, fmt.Errorf("%w (server log %s)", err, srv.Tail())
	}
	return res, verifyStore(ctx, srv, chats, &res)
}

// prepare connects the senders and joins them to their chats: pairs in
// direct chats, or everyone in one chat of hot members.
func prepare(ctx context.Context, srv *chatload.Server, mode string, senders, hot int) ([]*chatload.Peer, map[string]string, error) {
	chats := map[string]string{} // chat id → a member, to count its messages
	user := func(i int) string { return "u" + strconv.Itoa(i) }
	var peers []*chatload.Peer
	connect := func(u, chat string) error {
		p, err := srv.Connect(ctx, chatload.Auth(srv.Token(u), ""), nil)
		if err != nil {
			return err
		}
		peers = append(peers, p)
		return p.Join(ctx, chat)
	}
	switch mode {
	case "direct":
		for i := 0; i+1 < senders; i += 2 {
			// The member must exist before the chat: connecting records it.
			if p, err := srv.Connect(ctx, chatload.Auth(srv.Token(user(i+1)), ""), nil); err == nil {
				_ = p.Close()
			}
			id, err := srv.CreateChat(ctx, user(i), []string{user(i + 1)})
			if err != nil {
				return nil, nil, err
			}
			chats[id] = user(i)
			if err := connect(user(i), id); err != nil {
				return nil, nil, err
			}
			if err := connect(user(i+1), id); err != nil {
				return nil, nil, err
			}
		}
	case "hot":
		var members []string
		for i := 1; i < hot; i++ {
			members = append(members, user(i))
			if p, err := srv.Connect(ctx, chatload.Auth(srv.Token(user(i)), ""), nil); err == nil {
				_ = p.Close()
			}
		}
		id, err := srv.CreateChat(ctx, user(0), members)
		if err != nil {
			return nil, nil, err
		}
		chats[id] = user(0)
		for i := range senders {
			if err := connect(user(i%hot), id); err != nil {
				return nil, nil, err
			}
		}
	default:
		return nil, nil, fmt.Errorf("unknown mode %q", mode)
	}
	return peers, chats, nil
}

// measure runs every peer's closed loop through warm-up and the window.
func measure(ctx context.Context, c config, peers []*chatload.Peer, res *result) error {
	var (
		mu     sync.Mutex
		lat    []time.Duration
		ids    = map[string]bool{}
		inWin  atomic.Bool
		acked  atomic.Int64
		stop   = make(chan struct{})
		errs   = make(chan error, len(peers))
		wg     sync.WaitGroup
		dupErr error
	)
	pace := chatload.Pace(len(peers), c.rate)
	for pi, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.SendLoop(ctx, stop, pace, "durable", "d"+strconv.Itoa(pi), func(id string, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				if ids[id] && dupErr == nil {
					dupErr = fmt.Errorf("message id %s acked twice", id)
				}
				ids[id] = true
				if inWin.Load() {
					lat = append(lat, d)
					acked.Add(1)
				}
			})
		}()
	}
	time.Sleep(c.warmup)
	inWin.Store(true)
	t0 := time.Now()
	time.Sleep(c.duration)
	inWin.Store(false)
	elapsed := time.Since(t0)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	if dupErr != nil {
		return dupErr
	}
	res.acked = acked.Load()
	res.rate = float64(res.acked) / elapsed.Seconds()
	res.p50, res.p99 = chatload.Quantiles(lat)
	res.wantStore = int64(len(ids))
	return nil
}

// verifyStore pages every chat's messages over REST: the store must hold
// exactly the acked messages.
func verifyStore(ctx context.Context, srv *chatload.Server, chats map[string]string, res *result) error {
	var total int64
	for chat, member := range chats {
		n, err := countMessages(ctx, srv, chat, member)
		if err != nil {
			return err
		}
		total += n
	}
	res.stored = total
	if total != res.wantStore {
		return fmt.Errorf("store holds %d messages, %d were acked", total, res.wantStore)
	}
	return nil
}

// countMessages reads the total of chat's first page of messages.
func countMessages(ctx context.Context, srv *chatload.Server, chat, member string) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr+"/chats/"+chat+"/messages?page=1&limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token(member))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var page struct {
		Total *int64 `json:"total"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != http.StatusOK || page.Total == nil {
		return 0, fmt.Errorf("GET messages: %d %v", res.StatusCode, err)
	}
	return *page.Total, nil
}

// freshDatabase creates a database for one run on the PostgreSQL server
// at base (psql on PATH) and returns its URL and a function dropping it.
func freshDatabase(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "sockgate_bench_" + hex.EncodeToString(b)
	psql := func(sql string) error {
		out, err := exec.CommandContext(ctx, "psql", base, "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql %q: %v: %s", sql, err, out)
		}
		return nil
	}
	if err := psql("CREATE DATABASE " + name); err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() { _ = psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") }, nil
}
