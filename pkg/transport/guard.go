package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// MinTransferRate is the slowest a streamed body may arrive, in bytes per
// second, measured over each request timeout: a body that delivers less
// is stalled, however long it is.
const MinTransferRate = 1 << 10

// hostFailureLimit is how many failures in a row without an answer give
// up on a host for the rest of the session.
const hostFailureLimit = 3

// Errors of hosts that do not answer; test them with errors.Is.
var (
	// ErrNoAnswer: no response within the request timeout.
	ErrNoAnswer = errors.New("no answer")
	// ErrStalled: a small answer did not complete within the request
	// timeout, or a streamed body arrived slower than MinTransferRate.
	ErrStalled = errors.New("stalled")
)

// HostDownError is the error of every request to a host that failed
// hostFailureLimit times in a row without answering anything meanwhile
// (connection refused, DNS failure, no answer, stalled), or that never
// answered a request within the timeout and nothing before: the session
// gives up on it at once instead of waiting for each request.
type HostDownError struct {
	Host string
	// Cause says how it failed, e.g. "connection refused".
	Cause string
	// Failures counts the failures that gave up on it.
	Failures int
	// Err is the last of them.
	Err error
}

func (e *HostDownError) Error() string {
	if e.Failures == 1 {
		return fmt.Sprintf("host %s: %s, never having answered: giving up on it", e.Host, e.Cause)
	}
	return fmt.Sprintf("host %s: %s, %d times: giving up on it", e.Host, e.Cause, e.Failures)
}

// Unwrap returns the last failure: errors.Is(err, ErrNoAnswer) holds for a
// host given up on because it did not answer.
func (e *HostDownError) Unwrap() error { return e.Err }

// IsHostFailure reports whether err says the host could not be reached or
// did not answer in time: a DNS failure, a refused or timed-out
// connection, no answer, a stalled body, or a host given up on. The
// Client retries such an error once at most, registry sessions never;
// each counts towards giving up on the host. An HTTP error status is an
// answer, not a host failure.
func IsHostFailure(err error) bool {
	var hd *HostDownError
	if errors.As(err, &hd) || errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrStalled) {
		return true
	}
	return connectFailure(err)
}

// connectFailure: the connection could not be made (nothing was sent),
// for want of the host: a process out of file descriptors (EMFILE,
// ENFILE) could not even try, which says nothing of the host.
func connectFailure(err error) bool {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

// failureCause names a host failure briefly, for HostDownError.
func failureCause(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return "DNS lookup failed (" + dns.Err + ")"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, ErrNoAnswer), errors.Is(err, ErrStalled):
		return err.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "connection timed out"
	}
	return "connection failed"
}

// hosts keeps the health of each host a session talks to.
type hosts struct {
	mu sync.Mutex
	m  map[string]*hostHealth
}

type hostHealth struct {
	failures int
	answered time.Time      // when the host last answered a request whole
	down     *HostDownError // given up on, for the rest of the session
}

func (h *hosts) get(host string) *hostHealth {
	if h.m == nil {
		h.m = map[string]*hostHealth{}
	}
	s, ok := h.m[host]
	if !ok {
		s = &hostHealth{}
		h.m[host] = s
	}
	return s
}

// check returns the error of a host given up on, else nil.
func (h *hosts) check(host string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.get(host).down; d != nil {
		return d
	}
	return nil
}

// answer records that the host answered a request whole.
func (h *hosts) answer(host string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.get(host)
	s.failures, s.answered = 0, time.Now()
}

// fail records a host failure of a request sent at started. It counts
// only when the host answered nothing since: one slow file among fast
// ones says nothing about the host.
func (h *hosts) fail(host string, started time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.get(host)
	if s.down != nil || s.answered.After(started) {
		return
	}
	s.failures++
	// A host that accepted the connection and has answered nothing in
	// this session for a whole timeout hangs: every request waiting for
	// it (those that waited for the first to learn a redirect, the
	// first's retry) would cost a timeout more, so it is given up on at
	// once. A host that answered before keeps hostFailureLimit: one
	// slow path says little.
	if s.failures >= hostFailureLimit || (errors.Is(err, ErrNoAnswer) && s.answered.IsZero()) {
		s.down = &HostDownError{Host: host, Cause: failureCause(err), Failures: s.failures, Err: err}
	}
}

// boundedKey marks a request whose whole answer must arrive within the
// timeout (a small answer read whole), as opposed to a streamed body.
type boundedKey struct{}

// Bounded marks the requests of ctx as read whole: the answer, body
// included, must be complete within the request timeout.
func Bounded(ctx context.Context) context.Context {
	return context.WithValue(ctx, boundedKey{}, true)
}

// guardTransport bounds every request in time and gives up on hosts that
// fail repeatedly. Each request must answer (response headers) within
// the timeout (an upload: its body must be sent at MinTransferRate or
// more, and the answer start within the timeout after its end); an answer read whole (see Bounded) must be complete within
// it; a streamed body must keep arriving at MinTransferRate or more,
// measured over each timeout. It serves the HTTP client and the registry
// sessions alike.
type guardTransport struct {
	inner   http.RoundTripper
	timeout time.Duration
	hosts   *hosts
}

func (g *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if err := g.hosts.check(host); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watch{g: g, host: host, started: time.Now(), cancel: cancel, bounded: req.Context().Value(boundedKey{}) != nil}
	sent := req.WithContext(ctx)
	if isUpload(sent) {
		w.sending = true
		sent.Body = &sentBody{rc: sent.Body, w: w}
	}
	w.mu.Lock()
	w.timer = time.AfterFunc(g.timeout, w.tick)
	w.mu.Unlock()
	resp, err := g.inner.RoundTrip(sent)
	if err != nil {
		if ours := w.end(); ours != nil {
			return nil, ours
		}
		err = plainHTTPAnswer(err)
		if req.Context().Err() == nil && IsHostFailure(err) {
			g.hosts.fail(host, w.started, err)
		}
		return nil, err
	}
	if ours := w.answered(); ours != nil {
		resp.Body.Close()
		return nil, ours
	}
	// The host answered: whatever its other requests do (one hanging
	// among downloads that stream), it is up.
	g.hosts.answer(host)
	resp.Body = &watchedBody{rc: resp.Body, w: w}
	return resp, nil
}

// watch is the clock of one request.
type watch struct {
	g       *guardTransport
	host    string
	started time.Time
	bounded bool
	cancel  context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer
	headers bool  // the response started
	sending bool  // the request's body is being sent (an upload)
	done    bool  // the body ended, was closed, or the request failed
	window  int64 // body bytes in the current window
	err     error // why the guard ended the request
}

// tick ends each window of the timeout: the response must have started,
// and a bounded answer be complete, or a streamed body have delivered
// its minimum.
func (w *watch) tick() {
	d := w.g.timeout
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	least := max(int64(d.Seconds()*MinTransferRate), 1)
	switch {
	case w.sending && !w.headers && w.window < least:
		w.err = fmt.Errorf("%w: %d bytes sent in %s, under the minimum of %d bytes/s", ErrStalled, w.window, d, MinTransferRate)
	case w.sending && !w.headers:
		w.window = 0
		w.timer.Reset(d)
		w.mu.Unlock()
		return
	case !w.headers:
		w.err = fmt.Errorf("%w within %s", ErrNoAnswer, d)
	case w.bounded:
		w.err = fmt.Errorf("%w: the answer was not complete within %s", ErrStalled, d)
	case w.window < least:
		w.err = fmt.Errorf("%w: %d bytes in %s, under the minimum of %d bytes/s", ErrStalled, w.window, d, MinTransferRate)
	default:
		w.window = 0
		w.timer.Reset(d)
		w.mu.Unlock()
		return
	}
	w.done = true
	err := w.err
	w.mu.Unlock()
	w.g.hosts.fail(w.host, w.started, err)
	w.cancel(err)
}

// end ends a request that failed; it returns the guard's error if the
// guard ended it.
func (w *watch) end() error {
	w.mu.Lock()
	w.done = true
	err := w.err
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel(nil)
	return err
}

// answered records the response's start; it returns the guard's error if
// the guard ended the request meanwhile.
func (w *watch) answered() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.headers = true
	return w.err
}

// read counts body bytes; bytes arriving are the host answering (a host
// streaming downloads is up, whatever another request of it does).
func (w *watch) read(n int, eof bool) {
	w.mu.Lock()
	w.window += int64(n)
	finished := eof && !w.done
	if finished {
		w.done = true
		w.timer.Stop()
	}
	w.mu.Unlock()
	if finished || n > 0 {
		w.g.hosts.answer(w.host)
	}
}

// sent counts body bytes of an upload; at its end the host has the
// timeout to answer.
func (w *watch) sent(n int, eof bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.sending || w.done {
		return
	}
	w.window += int64(n)
	if eof {
		w.sending, w.window = false, 0
		w.timer.Reset(w.g.timeout)
	}
}

// failure returns the guard's error, if it ended the request; any other
// failure of the body ends the watch without blaming the host.
func (w *watch) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	w.timer.Stop()
	return w.err
}

// close ends the request when the caller closes the body: one closed
// early (it had read what it needed, or too much) was answered.
func (w *watch) close() {
	w.mu.Lock()
	answered := !w.done
	w.done = true
	w.timer.Stop()
	w.mu.Unlock()
	if answered {
		w.g.hosts.answer(w.host)
	}
	w.cancel(nil)
}

// watchedBody is a response body under its request's watch.
type watchedBody struct {
	rc io.ReadCloser
	w  *watch
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.w.read(n, err == io.EOF)
	if err != nil && err != io.EOF {
		if ours := b.w.failure(); ours != nil {
			err = ours
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.w.close()
	return err
}

// sentBody is an upload's body under its request's watch: it is bounded by
// its progress (MinTransferRate), not by the request timeout.
type sentBody struct {
	rc io.ReadCloser
	w  *watch
}

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.w.sent(n, err == io.EOF)
	return n, err
}

func (b *sentBody) Close() error { return b.rc.Close() }

// isUpload reports a request that carries a body to the server.
func isUpload(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody && req.Method != http.MethodGet && req.Method != http.MethodHead
}
