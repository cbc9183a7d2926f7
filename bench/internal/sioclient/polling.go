package sioclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// Poll is one Socket.IO connection to the main namespace over Engine.IO's
// HTTP long-polling transport (what clients behind proxies that refuse
// WebSocket use). One goroutine calls Get in a loop; Post may be called from
// another.
type Poll struct {
	addr string
	sid  string // Engine.IO session id
	id   string // Socket.IO socket id
	hc   *http.Client
}

// pollClient shares keep-alive connections among the pollers of a run
// (two per poller: its pending GET and its POSTs).
var pollClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100000, MaxConnsPerHost: 0}}

// DialPolling opens a polling session on addr (query added to the
// handshake), connects to "/" and waits for the CONNECT reply.
func DialPolling(ctx context.Context, addr string, query url.Values) (*Poll, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", "polling")
	p := &Poll{addr: addr, hc: pollClient}
	body, err := p.do(ctx, "GET", "?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("sioclient: polling handshake: %w", err)
	}
	if len(body) == 0 || body[0] != '0' {
		return nil, fmt.Errorf("%w: expected open packet, got %.40q", ErrProtocol, body)
	}
	p.sid = stringField(body, "sid")
	if err := p.Post(ctx, "40"); err != nil {
		return nil, err
	}
	for {
		pkts, err := p.Get(ctx)
		if err != nil {
			return nil, err
		}
		for _, pk := range pkts { // Socket.IO packets: CONNECT is "0{...}", CONNECT_ERROR "4{...}"
			if bytes.HasPrefix(pk, []byte("0")) {
				p.id = stringField(pk, "sid")
				return p, nil
			}
			if bytes.HasPrefix(pk, []byte("4")) {
				return nil, fmt.Errorf("%w: connect_error %.80q", ErrClosed, pk)
			}
		}
	}
}

// SID is the socket id of the CONNECT reply.
func (p *Poll) SID() string { return p.id }

func (p *Poll) do(ctx context.Context, method, query string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+p.addr+"/socket.io/"+query, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxFrame))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s %d %.80q", ErrProtocol, method, res.StatusCode, b)
	}
	return b, nil
}

func (p *Poll) query() string {
	return "?EIO=4&transport=polling&sid=" + url.QueryEscape(p.sid)
}

// Post sends Engine.IO packets (e.g. `42["echo",{}]`) in one POST.
func (p *Poll) Post(ctx context.Context, packets ...string) error {
	_, err := p.do(ctx, "POST", p.query(), []byte(strings.Join(packets, "\x1e")))
	return err
}

// Get long-polls once and returns the Socket.IO packets received (without
// the Engine.IO "4" prefix), answering pings. It returns ErrClosed when the
// server closes the session.
func (p *Poll) Get(ctx context.Context) ([][]byte, error) {
	body, err := p.do(ctx, "GET", p.query(), nil)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for pk := range bytes.SplitSeq(body, []byte{0x1e}) {
		switch {
		case len(pk) == 0:
		case pk[0] == '4':
			out = append(out, pk[1:])
		case pk[0] == '2':
			if err := p.Post(ctx, "3"); err != nil {
				return out, err
			}
		case pk[0] == '1':
			return out, ErrClosed
		case pk[0] == '6':
		default:
			return out, fmt.Errorf("%w: engine packet %q", ErrProtocol, pk[0])
		}
	}
	return out, nil
}

// Upgrade moves the session to WebSocket as socket.io-client does (probe,
// then upgrade) and returns the WebSocket connection; p must not be used
// after.
func (p *Poll) Upgrade(ctx context.Context) (*Conn, error) {
	u := "ws://" + p.addr + "/socket.io/?EIO=4&transport=websocket&sid=" + url.QueryEscape(p.sid)
	nc, hbr, _, err := ws.Dialer{ReadBufferSize: 512, WriteBufferSize: 1024}.Dial(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("sioclient: upgrade dial: %w", err)
	}
	c := &Conn{nc: nc, hbr: hbr, src: nc, rbuf: make([]byte, 0, 2048), sid: p.id}
	if hbr != nil {
		c.src = io.MultiReader(hbr, nc)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if err := c.probe(); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// probe sends "2probe", waits for "3probe", then sends "5" (the server
// ends a pending poll with a noop; a client need not wait for it).
func (c *Conn) probe() error {
	if err := c.Write("2probe"); err != nil {
		return err
	}
	for {
		m, err := c.readBlocking()
		if err != nil {
			return fmt.Errorf("sioclient: upgrade probe: %w", err)
		}
		if string(m) == "3probe" {
			break
		}
	}
	return c.Write("5")
}
