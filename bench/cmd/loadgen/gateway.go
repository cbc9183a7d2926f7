package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/bench/internal/sioclient"
)

// gateway measures the tutorial's `chat` through a whole gateway (guards,
// validation, membership; SPEC §2) rather than the bare core: -n receivers
// and -senders senders join room "bench" with `join_room` (their own socket
// id, as the tutorial's client sends it), then the senders emit `chat` with
// an ack, keeping at most -window broadcasts in flight. Verified like
// fanout (each receiver gets each chat exactly once, each sender's in
// order), and every ack must be `[true]`; the latency of every delivery in
// the window is sampled (timeSent carries the sequence number, the message
// text the sender and the send time).
func (l *loadgen) gateway(ctx context.Context) (Result, error) {
	c := l.cfg
	rs := make([]receiver, c.n)
	var delivered, acks, badAcks, joined atomic.Int64
	var sampling atomic.Bool
	progress := make(chan struct{}, 1)
	recvN := int64(c.n)
	t0 := time.Now()
	receivers, err := l.connect(ctx, c.n, nil, func(i int, _ *sioclient.Conn, p []byte) {
		switch {
		case bytes.HasPrefix(p, chatPrefix):
			now := time.Now().UnixNano()
			seq, _ := sioclient.IntField(p, "timeSent")
			from, ts := chatMessage(p)
			if rs[i].seeFrom(from, seq) && sampling.Load() {
				rs[i].lat = append(rs[i].lat, now-ts)
			}
			if delivered.Add(1)%recvN == 0 {
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		case bytes.Equal(p, []byte("30[true]")):
			joined.Add(1)
		case len(p) > 0 && p[0] == '3':
			badAcks.Add(1)
		}
	})
	if err != nil {
		l.closeAll()
		return Result{}, err
	}
	senders, err := l.connect(ctx, c.senders, nil, func(_ int, _ *sioclient.Conn, p []byte) {
		if id, ok := sioclient.AckID(p); ok {
			if bytes.HasSuffix(p, []byte("[true]")) {
				if id == 0 {
					joined.Add(1)
				} else {
					acks.Add(1)
				}
			} else {
				badAcks.Add(1)
			}
		}
	})
	if err != nil {
		l.closeAll()
		return Result{}, err
	}
	r := Result{Conns: c.n, ConnectSecs: time.Since(t0).Seconds()}
	if err := joinAll(ctx, receivers, "u", senders, "s", &joined); err != nil {
		l.closeAll()
		return r, err
	}
	build := func(b []byte, seq, from, ns int64, pad string) []byte {
		return appendChat(b, seq, from, ns, senders[from].SID(), pad)
	}
	var sent atomic.Int64
	sendErr := make(chan error, 1)
	stopSend := make(chan struct{})
	go func() { sendErr <- l.sendLoop(ctx, senders, &sent, &delivered, progress, stopSend, build) }()
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
	d0, s0, a0 := delivered.Load(), sent.Load(), acks.Load()
	if err := sleepCtx(ctx, c.duration); err != nil {
		return fail(err)
	}
	d1, s1, a1 := delivered.Load(), sent.Load(), acks.Load()
	sampling.Store(false)
	elapsed := time.Since(cpu.wall).Seconds()
	r.LoadgenCPU = cpu.cores()
	if err := l.mark("end"); err != nil {
		return fail(err)
	}
	r.WindowSecs = elapsed
	r.Rate = float64(d1-d0) / elapsed
	r.Broadcasts = float64(s1-s0) / elapsed
	r.AckRate = float64(a1-a0) / elapsed
	close(stopSend)
	if err := <-sendErr; err != nil {
		l.closeAll()
		return r, fmt.Errorf("sender: %w", err)
	}
	return l.finishGateway(ctx, r, rs, &sent, &delivered, &acks, &badAcks)
}

// finishGateway waits (bounded) for the last deliveries and acks, then
// checks them.
func (l *loadgen) finishGateway(ctx context.Context, r Result, rs []receiver, sent, delivered, acks, badAcks *atomic.Int64) (Result, error) {
	want := sent.Load() * int64(len(rs))
	for deadline := time.Now().Add(30 * time.Second); (delivered.Load() < want || acks.Load() < sent.Load()) && time.Now().Before(deadline); {
		_ = sleepCtx(ctx, 10*time.Millisecond)
	}
	l.closeAll()
	if got := delivered.Load(); got < want {
		r.Lost = want - got
	}
	var all []int64
	for i := range rs {
		all = append(all, rs[i].lat...)
	}
	quantiles(all, &r)
	if err := checkReceivers(rs, sent.Load(), &r); err != nil {
		return r, err
	}
	if r.Mismatched = badAcks.Load() + sent.Load() - acks.Load(); r.Mismatched != 0 {
		r.Verified = false
		return r, fmt.Errorf("ack check: %d of %d chats not acked true (%d other acks)", sent.Load()-acks.Load(), sent.Load(), badAcks.Load())
	}
	return r, nil
}

// joinAll sends join_room (ack id 0; chats use their seq, from 1) on every
// connection, as user <prefix><index> (a socket's user is fixed by its first
// join_room: a sender's chats must name the same user), and waits until
// each is acked true.
func joinAll(ctx context.Context, receivers []*sioclient.Conn, rp string, senders []*sioclient.Conn, sp string, joined *atomic.Int64) error {
	conns := append(append([]*sioclient.Conn(nil), receivers...), senders...)
	for i, c := range conns {
		prefix, k := rp, i
		if i >= len(receivers) {
			prefix, k = sp, i-len(receivers)
		}
		var b []byte
		b = append(b, `420["join_room",{"roomName":"`+room+`","user":{"userId":"`+prefix...)
		b = strconv.AppendInt(b, int64(k), 10)
		b = append(b, `","userName":"`+prefix...)
		b = strconv.AppendInt(b, int64(k), 10)
		b = append(b, `","socketId":"`+c.SID()+`"},"eventName":"join_room"}]`...)
		if err := c.WriteBytes(b); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for joined.Load() < int64(len(conns)) {
		if time.Now().After(deadline) {
			return fmt.Errorf("join_room: %d of %d acked true in a minute", joined.Load(), len(conns))
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

var chatPrefix = []byte(`2["chat",`)

// appendChat appends the `chat` of sender from (socket id sid) with ack id
// seq: timeSent is seq, the message "p<from>t<ns><pad>".
func appendChat(b []byte, seq, from, ns int64, sid, pad string) []byte {
	b = append(b, "42"...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `["chat",{"user":{"userId":"s`...)
	b = strconv.AppendInt(b, from, 10)
	b = append(b, `","userName":"s`...)
	b = strconv.AppendInt(b, from, 10)
	b = append(b, `","socketId":"`+sid+`"},"timeSent":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"message":"p`...)
	b = strconv.AppendInt(b, from, 10)
	b = append(b, 't')
	b = strconv.AppendInt(b, ns, 10)
	b = append(b, pad...)
	return append(b, `","roomName":"`+room+`","eventName":"chat"}]`...)
}

// chatMessage parses the sender and send time out of a chat's message.
func chatMessage(p []byte) (from, ns int64) {
	const key = `"message":"p`
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return 0, 0
	}
	v := p[i+len(key):]
	from, n := parseDigits(v)
	if n >= len(v) || v[n] != 't' {
		return from, 0
	}
	ns, _ = parseDigits(v[n+1:])
	return from, ns
}

func parseDigits(b []byte) (v int64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	return v, n
}
