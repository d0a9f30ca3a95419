package transport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/transport"
)

func fastClient() *transport.Client {
	return transport.New(transport.WithTimeout(time.Second), transport.WithBackoff(5*time.Millisecond, 50*time.Millisecond))
}

func TestGetRetriesThenSucceeds(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 2:
			http.Error(w, "oops", http.StatusBadGateway)
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	data, err := fastClient().Get(context.Background(), srv.URL, 16)
	if err != nil || string(data) != "ok" || n.Load() != 3 {
		t.Fatalf("got %q, %v after %d requests", data, err, n.Load())
	}
}

func TestGetErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/big":
			io.WriteString(w, strings.Repeat("x", 100))
		case "/500":
			http.Error(w, "down", http.StatusInternalServerError)
		case "/redirect-http":
			http.Redirect(w, r, "http://example.com/file", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := fastClient()
	if _, err := c.Get(context.Background(), srv.URL+"/404", 16); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/big", 16); !errors.Is(err, transport.ErrBodyTooLarge) {
		t.Errorf("body over the limit: %v", err)
	}
	var he *transport.StatusError
	if _, err := c.Get(context.Background(), srv.URL+"/500", 16); !errors.As(err, &he) || he.StatusCode != 500 {
		t.Errorf("500: %v", err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/redirect-http", 16); !errors.Is(err, transport.ErrInsecureURL) {
		t.Errorf("a redirect to plain http on a remote host: %v", err)
	}
}

// A body that stops arriving ends with ErrStalled after the timeout,
// however large the file.
func TestStreamStalls(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)
	// The answer starts at once; a second (not 200ms) lets it start on a
	// loaded machine too.
	c := transport.New(transport.WithTimeout(time.Second), transport.WithAttempts(1))
	_, err := streamAll(c, srv.URL)
	if !errors.Is(err, transport.ErrStalled) {
		t.Fatalf("want ErrStalled, got %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://dl.k8s.io":              true,
		"http://127.0.0.1:8080":          true,
		"http://localhost:1":             true,
		"http://[::1]:1":                 true,
		"http://dl.k8s.io":               false,
		"https://user:pw@dl.k8s.io":      false,
		"https://dl.k8s.io?token=secret": false,
		"ftp://dl.k8s.io":                false,
		"dl.k8s.io":                      false,
	} {
		err := transport.CheckURL(raw)
		if (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", raw, err)
		}
		if err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), ":pw@")) {
			t.Errorf("CheckURL(%q) leaks a credential: %v", raw, err)
		}
	}
}

// A redirect is checked by its scheme and host alone: a query (signed
// URLs of a CDN) is fine, a downgrade to plain http or credentials are not.
func TestCheckRedirectTarget(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://cdn.dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl":                   true,
		"https://cdn.dl.k8s.io/release/v1.24.17/kubernetes.tar.gz?Expires=1&Signature=abc": true,
		"http://127.0.0.1:8080/x?y=z":                                                      true,
		"http://cdn.dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl":                    false,
		"https://user:pw@cdn.dl.k8s.io/x":                                                  false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := transport.CheckRedirectTarget(u); (err == nil) != ok {
			t.Errorf("CheckRedirectTarget(%q) = %v", raw, err)
		}
	}
}

// An https request to a server that speaks only plain http on that port
// is ErrPlainHTTPServer, which callers test to say how to allow it.
func TestPlainHTTPServerNamed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	https := "https://" + strings.TrimPrefix(srv.URL, "http://")
	c := transport.New(transport.WithTimeout(time.Second), transport.WithAttempts(1))
	if _, err := c.Get(context.Background(), https, 16); !errors.Is(err, transport.ErrPlainHTTPServer) {
		t.Errorf("Get: %v", err)
	}
	req, err := http.NewRequest(http.MethodGet, https+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Client().Do(req); !errors.Is(err, transport.ErrPlainHTTPServer) {
		if err == nil {
			resp.Body.Close()
		}
		t.Errorf("Do: %v", err)
	}
}

// The connections to one host fit the open-file limit: six hosts and 64
// spare descriptors within 256 or 512; no bound under a usual limit.
func TestConnsPerHostFitTheFileLimit(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{{0, 0}, {64, 8}, {256, 32}, {512, 74}, {8192, 0}, {1 << 20, 0}} {
		if got := transport.ConnsPerHost(tc.limit); got != tc.want {
			t.Errorf("limit %d: %d connections per host, want %d", tc.limit, got, tc.want)
		}
		if n := transport.ConnsPerHost(tc.limit); n > 0 && uint64(6*n+64) > max(tc.limit, 6*8+64) {
			t.Errorf("limit %d: 6 hosts of %d connections do not fit", tc.limit, n)
		}
	}
}
