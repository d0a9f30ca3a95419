package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/transport"
)

// site is a download site that redirects every path below /release/ to a
// CDN (as dl.k8s.io does), or as redirect says; both count their requests.
type site struct {
	origin, cdn     *httptest.Server
	atOrigin, atCDN atomic.Int64
}

func newSite(t *testing.T, redirect func(cdn string, r *http.Request) string, serve func(w http.ResponseWriter, r *http.Request)) *site {
	t.Helper()
	s := &site{}
	s.cdn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.atCDN.Add(1)
		serve(w, r)
	}))
	s.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.atOrigin.Add(1)
		http.Redirect(w, r, redirect(s.cdn.URL, r), http.StatusFound)
	}))
	t.Cleanup(s.cdn.Close)
	t.Cleanup(s.origin.Close)
	return s
}

func samePath(cdn string, r *http.Request) string { return cdn + r.URL.RequestURI() }

// servePath serves a file's name as its content.
func servePath(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, path.Base(r.URL.Path)) }

func TestRedirectMemory(t *testing.T) {
	cases := []struct {
		name     string
		redirect func(cdn string, r *http.Request) string
		serve    func(w http.ResponseWriter, r *http.Request)
		// requests at the origin and the CDN for 20 files.
		origin, cdn int64
	}{
		{"the same path elsewhere: learned from the first", samePath, servePath, 1, 20},
		{"another path: each redirected", func(cdn string, r *http.Request) string { return cdn + "/mirror" + r.URL.Path }, servePath, 20, 20},
		{"a query added: each redirected", func(cdn string, r *http.Request) string { return cdn + r.URL.Path + "?sig=1" }, servePath, 20, 20},
		{"the CDN refuses direct requests: asked as asked again", samePath, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/release/f0" && !strings.HasPrefix(r.Header.Get("Referer"), "http") {
				// Go's client sets Referer when following a redirect.
				http.Error(w, "signed URL required", http.StatusForbidden)
				return
			}
			servePath(w, r)
		}, 20, 39},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, tc.redirect, tc.serve)
			c := fastClient()
			get := func(i int) {
				p := fmt.Sprintf("/release/f%d", i)
				data, err := c.Get(context.Background(), s.origin.URL+p, 1<<10)
				if err != nil || string(data) != path.Base(p) {
					t.Errorf("%s: %q, %v", p, data, err)
				}
			}
			get(0) // the first alone, so the counts do not depend on timing
			var wg sync.WaitGroup
			for i := 1; i < 20; i++ {
				wg.Add(1)
				go func() { defer wg.Done(); get(i) }()
			}
			wg.Wait()
			if o, d := s.atOrigin.Load(), s.atCDN.Load(); o != tc.origin || d != tc.cdn {
				t.Errorf("%d requests at the origin, %d at the CDN; want %d and %d", o, d, tc.origin, tc.cdn)
			}
		})
	}
}

// Requests that start together wait for the first one's answer instead of
// each following the redirect.
func TestRedirectMemoryProbesOnce(t *testing.T) {
	s := newSite(t, samePath, servePath)
	c := fastClient()
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Get(context.Background(), fmt.Sprintf("%s/release/f%d", s.origin.URL, i), 1<<10); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if o := s.atOrigin.Load(); o != 1 {
		t.Errorf("%d requests at the origin, want 1", o)
	}
}

// A redirect to plain http on another host is refused, learned or not.
func TestRedirectMemoryKeepsTheRedirectRules(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://cdn.example.com"+r.URL.Path, http.StatusFound)
	}))
	defer origin.Close()
	c := fastClient()
	for i := range 2 {
		_, err := c.Get(context.Background(), fmt.Sprintf("%s/release/f%d", origin.URL, i), 1<<10)
		if err == nil || !strings.Contains(err.Error(), "redirect refused") {
			t.Errorf("request %d: %v", i, err)
		}
	}
}

// A redirect loop is cut after MaxRedirects hops and not sent again; a
// redirect from a remote host to this machine is refused, one from this
// machine to itself followed.
func TestRedirectLimits(t *testing.T) {
	var hops atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hops.Add(1)
		http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
	}))
	defer srv.Close()
	_, err := fastClient().Get(context.Background(), srv.URL+"/loop", 16)
	if !errors.Is(err, transport.ErrTooManyRedirects) || hops.Load() != transport.MaxRedirects {
		t.Errorf("loop: %d requests, %v", hops.Load(), err)
	}
	u := func(s string) *url.URL {
		p, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		origin, target string
		ok             bool
	}{
		{"https://dl.k8s.io/release/x", "https://cdn.dl.k8s.io/release/x", true},
		{"https://dl.k8s.io/release/x", "http://127.0.0.1:2375/containers/json", false},
		{"https://dl.k8s.io/release/x", "https://localhost:8443/x", false},
		{"https://dl.k8s.io/release/x", "http://[::1]/x", false},
		{"https://dl.k8s.io/release/x", "http://0.0.0.0:2375/x", false},
		{"https://dl.k8s.io/release/x", "http://[::]:2375/x", false},
		{"http://127.0.0.1:8080/release/x", "http://127.0.0.1:9090/release/x", true},
	} {
		if err := transport.CheckRedirect(u(tc.target), u(tc.origin), 1); (err == nil) != tc.ok {
			t.Errorf("%s -> %s: %v", tc.origin, tc.target, err)
		}
	}
}

// A remote host's redirect to this machine is neither followed nor
// learned: the download site's whole-site redirect and a registry front's
// routes are learned from answers before any client follows them, and a
// learned route is then used without a redirect to check.
func TestRemoteRedirectToLoopbackNeverLearned(t *testing.T) {
	var local atomic.Int32
	loopback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local.Add(1)
		io.WriteString(w, "a local service")
	}))
	defer loopback.Close()
	remote := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loopback.URL+r.URL.Path, http.StatusFound)
	}))
	defer remote.Close()
	// The TLS server poses as example.com, a remote host.
	addr := strings.TrimPrefix(remote.URL, "https://")
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: remote.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"},
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if strings.HasPrefix(a, "example.com:") {
				a = addr
			}
			return (&net.Dialer{}).DialContext(ctx, network, a)
		},
	}
	c := transport.New(transport.WithTransport(tr), transport.WithTimeout(2*time.Second), transport.WithBackoff(time.Millisecond, time.Millisecond))
	for _, p := range []string{"/release/a", "/release/b", "/release/c"} {
		if data, err := c.Get(context.Background(), "https://example.com"+p, 1<<10); err == nil {
			t.Errorf("%s: %q from a redirect to this machine", p, data)
		}
	}

	var m transport.RegistryRoutes
	front := func(req *http.Request) (*http.Response, error) {
		if req.URL.Host == "registry.example" {
			h := http.Header{"Location": {loopback.URL + "/admin" + req.URL.Path}}
			return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: h, Body: http.NoBody, Request: req}, nil
		}
		return http.DefaultTransport.RoundTrip(req)
	}
	for _, d := range []string{"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("b", 64)} {
		req, err := http.NewRequest(http.MethodGet, "https://registry.example/v2/x/blobs/"+d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := m.RoundTrip(req, front); err == nil {
			resp.Body.Close()
		}
	}
	if n := local.Load(); n > 0 {
		t.Errorf("a remote host's redirect reached this machine %d times", n)
	}
}
