package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/bench/internal/sioclient"
)

// room is the room every receiver joins (via ?room=, see the servers).
const room = "bench"

var msgPrefix = []byte(`2["msg",`)

// idle connects n clients and holds them: the runner reads the server's RSS
// at MARK base (before) and MARK loaded (after connecting and -settle).
func (l *loadgen) idle(ctx context.Context) (Result, error) {
	if err := l.mark("base"); err != nil {
		return Result{}, err
	}
	t0 := time.Now()
	if _, err := l.connect(ctx, l.cfg.n, nil, func(int, *sioclient.Conn, []byte) {}); err != nil {
		l.closeAll()
		return Result{}, err
	}
	r := Result{Conns: l.cfg.n, ConnectSecs: time.Since(t0).Seconds()}
	if err := sleepCtx(ctx, l.cfg.settle); err != nil {
		l.closeAll()
		return r, err
	}
	if err := l.mark("loaded"); err != nil {
		l.closeAll()
		return r, err
	}
	r.Disconnects = l.disconnects.Load()
	l.closeAll()
	return r, nil
}

// fanout measures deliveries/s at saturation: -senders connections emit
// ("fanout", room, msg) so that at most -window broadcasts are in flight
// (sent but not yet received by every receiver). The window keeps every
// server's queues short, so the rate is what it sustains, not what it buffers.
func (l *loadgen) fanout(ctx context.Context) (Result, error) {
	c := l.cfg
	var delivered atomic.Int64
	progress := make(chan struct{}, 1)
	recvN := int64(c.n)
	rs := make([]receiver, c.n)
	var sampling atomic.Bool
	t0 := time.Now()
	_, err := l.connect(ctx, c.n, url.Values{"room": {room}}, func(i int, _ *sioclient.Conn, p []byte) {
		if !bytes.HasPrefix(p, msgPrefix) {
			return
		}
		now := time.Now().UnixNano()
		seq, _ := sioclient.IntField(p, "s")
		from, _ := sioclient.IntField(p, "p")
		if rs[i].seeFrom(from, seq) && c.sample && sampling.Load() {
			if ts, ok := sioclient.IntField(p, "t"); ok {
				rs[i].lat = append(rs[i].lat, now-ts)
			}
		}
		if delivered.Add(1)%recvN == 0 {
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		l.closeAll()
		return Result{}, err
	}
	senders, err := l.connect(ctx, c.senders, nil, func(int, *sioclient.Conn, []byte) {})
	if err != nil {
		l.closeAll()
		return Result{}, err
	}
	r := Result{Conns: c.n, ConnectSecs: time.Since(t0).Seconds()}

	// One goroutine sends round-robin over the sender connections.
	var sent atomic.Int64
	sendErr := make(chan error, 1)
	stopSend := make(chan struct{})
	go func() {
		sendErr <- l.sendLoop(ctx, senders, &sent, &delivered, progress, stopSend, appendFanout)
	}()

	fail := func(err error) (Result, error) {
		close(stopSend)
		<-sendErr
		l.closeAll()
		return r, err
	}
	if err := sleepCtx(ctx, c.warmup); err != nil {
		return fail(err)
	}
	if err := l.mark("start"); err != nil {
		return fail(err)
	}
	cpu := readCPU()
	sampling.Store(true)
	d0, s0 := delivered.Load(), sent.Load()
	select {
	case err := <-sendErr:
		close(stopSend)
		l.closeAll()
		return r, fmt.Errorf("sender: %w", err)
	case <-time.After(c.duration):
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	d1, s1 := delivered.Load(), sent.Load()
	sampling.Store(false)
	elapsed := time.Since(cpu.wall).Seconds()
	r.LoadgenCPU = cpu.cores()
	if err := l.mark("end"); err != nil {
		return fail(err)
	}
	r.WindowSecs = elapsed
	r.Rate = float64(d1-d0) / elapsed
	r.Broadcasts = float64(s1-s0) / elapsed
	r.Disconnects = l.disconnects.Load()
	close(stopSend)
	if err := <-sendErr; err != nil {
		l.closeAll()
		return r, fmt.Errorf("sender: %w", err)
	}
	// Every broadcast sent must reach every receiver exactly once: wait
	// (bounded) for the last ones, then check the count.
	// The wait ends when no delivery arrived for 5s (a starved server on a
	// busy machine may still be catching up long after the window) or after
	// a minute.
	want := sent.Load() * recvN
	last, lastAt := delivered.Load(), time.Now()
	for deadline := time.Now().Add(time.Minute); last < want && time.Now().Before(deadline) && time.Since(lastAt) < 5*time.Second; {
		_ = sleepCtx(ctx, 10*time.Millisecond)
		if d := delivered.Load(); d != last {
			last, lastAt = d, time.Now()
		}
	}
	l.closeAll()
	if got := delivered.Load(); got < want {
		r.Lost = want - got
	}
	if c.sample {
		var all []int64
		for i := range rs {
			all = append(all, rs[i].lat...)
		}
		quantiles(all, &r)
	}
	return r, checkReceivers(rs, sent.Load(), &r)
}

// sendLoop sends broadcasts round-robin over senders, built by build (seq,
// the sender's index, the send time), keeping at most -window of them in
// flight (sent, not yet delivered to every receiver), until stop.
func (l *loadgen) sendLoop(ctx context.Context, senders []*sioclient.Conn, sent, delivered *atomic.Int64, progress <-chan struct{}, stop <-chan struct{}, build buildFunc) error {
	c := l.cfg
	n := int64(c.n)
	limit := int64(c.window) * n
	pad := padding(c.payload)
	buf := make([]byte, 0, 256)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	lastProgress, lastDelivered := time.Now(), int64(0)
	// Bounded by stop/ctx (the caller closes stop after the window) and by the
	// stall check.
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		seq := sent.Load()
		if seq*n-delivered.Load() >= limit {
			timer.Reset(5 * time.Millisecond)
			select {
			case <-progress:
			case <-timer.C:
			case <-stop:
				return nil
			}
			if d := delivered.Load(); d != lastDelivered {
				lastDelivered, lastProgress = d, time.Now()
			} else if time.Since(lastProgress) > 10*time.Second {
				return errStalled
			}
			continue
		}
		buf = build(buf[:0], seq+1, int64(i%len(senders)), time.Now().UnixNano(), pad)
		if err := senders[i%len(senders)].WriteBytes(buf); err != nil {
			return err
		}
		sent.Add(1)
	}
}

// buildFunc appends one broadcast request to b.
type buildFunc func(b []byte, seq, from, ns int64, pad string) []byte

// appendFanout appends `42["fanout","bench",{"s":seq,"p":from,"t":ns,"d":"pad"}]`:
// the broadcast's sequence number, its sender's index (receivers check
// each sender's order), its send time.
func appendFanout(b []byte, seq, from, ns int64, pad string) []byte {
	b = append(b, `42["fanout","`+room+`",{"s":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"p":`...)
	b = strconv.AppendInt(b, from, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, ns, 10)
	b = append(b, `,"d":"`...)
	b = append(b, pad...)
	return append(b, `"}]`...)
}

// latency broadcasts at a fixed rate and computes, at each receiver, now
// minus the send timestamp carried in the message. Broadcasts sent during
// -warmup are not sampled.
func (l *loadgen) latency(ctx context.Context) (Result, error) {
	c := l.cfg
	total := int64(math.Round(c.rate * (c.warmup + c.duration).Seconds()))
	warm := int64(math.Round(c.rate * c.warmup.Seconds()))
	samples := make([][]int64, c.n)
	perRecv := int(total - warm + 1)
	var delivered atomic.Int64
	rs := make([]receiver, c.n)
	t0 := time.Now()
	_, err := l.connect(ctx, c.n, url.Values{"room": {room}}, func(i int, _ *sioclient.Conn, p []byte) {
		if !bytes.HasPrefix(p, msgPrefix) {
			return
		}
		now := time.Now().UnixNano()
		delivered.Add(1)
		seq, ok1 := sioclient.IntField(p, "s")
		from, _ := sioclient.IntField(p, "p")
		rs[i].seeFrom(from, seq)
		ts, ok2 := sioclient.IntField(p, "t")
		if !ok1 || !ok2 || seq <= warm {
			return
		}
		if samples[i] == nil {
			samples[i] = make([]int64, 0, perRecv)
		}
		samples[i] = append(samples[i], now-ts)
	})
	if err != nil {
		l.closeAll()
		return Result{}, err
	}
	connected := time.Since(t0).Seconds()
	r, err := l.broadcastAtRate(ctx, total, warm, &delivered, int64(c.n), 5*time.Second)
	r.Conns, r.ConnectSecs = c.n, connected
	if err != nil {
		return r, err
	}
	want := total * int64(c.n)
	r.Lost = want - delivered.Load()
	var all []int64
	for _, s := range samples {
		all = append(all, s...)
	}
	quantiles(all, &r)
	return r, checkReceivers(rs, total, &r)
}

// ack runs -n clients, each emitting "echo" with an ack and sending the next
// one as soon as the ack arrives (a closed loop, one in flight per client).
func (l *loadgen) ack(ctx context.Context) (Result, error) {
	c := l.cfg
	var acks, mismatched atomic.Int64
	pad := padding(c.payload)
	bufs := make([][]byte, c.n)
	ids := make([]int64, c.n)
	emit := func(i int, conn *sioclient.Conn) error {
		ids[i]++
		b := append(bufs[i][:0], "42"...)
		b = strconv.AppendInt(b, ids[i], 10)
		b = append(b, `["echo",{"n":`...)
		b = strconv.AppendInt(b, ids[i], 10)
		b = append(b, `,"d":"`...)
		b = append(b, pad...)
		b = append(b, `"}]`...)
		bufs[i] = b
		return conn.WriteBytes(b)
	}
	t0 := time.Now()
	conns, err := l.connect(ctx, c.n, nil, func(i int, conn *sioclient.Conn, p []byte) {
		id, ok := sioclient.AckID(p)
		if !ok {
			return
		}
		// The ack must answer the one request in flight, with its payload.
		if n, _ := sioclient.IntField(p, "n"); id != ids[i] || n != id {
			mismatched.Add(1)
			return
		}
		acks.Add(1)
		if !l.stopping.Load() {
			_ = emit(i, conn)
		}
	})
	if err != nil {
		l.closeAll()
		return Result{}, err
	}
	r := Result{Conns: c.n, ConnectSecs: time.Since(t0).Seconds()}
	// The first emit of each client happens-before its reader sees the ack,
	// so ids[i] is only ever touched by one goroutine at a time.
	for i, conn := range conns {
		if err := emit(i, conn); err != nil {
			l.closeAll()
			return r, err
		}
	}
	if err := sleepCtx(ctx, c.warmup); err != nil {
		l.closeAll()
		return r, err
	}
	if err := l.mark("start"); err != nil {
		l.closeAll()
		return r, err
	}
	cpu := readCPU()
	a0 := acks.Load()
	if err := sleepCtx(ctx, c.duration); err != nil {
		l.closeAll()
		return r, err
	}
	a1 := acks.Load()
	elapsed := time.Since(cpu.wall).Seconds()
	r.LoadgenCPU = cpu.cores()
	if err := l.mark("end"); err != nil {
		l.closeAll()
		return r, err
	}
	r.WindowSecs = elapsed
	r.Rate = float64(a1-a0) / elapsed
	r.Disconnects = l.disconnects.Load()
	if a1 == a0 {
		l.closeAll()
		return r, errStalled
	}
	l.closeAll()
	if r.Mismatched = mismatched.Load(); r.Mismatched > 0 {
		return r, fmt.Errorf("ack check: %d acks did not match the request in flight (id or payload)", r.Mismatched)
	}
	r.Verified = true
	return r, nil
}
