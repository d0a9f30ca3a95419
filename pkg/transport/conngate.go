package transport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// maxPerOrigin bounds the requests in flight to one https origin: the
// concurrent streams RFC 9113 (section 5.1.2) recommends a server allow at
// least, and what CDNs and Google's front ends allow. Past a server's
// limit an HTTP/2 client dials another connection for each request that
// finds the connection full; below it, one connection serves them all.
const maxPerOrigin = 100

// connGate sends the first request to an https origin alone: the others
// to it wait until that request has its connection. A client that starts
// many requests to a new origin at once would otherwise dial and
// handshake once per request, and over HTTP/2 keep one of those
// connections and close the rest; once the first connection is up, an
// HTTP/2 origin's requests share it, and an HTTP/1.1 origin's dial their
// own as before. A first request that fails releases the others too: each
// then fares as it would have. At most maxPerOrigin requests read whole
// (Bounded: every request but streamed bodies) to an https origin are in
// flight (sent, and their answer not yet read or closed); the others wait
// for one to end. Such a request never waits for another while it holds
// its answer, so the wait always ends; a streamed body (a download, an
// image layer being copied) may be held while other requests go out, and
// is not counted. (net/http's own HTTP/2 option to wait for a stream,
// StrictMaxConcurrentRequests, left requests waiting past their timeout
// in Go 1.26.)
type connGate struct {
	inner http.RoundTripper

	mu      sync.Mutex
	origins map[string]*origin
}

// origin is the gate of one https origin.
type origin struct {
	ready chan struct{} // closed once the origin's first request has its connection
	slots chan struct{} // one per request in flight
}

func (g *connGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return g.inner.RoundTrip(req)
	}
	key := req.URL.Host
	g.mu.Lock()
	if g.origins == nil {
		g.origins = map[string]*origin{}
	}
	o, known := g.origins[key]
	if !known {
		o = &origin{ready: make(chan struct{}), slots: make(chan struct{}, maxPerOrigin)}
		g.origins[key] = o
	}
	g.mu.Unlock()
	ctx := req.Context()
	if ctx.Value(boundedKey{}) == nil {
		return g.send(o, known, req)
	}
	select {
	case o.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	var release sync.Once
	done := func() { release.Do(func() { <-o.slots }) }
	resp, err := g.send(o, known, req)
	if err != nil {
		done()
		return nil, err
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// send sends req, the origin's first request alone.
func (g *connGate) send(o *origin, known bool, req *http.Request) (*http.Response, error) {
	if known {
		select {
		case <-o.ready:
		case <-req.Context().Done():
			return nil, context.Cause(req.Context())
		}
		return g.inner.RoundTrip(req)
	}
	var once sync.Once
	open := func() { once.Do(func() { close(o.ready) }) }
	defer open()
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { open() }}
	return g.inner.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}

// slotBody frees its request's slot once read to its end or closed.
type slotBody struct {
	io.ReadCloser
	done func()
}

func (b *slotBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.done()
	}
	return n, err
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}
