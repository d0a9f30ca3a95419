package transport

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// redirectMemory saves the redirect hop of sites that send a whole part
// of their paths elsewhere unchanged: dl.k8s.io answers every request
// with a 302 to the same path on cdn.dl.k8s.io (kubernetes/k8s.io,
// apps/k8s-io/configmap-nginx.yaml: rewrite ^/(.*)$
// https://cdn.dl.k8s.io/$1 redirect). The first GET or HEAD below a
// site's first path segment (/release/…) is sent as asked, while the
// others to that part wait for its answer; when it is a redirect to the
// same path and query on another https origin (or loopback) that
// CheckRedirectTarget accepts, the others go there directly. Nothing is
// assumed: a request sent directly that is refused (401, 403, 404, 410:
// the file is elsewhere, or the target wants a signed URL only the site
// gives) is sent again as asked, so that a site that redirects file by
// file still has its say.
// It never changes what is verified, only which of the site's servers
// is asked first.
type redirectMemory struct {
	inner http.RoundTripper

	mu    sync.Mutex
	parts map[redirectKey]*redirectRule
}

// redirectKey is a part of a site: scheme, host and first path segment.
type redirectKey struct{ scheme, host, segment string }

// redirectRule is what a part of a site redirects to; ready closes when
// the first request to it was answered.
type redirectRule struct {
	ready  chan struct{}
	target *url.URL // scheme and host; nil: not redirected as a whole
}

func (m *redirectMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return m.inner.RoundTrip(req)
	}
	key := redirectKey{req.URL.Scheme, req.URL.Host, firstSegment(req.URL.Path)}
	m.mu.Lock()
	if m.parts == nil {
		m.parts = map[redirectKey]*redirectRule{}
	}
	rule, known := m.parts[key]
	if !known {
		rule = &redirectRule{ready: make(chan struct{})}
		m.parts[key] = rule
	}
	m.mu.Unlock()
	if !known {
		return m.probe(key, rule, req)
	}
	select {
	case <-rule.ready:
	case <-req.Context().Done():
		return nil, context.Cause(req.Context())
	}
	if rule.target == nil {
		return m.inner.RoundTrip(req)
	}
	direct := req.Clone(req.Context())
	direct.URL.Scheme, direct.URL.Host, direct.Host = rule.target.Scheme, rule.target.Host, ""
	resp, err := m.inner.RoundTrip(direct)
	if err != nil {
		return resp, err
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
	default:
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return m.inner.RoundTrip(req)
}

// probe sends the first request to a part of a site and learns from its
// answer. A request that failed teaches nothing: the next one probes
// again.
func (m *redirectMemory) probe(key redirectKey, rule *redirectRule, req *http.Request) (*http.Response, error) {
	resp, err := m.inner.RoundTrip(req)
	if err != nil {
		m.mu.Lock()
		delete(m.parts, key)
		m.mu.Unlock()
	} else {
		rule.target = wholeRedirect(req.URL, resp)
	}
	close(rule.ready)
	return resp, err
}

// wholeRedirect returns the origin a redirect answer sends u to, when it
// keeps u's path and query and CheckRedirectTarget and CheckRedirect
// accept it (never learned: a remote host's redirect to this machine).
func wholeRedirect(u *url.URL, resp *http.Response) *url.URL {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	loc, err := u.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host == u.Host && loc.Scheme == u.Scheme {
		return nil
	}
	if loc.EscapedPath() != u.EscapedPath() || loc.RawQuery != u.RawQuery || loc.User != nil || CheckRedirectTarget(loc) != nil || CheckRedirect(loc, u, 1) != nil {
		return nil
	}
	return &url.URL{Scheme: loc.Scheme, Host: loc.Host}
}

// firstSegment is "/release/" for "/release/v1.24.17/bin/…", "/" for "/x".
func firstSegment(p string) string {
	rest := strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return "/" + rest[:i+1]
	}
	return "/"
}
