package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Errors of the HTTP layer; test them with errors.Is.
var (
	// ErrNotFound: the server answered 404 (or 410).
	ErrNotFound = errors.New("not found")
	// ErrBodyTooLarge: a response exceeded the size the caller allows.
	ErrBodyTooLarge = errors.New("response body exceeds limit")
)

// StatusError is a non-success HTTP answer. The URL is redacted.
type StatusError struct {
	Method     string
	URL        string
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// Is makes errors.Is(err, ErrNotFound) true for 404 and 410.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone)
}

// Client is an HTTP client for evidence: every request bounded in time
// (see WithTimeout), bounded retries on 429, 5xx and transport errors
// (honouring Retry-After), at most one retry of a host failure (see
// IsHostFailure), hosts that fail repeatedly given up on, bounded reads.
// It is safe for concurrent use and reuses connections.
type Client struct {
	client     *http.Client
	guard      *guardTransport // below the client's redirect memory; registries use it
	transport  http.RoundTripper
	timeout    time.Duration
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	userAgent  string
	// parallel is how many requests the caller runs at once (WithParallel).
	parallel int
	log      *slog.Logger // WithLogger; nil: none
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds each request (default 30s): the connection and the
// answer's start must come within d; an answer read whole (Get, PostJSON,
// Head, registry manifests and signatures) must be complete within d; a
// streamed body (Stream, Open, image layers) must deliver at least
// MinTransferRate bytes per second over each d.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithTransport replaces the transport (default: NewTransport). The
// client's timeouts and its giving up on hosts apply to it as well; an
// *http.Transport's https origins are served over the client's own
// HTTP/2 connections (see connPool).
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) { c.transport = rt }
}

// WithParallel says how many requests the caller runs at once (default
// 16): the default transport keeps that many idle connections per host,
// so that a burst of requests reuses them instead of opening new ones, and
// registry sessions fetch that many blobs at once.
func WithParallel(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.parallel = n
		}
	}
}

// New returns a client with the given options applied.
func New(opts ...Option) *Client {
	c := &Client{
		timeout:    30 * time.Second,
		attempts:   4,
		backoff:    200 * time.Millisecond,
		maxBackoff: 10 * time.Second,
		userAgent:  "k8sverify",
		parallel:   16,
	}
	for _, o := range opts {
		o(c)
	}
	if c.transport == nil {
		c.transport = NewTransport(c.parallel)
	}
	base := c.transport
	if t, ok := base.(*http.Transport); ok {
		base = &connPool{t: t}
	}
	if c.log != nil {
		base = &loggingTransport{inner: base, log: c.log}
	}
	c.guard = &guardTransport{inner: base, timeout: c.timeout, hosts: &hosts{}}
	c.client = &http.Client{
		Transport:     &redirectMemory{inner: c.guard},
		CheckRedirect: checkRedirect,
	}
	return c
}

// NewTransport returns the pooled transport k8sverify uses by default,
// for parallel artifacts at once, each with a few requests in flight:
// four idle connections per artifact are kept per host, so a burst of
// requests over HTTP/1.1 reuses them rather than opening new ones and
// closing them again. A Client sends its https requests over HTTP/2
// connections of its own, at most two per host (see connPool). The wait
// for an answer is bounded by the client (WithTimeout), not here.
func NewTransport(parallel int) *http.Transport {
	parallel = max(parallel, 16)
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        8 * parallel,
		MaxIdleConnsPerHost: 4 * parallel,
		MaxConnsPerHost:     connsPerHost(openFileLimit()),
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// An HTTP/2 connection that has been silent for 10 s is pinged,
		// and closed if the ping goes unanswered for 5 s: all requests
		// share two connections per host, and one that died silently
		// (a dropped route) would otherwise hold each until its timeout.
		// Its requests that change nothing are sent again (connPool).
		HTTP2: &http.HTTP2Config{SendPingTimeout: 10 * time.Second, PingTimeout: 5 * time.Second},
	}
}

// connsPerHost bounds the connections to one host so that a run's
// connections fit the process's open-file limit: over HTTP/1.1 every
// request in flight holds a connection, and a release fans out hundreds
// at once (a CDN saw 544 from one run), which a limit of 256 or 512 cannot
// hold. About six hosts share the limit, with 64 descriptors left for
// files and the rest; a limit of several thousand, as is usual, bounds
// nothing (0). HTTP/2 needs no bound: two connections per host carry all.
func connsPerHost(limit uint64) int {
	const hosts, spare = 6, 64
	if limit == 0 || limit >= 8192 {
		return 0
	}
	return max(8, int((limit-min(limit, spare))/hosts))
}

// checkRedirect follows a redirect as CheckRedirect says, and only to
// https (or http on loopback): a redirect never downgrades to plain http.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if err := CheckRedirect(req.URL, via[0].URL, len(via)); err != nil {
		return err
	}
	if err := CheckRedirectTarget(req.URL); err != nil {
		return fmt.Errorf("redirect refused: %w", err)
	}
	return nil
}

// MaxRedirects is how many requests a chain of redirects may make: the
// first and MaxRedirects-1 redirects.
const MaxRedirects = 10

// ErrTooManyRedirects: a request's chain of redirects reached
// MaxRedirects requests (a loop, most likely): it is not sent again.
var ErrTooManyRedirects = errors.New("too many redirects")

// CheckRedirect checks a redirect to target of a request first sent to
// origin, after hops requests: at most MaxRedirects; and to this machine
// (loopback) only for a request that began on it: a remote server cannot
// send k8sverify to a service of the machine it runs on.
func CheckRedirect(target, origin *url.URL, hops int) error {
	if hops >= MaxRedirects {
		return fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, hops)
	}
	if IsLoopback(target.Hostname()) && !IsLoopback(origin.Hostname()) {
		return fmt.Errorf("redirect refused: %s, a remote host, redirected to %s, on this machine", origin.Host, Redact(target.String()))
	}
	return nil
}

// RedirectOf returns how many redirects led to req, and the URL of the
// request that began them (req's own when none): for transports under a
// client whose CheckRedirect is not this package's (go-containerregistry
// counts no hops), to apply CheckRedirect themselves.
func RedirectOf(req *http.Request) (hops int, origin *url.URL) {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
		hops++
	}
	return hops, first.URL
}

// Client returns the underlying *http.Client, e.g. for go-containerregistry:
// its transport bounds each request as WithTimeout says and gives up on
// hosts that fail repeatedly. It does not retry.
func (c *Client) Client() *http.Client { return c.client }

// Get fetches url and returns at most limit bytes of its body; a longer body
// is ErrBodyTooLarge, never silently cut.
func (c *Client) Get(ctx context.Context, url string, limit int64) ([]byte, error) {
	return c.do(ctx, http.MethodGet, url, nil, "", limit)
}

// PostJSON posts body as JSON and returns at most limit bytes of the answer.
func (c *Client) PostJSON(ctx context.Context, url string, body []byte, limit int64) ([]byte, error) {
	return c.do(ctx, http.MethodPost, url, body, "application/json", limit)
}

func (c *Client) do(ctx context.Context, method, url string, body []byte, contentType string, limit int64) ([]byte, error) {
	var data []byte
	err := c.retry(ctx, method+" "+Redact(url), func() (err error) {
		data, err = c.once(ctx, method, url, body, contentType, limit)
		return err
	})
	return data, err
}

// retry runs try until it succeeds, fails for good (not retryable), the
// context ends, or the attempts run out, waiting between attempts as
// delay says (a server's Retry-After first, capped). A host failure is
// retried once at most; a wait that would outlast the context's deadline
// is not begun.
func (c *Client) retry(ctx context.Context, what string, try func() error) error {
	hostFailures := 0
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil || ctx.Err() != nil || !retryable(err) || attempt >= c.attempts {
			return err
		}
		if IsHostFailure(err) {
			if hostFailures++; hostFailures > 1 {
				return err
			}
		}
		d := c.delay(attempt, err)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			return err
		}
		if serr := sleep(ctx, d); serr != nil {
			return fmt.Errorf("%s: %w (last error: %v)", what, serr, err)
		}
	}
}

// statusError drains a non-2xx answer and describes it, with its
// Retry-After if it has one.
func statusError(method, url string, resp *http.Response) error {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	he := &StatusError{Method: method, URL: Redact(url), StatusCode: resp.StatusCode}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
		return &retryAfterError{StatusError: he, after: d}
	}
	return he
}

// retryAfterError carries a server's Retry-After.
type retryAfterError struct {
	*StatusError
	after time.Duration
}

func (e *retryAfterError) Unwrap() error { return e.StatusError }

func (c *Client) once(ctx context.Context, method, url string, body []byte, contentType string, limit int64) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// The answer is read whole: it must be complete within the timeout.
	req, err := http.NewRequestWithContext(Bounded(ctx), method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, Redact(url), err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, Redact(url), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, statusError(method, url, resp)
	}
	if method == http.MethodHead {
		return nil, nil
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s %s: %w (%d > %d bytes)", method, Redact(url), ErrBodyTooLarge, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, Redact(url), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %s: %w (%d bytes)", method, Redact(url), ErrBodyTooLarge, limit)
	}
	return data, nil
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func retryable(err error) bool {
	var down *HostDownError
	if errors.Is(err, ErrBodyTooLarge) || errors.Is(err, ErrTooManyRedirects) || errors.Is(err, context.Canceled) || errors.As(err, &down) {
		return false
	}
	var he *StatusError
	if errors.As(err, &he) {
		return he.StatusCode == http.StatusTooManyRequests || he.StatusCode >= 500
	}
	return true // transport errors: reset, timeout, truncated body, host failures (once)
}

func (c *Client) delay(attempt int, lastErr error) time.Duration {
	var ra *retryAfterError
	if errors.As(lastErr, &ra) {
		return min(ra.after, c.maxBackoff)
	}
	d := c.backoff << (attempt - 1)
	return min(d, c.maxBackoff)
}

func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Head reports whether url exists (2xx): false for 404/410, an error for
// anything else after retries.
func (c *Client) Head(ctx context.Context, url string) (bool, error) {
	_, err := c.do(ctx, http.MethodHead, url, nil, "", 0)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Stream GETs url and hands the body to fn. Transient failures before the
// body starts are retried; a body shorter than its Content-Length is an
// error (io.ErrUnexpectedEOF), never a complete read.
func (c *Client) Stream(ctx context.Context, url string, fn func(body io.Reader, size int64) error) error {
	body, size, err := c.open(ctx, url)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := fn(body, size); err != nil {
		return fmt.Errorf("GET %s: %w", Redact(url), err)
	}
	return nil
}

// stream GETs url for a streamed read: a download may take longer than
// the timeout, as long as it keeps arriving at MinTransferRate.
func (c *Client) stream(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", Redact(url), err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", Redact(url), unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := statusError(http.MethodGet, url, resp)
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// Open GETs url for streaming reads (e.g. a large SBOM parsed as it
// arrives); transient failures before the body starts are retried. The
// caller closes the body. It implements artifacts.Opener.
func (c *Client) Open(ctx context.Context, url string) (io.ReadCloser, error) {
	body, _, err := c.open(ctx, url)
	return body, err
}

// open GETs url with retries until the body starts; it returns the body
// and its announced size (-1 when unknown).
func (c *Client) open(ctx context.Context, url string) (io.ReadCloser, int64, error) {
	var resp *http.Response
	err := c.retry(ctx, "GET "+Redact(url), func() (err error) {
		resp, err = c.stream(ctx, url)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// CloseIdleConnections closes the connections no request uses, as a run
// that has its answers does before it writes its reports: a release's
// HTTP/1.1 connections could otherwise hold the file descriptors a report
// file needs.
func (c *Client) CloseIdleConnections() {
	if t, ok := c.transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// Guarded returns the round tripper under the client's retries and
// redirect memory: each request sent through it is bounded in time (see
// Bounded) and refused for a host given up on. It serves libraries that
// retry and follow redirects themselves, such as registry clients.
func (c *Client) Guarded() http.RoundTripper { return c.guard }

// UserAgent is the User-Agent the client sends.
func (c *Client) UserAgent() string { return c.userAgent }

// Retries gives how often a request is tried and the first backoff.
func (c *Client) Retries() (attempts int, backoff time.Duration) { return c.attempts, c.backoff }

// Parallel is how many requests the caller runs at once (WithParallel).
func (c *Client) Parallel() int { return c.parallel }
