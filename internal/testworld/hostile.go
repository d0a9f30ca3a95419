package testworld

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Hostile servers on loopback, for the tests of deadlines and of giving up
// on hosts. Each closes when the test ends.

// HangingServer accepts connections and never answers; it returns its
// http:// URL.
func HangingServer(t testing.TB) string {
	t.Helper()
	url, _ := HangingServerCounting(t)
	return url
}

// HangingServerCounting is HangingServer that also tells how many
// connections it accepted so far.
func HangingServerCounting(t testing.TB) (url string, accepted func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	accepted = func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String(), accepted
}

// DripServer answers at once, then sends its body one byte every 300ms,
// forever; it returns its http:// URL.
func DripServer(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// ClosedPort is the host:port of a loopback port nobody listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
