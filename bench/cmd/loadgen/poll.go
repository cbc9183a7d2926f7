package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/bench/internal/sioclient"
)

// churn measures connection churn: -n workers each open a session, get
// the CONNECT reply (a socket id) and close it, in a loop. With -transport
// polling a cycle is what socket.io-client does by default: the polling
// handshake, CONNECT over polling, then the upgrade to WebSocket. Every
// cycle must complete (a failed one fails the run).
func (l *loadgen) churn(ctx context.Context) (Result, error) {
	c := l.cfg
	var done, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cycle := func(ctx context.Context) error {
		if c.transport == "polling" {
			p, err := sioclient.DialPolling(ctx, c.addrs[0], nil)
			if err != nil {
				return err
			}
			conn, err := p.Upgrade(ctx)
			if err != nil {
				return err
			}
			return conn.Close()
		}
		conn, err := sioclient.Dial(ctx, c.addrs[0], nil)
		if err != nil {
			return err
		}
		if conn.SID() == "" {
			return fmt.Errorf("%w: CONNECT reply without a socket id", sioclient.ErrProtocol)
		}
		return conn.Close()
	}
	for range c.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := cycle(cctx)
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	r := Result{Conns: c.n}
	if err := sleepCtx(ctx, c.warmup); err != nil {
		close(stop)
		wg.Wait()
		return r, err
	}
	if err := l.mark("start"); err != nil {
		close(stop)
		wg.Wait()
		return r, err
	}
	cpu := readCPU()
	d0 := done.Load()
	err := sleepCtx(ctx, c.duration)
	d1 := done.Load()
	r.WindowSecs = time.Since(cpu.wall).Seconds()
	r.LoadgenCPU = cpu.cores()
	if merr := l.mark("end"); err == nil {
		err = merr
	}
	close(stop)
	wg.Wait()
	r.Rate = float64(d1-d0) / r.WindowSecs
	if n := failed.Load(); n > 0 {
		return r, fmt.Errorf("churn: %d of %d cycles failed, first: %v", n, n+done.Load(), *firstErr.Load())
	}
	r.Verified = err == nil
	return r, err
}

// polling is the latency workload for polling-only clients (corporate
// proxies): -n receivers on the long-polling transport in room "bench",
// one WebSocket sender at -rate broadcasts/s; each receiver checks each
// broadcast arrived exactly once and in order, and the latency of every
// delivery after the warm-up is sampled.
func (l *loadgen) polling(ctx context.Context) (Result, error) {
	c := l.cfg
	total := int64(math.Round(c.rate * (c.warmup + c.duration).Seconds()))
	warm := int64(math.Round(c.rate * c.warmup.Seconds()))
	rs := make([]receiver, c.n)
	var delivered atomic.Int64
	t0 := time.Now()
	pollers, err := l.dialPollers(ctx, c.n)
	if err != nil {
		return Result{}, err
	}
	pctx, stopPolls := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pctx.Err() == nil {
				pkts, err := p.Get(pctx)
				now := time.Now().UnixNano()
				for _, pk := range pkts {
					if !bytes.HasPrefix(pk, msgPrefix) {
						continue
					}
					delivered.Add(1)
					seq, _ := sioclient.IntField(pk, "s")
					from, _ := sioclient.IntField(pk, "p")
					ts, _ := sioclient.IntField(pk, "t")
					if rs[i].seeFrom(from, seq) && seq > warm {
						rs[i].lat = append(rs[i].lat, now-ts)
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	connected := time.Since(t0).Seconds()
	r, err := l.broadcastAtRate(ctx, total, warm, &delivered, int64(c.n), 10*time.Second)
	r.Conns, r.ConnectSecs = c.n, connected
	stopPolls()
	wg.Wait()
	if err != nil {
		return r, err
	}
	var all []int64
	for i := range rs {
		all = append(all, rs[i].lat...)
	}
	quantiles(all, &r)
	r.Rate = float64(delivered.Load()) / ((c.warmup + c.duration).Seconds())
	if got := delivered.Load(); got < total*int64(c.n) {
		r.Lost = total*int64(c.n) - got
	}
	return r, checkReceivers(rs, total, &r)
}

// dialPollers opens n polling sessions in room "bench", -concurrency at a time.
func (l *loadgen) dialPollers(ctx context.Context, n int) ([]*sioclient.Poll, error) {
	out := make([]*sioclient.Poll, n)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(l.cfg.concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n && firstErr.Load() == nil; i = int(next.Add(1) - 1) {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				p, err := sioclient.DialPolling(dctx, l.cfg.addrs[0], url.Values{"room": {room}})
				cancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				out[i] = p
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, fmt.Errorf("polling connection: %w", *e)
	}
	return out, nil
}

// broadcastAtRate sends total fanout broadcasts on an absolute schedule
// at -rate (a late send does not shift the following ones) from one
// WebSocket sender per server (against a cluster they alternate between
// the instances), marks the window after warm of them, waits at most wait
// for every delivery, and closes every connection (the readers have
// stopped when it returns: the receivers' samples are the caller's).
func (l *loadgen) broadcastAtRate(ctx context.Context, total, warm int64, delivered *atomic.Int64, receivers int64, wait time.Duration) (Result, error) {
	c := l.cfg
	var r Result
	defer l.closeAll()
	senders, err := l.connect(ctx, len(c.addrs), nil, func(int, *sioclient.Conn, []byte) {})
	if err != nil {
		return r, err
	}
	pad := padding(c.payload)
	interval := time.Duration(float64(time.Second) / c.rate)
	start := time.Now()
	var buf []byte
	var cpu cpuClock
	for seq := int64(1); seq <= total; seq++ {
		if err := sleepCtx(ctx, time.Until(start.Add(time.Duration(seq-1)*interval))); err != nil {
			return r, err
		}
		if seq == warm+1 {
			if err := l.mark("start"); err != nil {
				return r, err
			}
			cpu = readCPU()
		}
		from := int(seq) % len(senders)
		buf = appendFanout(buf[:0], seq, int64(from), time.Now().UnixNano(), pad)
		if err := senders[from].WriteBytes(buf); err != nil {
			return r, fmt.Errorf("sender: %w", err)
		}
	}
	for deadline := time.Now().Add(wait); delivered.Load() < total*receivers && time.Now().Before(deadline); {
		_ = sleepCtx(ctx, 10*time.Millisecond)
	}
	r.LoadgenCPU = cpu.cores()
	r.WindowSecs = time.Since(cpu.wall).Seconds()
	r.Broadcasts = float64(total-warm) / c.duration.Seconds()
	r.Disconnects = l.disconnects.Load()
	return r, l.mark("end")
}
