package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connsPerOrigin is how many HTTP/2 connections a client opens to one
// https origin that allows at least targetStreams/connsPerOrigin streams
// per connection (RFC 9113, section 5.1.2, recommends at least 100; what
// the live CDN and registry allow was not measured, and the client does
// not assume it): the second only once the first has
// no stream free. Two TLS handshakes per host, however many requests.
const connsPerOrigin = 2

// targetStreams is how many requests the connections to one origin carry
// at once at most: to a server that allows fewer streams per connection
// than targetStreams/connsPerOrigin, the client opens as many
// connections as it takes (at most maxConnsPerOrigin), so that requests
// queued behind a few streams do not outwait their timeout.
const targetStreams = 200

// maxConnsPerOrigin bounds the connections to an origin that allows few
// streams each.
const maxConnsPerOrigin = 16

// dialTimeout bounds a connection's dial and TLS handshake, which the
// requests waiting for it share (each still ends at its own timeout).
const dialTimeout = 30 * time.Second

// coldStreams is how many requests a new connection takes before its
// first answer: the 100 streams net/http assumes until the server's
// settings arrive, and RFC 9113 recommends a server allow at least.
const coldStreams = 100

// resends is how often a request the server did not process (see
// unprocessed), or that was not written before its connection failed, is
// sent again: a server that ends its connections every few answers
// (GOAWAY) may catch one request many times.
const resends = 30

// connPool sends the requests to https origins over HTTP/2 connections of
// its own, connsPerOrigin per origin (more to a server that allows few
// streams each: see targetStreams), each request on a stream the
// connection has free (net/http's ClientConn.Reserve, which counts the
// streams the server allows, those in flight, and those not yet forgotten
// after their answer was read). A request that finds every connection
// full waits for a stream to be freed (or its context to end) instead of
// dialling: net/http's own pool dials a connection for every request that
// finds its connection full, which happens whenever its count of streams
// lags behind the answers read, and against a server that allows exactly
// as many streams as are in flight it dialled tens of connections per
// run; its strict mode stalls requests once more wait than the server
// allows. The first request to an origin dials; the others wait for that
// dial and share its outcome.
//
// A new connection's requests are sent without reserving streams until
// one of them is answered, at most coldStreams at once (or what another
// connection of the origin showed the server allows): until the server's
// settings arrive net/http assumes it allows 100 streams, and streams
// reserved past what it does allow wait for each other's reservations
// (net/http's awaitOpenSlotForStreamLocked holds the connection while it
// waits for a stream, and the reservations behind it count as streams)
// until their timeouts. Requests sent without a reservation past the
// limit fail at once (the connection is not usable for them), or are
// refused before the settings arrive, and are sent again. The server
// sends its settings before anything else (RFC 9113, section 3.4), so
// once an answer has arrived they are known, and streams are reserved
// from then on: the requests sent cold past the limit and not yet written
// (GETs and HEADs) are sent again with one, and no stream is reserved on
// the connection while a request sent cold waits inside net/http (it
// counts reservations as streams, and would wait for them as they wait
// for it).
//
// A request the server did not process (refused, or on a connection that
// is going away: see unprocessed), or whose headers were not written
// before its connection failed, is sent again, on another connection, as
// net/http's own pool does.
//
// An origin that does not speak HTTP/2 (no "h2" in ALPN) is sent
// through the transport's own pool, as is plain http. A streamed body (a
// download; see Bounded) takes a free stream if there is one and never
// waits for one: it may be held while other requests go out, so it is
// sent through the transport's own pool rather than wait for a stream
// another streamed body holds.
type connPool struct {
	t *http.Transport

	mu      sync.Mutex
	origins map[string]*origin
}

// origin is the connections of one https origin.
type origin struct {
	conns []*poolConn
	dial  *dialCall // the dial in progress, if any
	plain bool      // sent through the transport's own pool
	// streams is what the server allows per connection, as the first
	// answered connection (or the fullest) had: 0 unknown.
	streams int
	// wake is closed (and replaced) whenever a connection may have a
	// stream free or has closed.
	wake atomic.Pointer[chan struct{}]
}

// poolConn is one connection of an origin.
type poolConn struct {
	cc *http.ClientConn
	// answered: a request on it was answered, so the server's
	// settings (its limit of streams) are known.
	answered atomic.Bool
	// cold holds the requests out on it that were sent without a
	// reservation before it was answered (under connPool.mu).
	cold map[*coldRequest]bool
}

// coldRequest is a request sent on a connection before its first answer.
type coldRequest struct {
	wrote  *atomic.Bool // its headers were written: the server may have it
	cancel context.CancelCauseFunc
	safe   bool // safeMethod
}

// errResend cancels a request sent on a new connection, not yet written,
// when the connection's first answer shows the server allows fewer
// streams than were sent: it is sent again, with a stream reserved.
var errResend = errors.New("sent again on a stream the server allows")

// dialCall is a dial the requests to an origin wait for.
type dialCall struct {
	done chan struct{}
	err  error
}

func (p *connPool) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return p.t.RoundTrip(req)
	}
	o := p.origin(canonicalAddr(req.URL))
	streamed := req.Context().Value(boundedKey{}) == nil
	lost := false // sent again once after its connection died
	for sent := 0; ; sent++ {
		c, cold, err := p.conn(req, o, streamed)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return p.t.RoundTrip(req)
		}
		var wrote atomic.Bool // its headers were written: the server may have it
		r, cr := req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})), (*coldRequest)(nil)
		if cold {
			r, cr = p.coldRequest(c, r, &wrote)
		}
		resp, err := c.cc.RoundTrip(r)
		p.sent(o, c, cr, err == nil)
		if err == nil || req.Context().Err() != nil {
			return resp, err
		}
		switch {
		case cr != nil && context.Cause(r.Context()) == errResend && rewind(req):
			sent-- // never sent: not a resend
		case sent < resends && (!wrote.Load() || unprocessed(err)) && rewind(req):
			// Not written (the connection failed before), or not
			// processed: sent again, on another connection.
		case !lost && idempotent(req) && connectionLost(err):
			// Its connection died under it (closed by the server, reset,
			// or no answer to a ping): a request that changes nothing is
			// sent again once, on another connection, as every request
			// sharing that connection would fail otherwise.
			lost = true
		default:
			return resp, err
		}
	}
}

// safeMethod: a GET or HEAD, which changes nothing on the server: sending
// it twice does no harm.
func safeMethod(req *http.Request) bool {
	return req.Method == http.MethodGet || req.Method == http.MethodHead
}

// idempotent: a request that changes nothing on the server, and has no
// body to send again.
func idempotent(req *http.Request) bool {
	return safeMethod(req) && (req.Body == nil || req.Body == http.NoBody)
}

// connectionLost reports the errors of a request whose HTTP/2 connection
// died under it, before its answer: net/http exports no values for them,
// only their texts (net/http/h2_bundle.go).
func connectionLost(err error) bool {
	text := err.Error()
	return strings.Contains(text, "http2: client connection lost") ||
		strings.Contains(text, "http2: client connection force closed") ||
		strings.Contains(text, "connection error: ") || // a connection-level HTTP/2 error, e.g. COMPRESSION_ERROR
		strings.Contains(text, "connection reset by peer") ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// conn returns a connection for req (cold: sent without a reservation
// before the connection's first answer; else with a stream reserved), or
// nil if req goes through the transport's own pool.
func (p *connPool) conn(req *http.Request, o *origin, streamed bool) (c *poolConn, cold bool, err error) {
	ctx := req.Context()
	for {
		c, cold, dial, wake := p.reserve(req, o, streamed)
		switch {
		case c != nil:
			return c, cold, nil
		case dial == nil && wake == nil:
			return nil, false, nil
		case dial != nil:
			select {
			case <-dial.done:
				if dial.err != nil {
					return nil, false, dial.err
				}
			case <-ctx.Done():
				return nil, false, context.Cause(ctx)
			}
		default:
			select {
			case <-wake:
			case <-ctx.Done():
				return nil, false, context.Cause(ctx)
			}
		}
	}
}

// reserve takes a stream on one of the origin's connections: reserved,
// or, on a connection not yet answered, sent cold. Failing that it
// returns the dial to wait for (starting one if the origin has a
// connection to spare), or the channel that says a stream may be free; or
// nothing, for the transport's own pool.
func (p *connPool) reserve(req *http.Request, o *origin, streamed bool) (*poolConn, bool, *dialCall, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o.plain {
		return nil, false, nil, nil
	}
	// Loaded before the connections are looked at: a stream freed after
	// the look closes this channel.
	wake := *o.wake.Load()
	live := o.conns[:0]
	for _, c := range o.conns {
		if c.cc.Err() == nil {
			live = append(live, c)
		}
	}
	o.conns = live
	for i := 0; i < len(o.conns); i++ {
		c := o.conns[i]
		if !c.answered.Load() {
			// Its server's limit is not known yet.
			if len(c.cold) < o.coldLimit() && c.cc.Available() > 0 {
				return c, true, nil, nil // (none free: full, or going away)
			}
			continue
		}
		if c.unwrittenCold() {
			// A request sent cold waits inside net/http for a
			// stream, counting reservations as streams: a request
			// reserved now could wait behind it, for its own
			// reservation to end.
			continue
		}
		if c.cc.Reserve() == nil {
			return c, false, nil, nil
		}
		if c.cc.Err() == nil {
			// Full, or going away: in flight and free are what the
			// server allows, or fewer.
			o.streams = max(o.streams, c.cc.InFlight()+c.cc.Available())
		}
		if c.cc.InFlight() == 0 && len(c.cold) == 0 {
			// Its streams may have ended since it was full; if not,
			// with none in flight and none to take, the connection
			// is going away (GOAWAY, or a stream refused as a
			// protocol error; net/http closes it once idle), or the
			// server allows none at all. (Streams are reserved under
			// p.mu only: none can have been taken meanwhile.)
			if c.cc.Reserve() == nil {
				return c, false, nil, nil
			}
			o.conns = append(o.conns[:i], o.conns[i+1:]...)
			i--
		}
	}
	if o.dial != nil {
		return nil, false, o.dial, nil
	}
	if len(o.conns) < o.maxConns() {
		o.dial = &dialCall{done: make(chan struct{})}
		go p.dial(req, o, o.dial)
		return nil, false, o.dial, nil
	}
	if streamed {
		return nil, false, nil, nil
	}
	return nil, false, nil, wake
}

// dial opens a connection to req's origin for o.
func (p *connPool) dial(req *http.Request, o *origin, d *dialCall) {
	var h2 bool
	trace := &httptrace.ClientTrace{TLSHandshakeDone: func(s tls.ConnectionState, _ error) {
		h2 = s.NegotiatedProtocol == "h2"
	}}
	ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.WithoutCancel(req.Context()), trace), dialTimeout)
	defer cancel()
	cc, err := p.t.NewClientConn(ctx, "https", canonicalAddr(req.URL))
	p.mu.Lock()
	defer p.mu.Unlock()
	o.dial = nil
	d.err = err
	close(d.done)
	switch {
	case err != nil:
		return
	case !h2:
		// HTTP/1.1: one request per connection at a time; the
		// transport's own pool keeps as many as are needed.
		o.plain = true
		cc.Close()
		return
	}
	cc.SetStateHook(func(*http.ClientConn) { o.signal() })
	o.conns = append(o.conns, &poolConn{cc: cc})
}

// unwrittenCold reports whether a request sent cold on c has not been
// written yet (under connPool.mu).
func (c *poolConn) unwrittenCold() bool {
	for cr := range c.cold {
		if !cr.wrote.Load() {
			return true
		}
	}
	return false
}

// coldRequest registers req as sent cold on c: req with a context that
// errResend cancels, and that notes when its headers were written.
func (p *connPool) coldRequest(c *poolConn, req *http.Request, wrote *atomic.Bool) (*http.Request, *coldRequest) {
	cr := &coldRequest{wrote: wrote, safe: safeMethod(req)}
	ctx, cancel := context.WithCancelCause(req.Context())
	cr.cancel = cancel
	p.mu.Lock()
	if c.cold == nil {
		c.cold = map[*coldRequest]bool{}
	}
	c.cold[cr] = true
	p.mu.Unlock()
	return req.WithContext(ctx), cr
}

// sent notes the end of a request sent on c (cr: sent cold). The first
// answer makes the server's settings known: its limit of streams is taken
// for the origin; requests sent cold past that limit, not yet written,
// GET or HEAD (one about to be written when it is cancelled may reach the
// server twice), are sent again (errResend); and the requests waiting for
// the answer may go.
func (p *connPool) sent(o *origin, c *poolConn, cr *coldRequest, answered bool) {
	if cr == nil && (!answered || c.answered.Load()) {
		return
	}
	p.mu.Lock()
	delete(c.cold, cr)
	if answered && !c.answered.Swap(true) && c.cc.Err() == nil && c.cc.Available() > 0 {
		limit := c.cc.InFlight() + c.cc.Available()
		o.streams = max(o.streams, limit)
		if len(c.cold) > limit {
			for waiting := range c.cold {
				if waiting.safe && !waiting.wrote.Load() {
					waiting.cancel(errResend)
				}
			}
		}
	}
	p.mu.Unlock()
	o.signal()
}

// coldLimit is how many requests a connection takes before its first
// answer: coldStreams, or fewer when another connection of the origin
// showed the server allows fewer.
func (o *origin) coldLimit() int {
	if o.streams > 0 {
		return min(o.streams, coldStreams)
	}
	return coldStreams
}

// maxConns is how many connections the origin may have.
func (o *origin) maxConns() int {
	if o.streams <= 0 {
		return connsPerOrigin
	}
	return min(max((targetStreams+o.streams-1)/o.streams, connsPerOrigin), maxConnsPerOrigin)
}

// signal wakes the requests waiting for a stream of the origin.
func (o *origin) signal() {
	next := make(chan struct{})
	close(*o.wake.Swap(&next))
}

// origin returns the connections of an origin.
func (p *connPool) origin(addr string) *origin {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.origins == nil {
		p.origins = map[string]*origin{}
	}
	o, known := p.origins[addr]
	if !known {
		o = &origin{}
		wake := make(chan struct{})
		o.wake.Store(&wake)
		p.origins[addr] = o
	}
	return o
}

// canonicalAddr is an https URL's host and port.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// unprocessed reports whether err says the server did not process the
// request (RFC 9113, section 8.7), which may then be sent again (its body
// too, when it can be had afresh): a stream it refused (REFUSED_STREAM),
// a connection that went away before the request was sent on it (GOAWAY,
// or not usable any more), or a stream it reset as a protocol error, as
// net/http's own pool decides (http2canRetryError, golang/go#47635). Go's
// server resets a stream opened just as another closes, at its limit,
// that way. net/http does not export these errors; their texts name them.
func unprocessed(err error) bool {
	text := err.Error()
	return strings.Contains(text, "REFUSED_STREAM") ||
		strings.Contains(text, "PROTOCOL_ERROR; received from peer") ||
		strings.Contains(text, "http2: client conn not usable") ||
		strings.Contains(text, "http2: Transport received Server's graceful shutdown GOAWAY")
}

// rewind readies req to be sent again: a request without a body, or one
// whose body can be had afresh.
func rewind(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if req.GetBody == nil {
		return false
	}
	body, err := req.GetBody()
	if err != nil {
		return false
	}
	req.Body = body
	return true
}
