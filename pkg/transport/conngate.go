package transport

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// connGate sends the first request to an https origin alone: the others
// to it wait until that request has its connection. A client that starts
// many requests to a new origin at once would otherwise dial and
// handshake once per request, and over HTTP/2 keep one of those
// connections and close the rest; once the first connection is up, an
// HTTP/2 origin's requests share it, and an HTTP/1.1 origin's dial their
// own as before. A first request that fails releases the others too: each
// then fares as it would have.
type connGate struct {
	inner http.RoundTripper

	mu      sync.Mutex
	origins map[string]chan struct{} // closed once the origin's first request has its connection
}

func (g *connGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return g.inner.RoundTrip(req)
	}
	key := req.URL.Host
	g.mu.Lock()
	if g.origins == nil {
		g.origins = map[string]chan struct{}{}
	}
	ready, known := g.origins[key]
	if !known {
		ready = make(chan struct{})
		g.origins[key] = ready
	}
	g.mu.Unlock()
	if known {
		select {
		case <-ready:
		case <-req.Context().Done():
			return nil, context.Cause(req.Context())
		}
		return g.inner.RoundTrip(req)
	}
	var once sync.Once
	open := func() { once.Do(func() { close(ready) }) }
	defer open()
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { open() }}
	return g.inner.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}
