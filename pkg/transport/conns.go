package transport

import (
	"context"
	"crypto/tls"
	"math"
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
// https origin at most: the second only once the first has no stream
// free. Two TLS handshakes per host, however many requests.
const connsPerOrigin = 2

// dialTimeout bounds a connection's dial and TLS handshake, which the
// requests waiting for it share (each still ends at its own timeout).
const dialTimeout = 30 * time.Second

// minStreams is the fewest concurrent streams a server must allow per
// connection for connsPerOrigin connections to serve its requests: to a
// server that allows fewer, requests queued behind a few streams would
// outwait their timeout, so the client opens as many connections as it
// takes for 2*minStreams streams.
const minStreams = 8

// refusedRetries is how often a request the server refused before
// processing it (HTTP/2 REFUSED_STREAM) is sent again.
const refusedRetries = 3

// connPool sends the requests to https origins over HTTP/2 connections of
// its own, at most connsPerOrigin per origin (more only to a server that
// allows fewer than minStreams streams per connection), each request on a stream
// the connection has free (net/http's ClientConn.Reserve, which counts
// the streams the server allows, those in flight, and those not yet
// forgotten after their answer was read). A request that finds every
// connection full waits for a stream to be freed (or its context to end)
// instead of dialling: net/http's own pool dials a connection for every
// request that finds its connection full, which happens whenever its
// count of streams lags behind the answers read, and against a server
// that allows exactly as many streams as are in flight it dialled tens of
// connections per run; its strict mode stalls requests once more wait
// than the server allows. The first request to an origin dials; the
// others wait for that dial and share its outcome.
//
// An origin that does not speak HTTP/2 (no "h2" in ALPN), or whose fresh
// connection takes no stream, is sent through the transport's own pool,
// as is plain http. A streamed body (a download; see Bounded) takes a
// free stream if there is one and never waits for one: it may be held
// while other requests go out, so it is sent through the transport's own
// pool rather than wait for a stream another streamed body holds.
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
	// cautious: the origin refused a stream, so a new connection
	// takes one request until that is answered: net/http assumes 100
	// streams until the server's settings arrive.
	cautious bool
	// streams is the most streams a full connection had: what the
	// server allows per connection (0: none was full yet).
	streams int
	// wake is closed (and replaced) whenever a connection may have a
	// stream free or has closed.
	wake atomic.Pointer[chan struct{}]
}

// poolConn is one connection of an origin.
type poolConn struct {
	cc   *http.ClientConn
	used bool // a stream was reserved on it
	// answered: a request on it was answered, so the server's
	// settings (its limit of streams) are known.
	answered atomic.Bool
}

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
	for refused := 0; ; refused++ {
		c, err := p.conn(req, o, streamed)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return p.t.RoundTrip(req)
		}
		resp, err := c.cc.RoundTrip(req)
		if refusedStream(err) {
			p.refused(o)
			if refused < refusedRetries && rewind(req) {
				continue
			}
		}
		if err == nil {
			c.answered.Store(true)
		}
		return resp, err
	}
}

// conn returns a connection with a stream reserved for req, or nil if req
// goes through the transport's own pool.
func (p *connPool) conn(req *http.Request, o *origin, streamed bool) (*poolConn, error) {
	ctx := req.Context()
	for {
		cc, dial, wake := p.reserve(req, o, streamed)
		switch {
		case cc != nil:
			return cc, nil
		case dial == nil && wake == nil:
			return nil, nil
		case dial != nil:
			select {
			case <-dial.done:
				if dial.err != nil {
					return nil, dial.err
				}
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		default:
			select {
			case <-wake:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
	}
}

// reserve reserves a stream on one of the origin's connections. Failing
// that it returns the dial to wait for (starting one if the origin has a
// connection to spare), or the channel that says a stream may be free; or
// nothing, for the transport's own pool.
func (p *connPool) reserve(req *http.Request, o *origin, streamed bool) (*poolConn, *dialCall, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o.plain {
		return nil, nil, nil
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
		if !c.answered.Load() && c.cc.InFlight() >= o.unanswered() {
			// Its server's limit may not be known yet.
			continue
		}
		if c.cc.Reserve() == nil {
			c.used = true
			return c, nil, nil
		}
		if c.used && c.cc.Err() == nil {
			// Full, or going away: in flight and free are what the
			// server allows, or fewer.
			o.streams = max(o.streams, c.cc.InFlight()+c.cc.Available())
		}
		if c.cc.InFlight() == 0 {
			// Its streams may have ended since it was full; if not,
			// with none in flight and none to take, the connection
			// is going away (GOAWAY, or a stream refused as a
			// protocol error), or the server allows none at all.
			// (Streams are reserved under p.mu only: none can
			// have been taken meanwhile.)
			if c.cc.Reserve() == nil {
				c.used = true
				return c, nil, nil
			}
			c.cc.Close()
			o.conns = append(o.conns[:i], o.conns[i+1:]...)
			i--
			if !c.used {
				o.plain = true
				return nil, nil, nil
			}
		}
	}
	if o.dial != nil {
		return nil, o.dial, nil
	}
	if len(o.conns) < o.maxConns() {
		o.dial = &dialCall{done: make(chan struct{})}
		go p.dial(req, o, o.dial)
		return nil, o.dial, nil
	}
	if streamed {
		return nil, nil, nil
	}
	return nil, nil, wake
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

// refused notes that the origin refused a stream.
func (p *connPool) refused(o *origin) {
	p.mu.Lock()
	o.cautious = true
	p.mu.Unlock()
}

// unanswered is how many requests a connection takes before one is
// answered: net/http assumes 100 streams until the server's settings
// arrive, which holds for a server that allows at least that many; one
// whose other connections were full allowed as many as they had, and one
// that refused a stream is not guessed at.
func (o *origin) unanswered() int {
	switch {
	case o.streams > 0:
		return o.streams
	case o.cautious:
		return 1
	}
	return math.MaxInt
}

// maxConns is how many connections the origin may have.
func (o *origin) maxConns() int {
	if o.streams <= 0 || o.streams >= minStreams {
		return connsPerOrigin
	}
	return (2*minStreams + o.streams - 1) / o.streams
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

// refusedStream reports whether the server refused the request's stream
// before processing it (RFC 9113, section 8.7): it may be sent again.
// net/http does not export its HTTP/2 stream error; its text names the
// code.
func refusedStream(err error) bool {
	return err != nil && strings.Contains(err.Error(), "REFUSED_STREAM")
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
