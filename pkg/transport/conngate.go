package transport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"reflect"
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
// flight on a lane (sent, and their answer not yet read or closed); the
// others wait for one to end. Such a request never waits for another
// while it holds its answer, so the wait always ends; a streamed body (a
// download, an image layer being copied) may be held while other
// requests go out, and is not counted. (net/http's own HTTP/2 option to
// wait for a stream, StrictMaxConcurrentRequests, left requests waiting
// past their timeout in Go 1.26.)
//
// Lanes are transports with pools of their own: a second lane opens a
// second connection to an origin only once the first lane has
// maxPerOrigin requests in flight there, so that a run that asks one
// origin for hundreds of small answers at once (a release's side files)
// keeps twice as many in flight over two HTTP/2 connections, two
// handshakes, rather than queue behind one connection's streams. Plain
// http and streamed bodies use the first lane.
type connGate struct {
	lanes []http.RoundTripper

	mu      sync.Mutex
	origins map[string][]*lane
}

// lane is the gate of one https origin on one lane.
type lane struct {
	started bool          // its first request was sent
	ready   chan struct{} // closed once that request has its connection
	slots   chan struct{} // one per request in flight
}

func (g *connGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return g.lanes[0].RoundTrip(req)
	}
	lanes := g.origin(req.URL.Host)
	ctx := req.Context()
	if ctx.Value(boundedKey{}) == nil {
		return g.send(0, lanes[0], req)
	}
	i, err := takeSlot(ctx, lanes)
	if err != nil {
		return nil, err
	}
	var release sync.Once
	done := func() { release.Do(func() { <-lanes[i].slots }) }
	resp, err := g.send(i, lanes[i], req)
	if err != nil {
		done()
		return nil, err
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// origin returns the lanes of an origin.
func (g *connGate) origin(host string) []*lane {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.origins == nil {
		g.origins = map[string][]*lane{}
	}
	lanes, known := g.origins[host]
	if !known {
		for range g.lanes {
			lanes = append(lanes, &lane{ready: make(chan struct{}), slots: make(chan struct{}, maxPerOrigin)})
		}
		g.origins[host] = lanes
	}
	return lanes
}

// takeSlot takes a slot on the first lane that has one free, in order, or
// waits for the first to free one.
func takeSlot(ctx context.Context, lanes []*lane) (int, error) {
	for i, l := range lanes {
		select {
		case l.slots <- struct{}{}:
			return i, nil
		default:
		}
	}
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	for _, l := range lanes {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectSend, Chan: reflect.ValueOf(l.slots), Send: reflect.ValueOf(struct{}{})})
	}
	chosen, _, _ := reflect.Select(cases)
	if chosen == 0 {
		return 0, context.Cause(ctx)
	}
	return chosen - 1, nil
}

// send sends req on lane i, the lane's first request to the origin alone.
func (g *connGate) send(i int, l *lane, req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	first := !l.started
	l.started = true
	g.mu.Unlock()
	if !first {
		select {
		case <-l.ready:
		case <-req.Context().Done():
			return nil, context.Cause(req.Context())
		}
		return g.lanes[i].RoundTrip(req)
	}
	var once sync.Once
	open := func() { once.Do(func() { close(l.ready) }) }
	defer open()
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { open() }}
	return g.lanes[i].RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
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
