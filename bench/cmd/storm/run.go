package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sockgate/sockgate/bench/internal/chatload"
)

// world is the users and chats of one run.
type world struct {
	srv *chatload.Server
	cfg config

	senders []*chatload.Peer // connected, each joined to its pair's chat
	groups  []group          // the stormers' chats
	tokens  []string         // stormer i's token
	tl      *timeline        // with -timeline
	// run prefixes the clientMsgIds: users keep their ids from run to run,
	// so that a -db PostgreSQL database can serve several runs (a sender's
	// clientMsgId reused in a new chat is a conflict).
	run string
}

// group is one stormer chat: its members (stormer indexes) and the id of
// its first message, the lastMessageId every member presents.
type group struct {
	ChatID  string `json:"chatId"`
	Members []int  `json:"members"`
	First   string `json:"first"`
}

// prepare makes every user known (one connection each), creates the chats,
// writes the stormers' history and connects the senders.
func (w *world) prepare(ctx context.Context) error {
	c := w.cfg
	w.tokens = make([]string, c.stormers)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range c.stormers {
		w.tokens[i] = w.srv.Token("m" + strconv.Itoa(i))
		g.Go(func() error {
			p, err := w.srv.Connect(gctx, chatload.Auth(w.tokens[i], ""), nil)
			if err != nil {
				return err
			}
			return p.Close()
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("registering stormers: %w", err)
	}
	if err := w.makeGroups(ctx); err != nil {
		return err
	}
	return w.connectSenders(ctx)
}

// makeGroups creates the stormer chats and their history.
func (w *world) makeGroups(ctx context.Context) error {
	c := w.cfg
	w.groups = make([]group, c.groups)
	for i := range c.stormers {
		gr := &w.groups[i%c.groups]
		gr.Members = append(gr.Members, i)
	}
	for gi := range w.groups {
		gr := &w.groups[gi]
		owner := "m" + strconv.Itoa(gr.Members[0])
		var others []string
		for _, m := range gr.Members[1:] {
			others = append(others, "m"+strconv.Itoa(m))
		}
		id, err := w.srv.CreateChat(ctx, owner, others)
		if err != nil {
			return err
		}
		gr.ChatID = id
		p, err := w.srv.Connect(ctx, chatload.Auth(w.tokens[gr.Members[0]], ""), nil)
		if err != nil {
			return err
		}
		if err := p.Join(ctx, id); err != nil {
			return err
		}
		for n := range c.history {
			mid, err := p.Send(ctx, "history "+strconv.Itoa(n), fmt.Sprintf("%s-h-%d-%d", w.run, gi, n))
			if err != nil {
				return err
			}
			if n == 0 {
				gr.First = mid
			}
		}
		_ = p.Close()
	}
	return nil
}

// connectSenders connects the senders, pairs sharing a chat.
func (w *world) connectSenders(ctx context.Context) error {
	for i := 0; i+1 < w.cfg.senders; i += 2 {
		a, b := "s"+strconv.Itoa(i), "s"+strconv.Itoa(i+1)
		pb, err := w.srv.Connect(ctx, chatload.Auth(w.srv.Token(b), ""), nil)
		if err != nil {
			return err
		}
		id, err := w.srv.CreateChat(ctx, a, []string{b})
		if err != nil {
			return err
		}
		pa, err := w.srv.Connect(ctx, chatload.Auth(w.srv.Token(a), ""), nil)
		if err != nil {
			return err
		}
		for _, p := range []*chatload.Peer{pa, pb} {
			if err := p.Join(ctx, id); err != nil {
				return err
			}
			w.senders = append(w.senders, p)
		}
	}
	return nil
}

// measure runs the senders through the idle window, then the storm.
func (w *world) measure(ctx context.Context) (result, error) {
	var res result
	child, err := startChild(job{Addr: w.srv.Addr, History: w.cfg.history, Tokens: w.tokens, Groups: w.groups, Delay: w.cfg.delay})
	if err != nil {
		return res, err
	}
	var stormOn atomic.Bool
	var mu sync.Mutex
	var idle, storm []time.Duration
	stop := make(chan struct{})
	sendErr := make(chan error, len(w.senders))
	var wg sync.WaitGroup
	for si, p := range w.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendErr <- p.SendLoop(ctx, stop, chatload.Pace(len(w.senders), w.cfg.rate), "x", w.run+"-s"+strconv.Itoa(si), func(_ string, d time.Duration) {
				mu.Lock()
				if stormOn.Load() {
					storm = append(storm, d)
					w.tl.ack(d)
				} else {
					idle = append(idle, d)
				}
				mu.Unlock()
			})
		}()
	}
	time.Sleep(w.cfg.window)
	mu.Lock()
	stormOn.Store(true)
	w.tl.begin(w.srv.Pid(), child.Pid())
	mu.Unlock()
	if w.cfg.profile != "" {
		go fetchProfile(w.cfg.profile, "results/storm.cpu.pprof")
	}
	if w.cfg.trace != "" {
		go fetchProfile(w.cfg.trace, "results/storm.trace")
	}
	start := time.Now()
	replayed, err := child.run(w.tl)
	res.stormTime = time.Since(start)
	w.tl.end()
	close(stop)
	wg.Wait()
	child.kill()
	close(sendErr)
	for e := range sendErr {
		if e != nil && err == nil {
			err = e
		}
	}
	res.idleP50, res.idleP99 = chatload.Quantiles(idle)
	res.stormP50, res.stormP99 = chatload.Quantiles(storm)
	res.idleN, res.stormN = len(idle), len(storm)
	res.stormers, res.replayed = w.cfg.stormers, replayed
	return res, err
}

// result is one run's figures.
type result struct {
	idleP50, idleP99, stormP50, stormP99 float64 // ms
	idleN, stormN, stormers              int
	replayed                             int64
	stormTime                            time.Duration
}

func (r result) ok(maxRatio float64) bool { return r.stormP99 <= maxRatio*r.idleP99 }

func (r result) String() string {
	return fmt.Sprintf("storm: verified; idle acks %d p50 %.2f ms p99 %.2f ms; during the storm (%d stormers, %d messages replayed, %.2f s) acks %d p50 %.2f ms p99 %.2f ms; p99 ratio %.2f",
		r.idleN, r.idleP50, r.idleP99, r.stormers, r.replayed, r.stormTime.Seconds(), r.stormN, r.stormP50, r.stormP99, r.stormP99/math.Max(r.idleP99, 1e-9))
}

// fetchProfile saves the server's CPU profile or execution trace of the
// next profileSeconds (the storm) to file; url is its /debug/pprof/profile or
// /debug/pprof/trace address.
func fetchProfile(url, file string) {
	res, err := http.Get(url + "?seconds=" + profileSeconds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storm: profile:", err)
		return
	}
	defer res.Body.Close()
	_ = os.MkdirAll("results", 0o755)
	f, err := os.Create(file)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, res.Body)
}

// profileSeconds is the length of -profile's and -trace's window, from
// the storm's start (STORM_PROFILE_SECONDS; default 3, the whole storm).
var profileSeconds = cmp.Or(os.Getenv("STORM_PROFILE_SECONDS"), "3")
