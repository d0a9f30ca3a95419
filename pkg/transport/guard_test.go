package transport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// countingTransport counts the connections dialled (each one a DNS lookup
// too), with a resolver that never leaves the machine: it asks a DNS
// server on a closed loopback port.
func countingTransport(t *testing.T, dials *atomic.Int32) *http.Transport {
	dead := testworld.ClosedPort(t)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", dead)
	}}
	d := &net.Dialer{Resolver: resolver}
	tr := transport.NewTransport(16)
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

func guardClient(opts ...transport.Option) *transport.Client {
	return transport.New(append([]transport.Option{transport.WithTimeout(200 * time.Millisecond), transport.WithBackoff(5*time.Millisecond, 50*time.Millisecond)}, opts...)...)
}

func download(c *transport.Client, url string) error {
	_, err := streamAll(c, url)
	return err
}

// streamAll reads url's body whole as a streamed download and counts it.
func streamAll(c *transport.Client, url string) (int64, error) {
	var n int64
	err := c.Stream(context.Background(), url, func(body io.Reader, _ int64) error {
		var err error
		n, err = io.Copy(io.Discard, body)
		return err
	})
	return n, err
}

// A server that accepts and never answers: every request, read whole or
// streamed, ends with ErrNoAnswer naming the timeout.
func TestNoAnswer(t *testing.T) {
	url := testworld.HangingServer(t) + "/release/v1.24.17/kubectl"
	if _, err := guardClient().Get(context.Background(), url, 1<<10); !errors.Is(err, transport.ErrNoAnswer) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("Get: want ErrNoAnswer within 200ms, got %v", err)
	}
	if err := download(guardClient(), url); !errors.Is(err, transport.ErrNoAnswer) {
		t.Errorf("Download: want ErrNoAnswer, got %v", err)
	}
}

// A body dripping one byte every 300ms ends: read whole, it is not
// complete within the timeout; streamed, it is under the minimum rate. The
// answer starts at once, but must start within the timeout on a loaded
// machine too: a second, not 200ms.
func TestDripStalls(t *testing.T) {
	url := testworld.DripServer(t) + "/release/v1.24.17/kubectl"
	second := transport.WithTimeout(time.Second)
	if _, err := guardClient(second).Get(context.Background(), url, 1<<20); !errors.Is(err, transport.ErrStalled) || !strings.Contains(err.Error(), "not complete within 1s") {
		t.Errorf("Get: want ErrStalled, got %v", err)
	}
	err := download(guardClient(second), url)
	if !errors.Is(err, transport.ErrStalled) || !strings.Contains(err.Error(), "bytes/s") {
		t.Errorf("Download: want ErrStalled under the minimum rate, got %v", err)
	}
	t.Log(err)
}

// A download that keeps arriving at a good rate may take much longer
// than the timeout. The server paces its chunks (a rate is what is
// tested): 4 KiB every 50ms for 2.5s, against a timeout of 1s that asks
// for 1 KiB in each second, so only a server stalled for a whole second
// fails it.
func TestStreamAtRateOutlastsTimeout(t *testing.T) {
	chunk := strings.Repeat("k", 4<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range 50 {
			io.WriteString(w, chunk)
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	c := transport.New(transport.WithTimeout(time.Second))
	n, err := streamAll(c, srv.URL)
	if err != nil || n != 50*int64(len(chunk)) {
		t.Fatalf("got %d bytes, %v", n, err)
	}
}

// A refused connection is retried once; after three refusals the host is
// given up on: the rest of the requests fail at once, without dialling,
// with one error naming the host.
func TestRefusedGivesUpOnHost(t *testing.T) {
	addr := testworld.ClosedPort(t)
	var dials atomic.Int32
	c := guardClient(transport.WithTransport(countingTransport(t, &dials)))
	_, err := c.Get(context.Background(), "http://"+addr+"/a", 1<<10)
	if !errors.Is(err, syscall.ECONNREFUSED) || dials.Load() != 2 {
		t.Fatalf("first request: %d dials, %v; want 2 dials, connection refused", dials.Load(), err)
	}
	want := "host " + addr + ": connection refused, 3 times: giving up on it"
	for i := range 10 {
		_, err := c.Get(context.Background(), "http://"+addr+"/b", 1<<10)
		var down *transport.HostDownError
		if !errors.As(err, &down) || down.Host != addr || !strings.Contains(err.Error(), want) || !transport.IsHostFailure(err) {
			t.Fatalf("request %d: want %q, got %v", i+2, want, err)
		}
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials, want 3", n)
	}
}

// A DNS failure is retried once, not more.
func TestDNSFailureRetriedOnce(t *testing.T) {
	var dials atomic.Int32
	c := guardClient(transport.WithTransport(countingTransport(t, &dials)), transport.WithTimeout(5*time.Second))
	_, err := c.Get(context.Background(), "https://dl.k8sverify.invalid/release/stable.txt", 1<<10)
	var dns *net.DNSError
	if !errors.As(err, &dns) || !transport.IsHostFailure(err) {
		t.Errorf("want a DNS error, got %v", err)
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	t.Log(err)
}

// A host that hangs, having never answered, is given up on after one
// timeout: the requests that waited for the first (to learn a redirect)
// and its retry cost nothing more; a registry session of the same client
// shares that.
func TestHangingHostGivenUp(t *testing.T) {
	url, accepted := testworld.HangingServerCounting(t)
	c := guardClient()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Get(context.Background(), fmt.Sprintf("%s/release/%d", url, i), 16)
		}()
	}
	wg.Wait()
	_, err := c.Get(context.Background(), url+"/y", 16)
	var down *transport.HostDownError
	if !errors.As(err, &down) || !errors.Is(err, transport.ErrNoAnswer) || !strings.Contains(err.Error(), "no answer within 200ms, never having answered: giving up on it") {
		t.Fatalf("want the host given up on, got %v", err)
	}
	if n := accepted(); n != 1 {
		t.Errorf("the hanging host was sent %d connections, want 1 (one timeout)", n)
	}
	// Registry sessions send through the client's transport too.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url+"/v2/", nil)
	if resp, err := c.Client().Transport.RoundTrip(req); !errors.As(err, &down) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Errorf("raw request to the host given up on: %v", err)
	}
}

// One path that hangs on a host that answers others says nothing about
// the host: it is not given up on.
func TestSlowPathDoesNotGiveUpOnHost(t *testing.T) {
	arrived := make(chan struct{}, 3)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	defer close(release)
	// The slow requests end at the timeout; the fast ones, made while they
	// hang, must answer within it on a loaded machine too: 2s, not 200ms.
	c := guardClient(transport.WithAttempts(1), transport.WithTimeout(2*time.Second))
	if _, err := c.Get(context.Background(), srv.URL+"/fast", 16); err != nil {
		t.Fatal(err) // the host answers
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Get(context.Background(), srv.URL+"/slow", 16); !errors.Is(err, transport.ErrNoAnswer) {
				t.Errorf("slow: %v", err)
			}
		}()
	}
	for range 3 {
		<-arrived
	}
	if _, err := c.Get(context.Background(), srv.URL+"/fast", 16); err != nil {
		t.Fatalf("fast, while the slow ones hang: %v", err)
	}
	wg.Wait()
	if data, err := c.Get(context.Background(), srv.URL+"/fast", 16); err != nil || string(data) != "ok" {
		t.Errorf("fast, after the slow ones failed: %q, %v", data, err)
	}
}

// A Retry-After that would outlast the context's deadline is not waited
// for: the answer is returned.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := transport.New(transport.WithBackoff(5*time.Millisecond, 10*time.Second))
	_, err := c.Get(ctx, srv.URL, 16)
	var he *transport.StatusError
	if !errors.As(err, &he) || he.StatusCode != http.StatusTooManyRequests || n.Load() != 1 {
		t.Errorf("want the 429 after one request, before the deadline; got %v after %d requests", err, n.Load())
	}
}

// A dial that failed for want of file descriptors says nothing of the
// host: it is no host failure (a host is never given up on for it), while
// a refused connection is.
func TestOutOfDescriptorsIsNoHostFailure(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		host  bool
	}{{syscall.EMFILE, false}, {syscall.ENFILE, false}, {syscall.ECONNREFUSED, true}} {
		err := fmt.Errorf("get: %w", &net.OpError{Op: "dial", Net: "tcp", Err: &net.OpError{Op: "socket", Err: tc.errno}})
		if transport.IsHostFailure(err) != tc.host {
			t.Errorf("%v: host failure %v, want %v", tc.errno, !tc.host, tc.host)
		}
	}
}

// A host whose download keeps streaming is up: requests of it that hang
// meanwhile fail on their own, and the host is not given up on (a CDN
// throttling large downloads while a few requests hung had every other
// artifact of the run fail).
func TestStreamingHostIsNotGivenUp(t *testing.T) {
	chunk := strings.Repeat("x", 1<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				}
			}
		case "/hang":
			<-r.Context().Done()
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	c := guardClient(transport.WithTimeout(300 * time.Millisecond))
	ctx, stop := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	streaming := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<10)
		for first := true; ; first = false {
			if _, err := resp.Body.Read(buf); err != nil {
				return
			}
			if first {
				close(streaming)
			}
		}
	}()
	defer func() { stop(); resp.Body.Close(); <-done }()
	<-streaming
	for i := range 3 {
		if _, err := c.Get(context.Background(), srv.URL+"/hang", 16); !errors.Is(err, transport.ErrNoAnswer) {
			t.Fatalf("hanging request %d: %v", i, err)
		}
	}
	if data, err := c.Get(context.Background(), srv.URL+"/ok", 16); err != nil || string(data) != "ok" {
		t.Errorf("after three hanging requests beside a stream: %q, %v", data, err)
	}
}
