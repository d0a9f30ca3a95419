package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// RegistryRoutes saves the redirect hop of a registry front that sends
// requests elsewhere. registry.k8s.io answers /v2/ itself and every other
// request with a redirect (kubernetes/registry.k8s.io cmd/archeio,
// docs/request-handling.md; cmd/archeio/internal/app/handlers.go):
// manifests to an upstream registry under another path (the upstream's
// path joined with the request's path after /v2/), cosign's signature and
// attestation tags (sha256-<hex>.sig, .att: reCosignTag) to a signature
// upstream when it has one, blobs to object storage at
// <bucket>/containers/images/<digest> when the blob is there, else to the
// upstream like manifests. Each redirect carries a trace id in its query
// (withTraceID: ?rid=<id>, one id for a pull session with a token).
//
// Only requests named by a digest are routed: a manifest by digest, a
// cosign signature or attestation tag of a digest, the OCI referrers tag
// of a digest (sha256-<hex>), a blob. A tag that names an image is always
// asked at the front: which digest a name resolves to is the front's to
// say (a front, or a mirror, may send one repository elsewhere than the
// others), never a backend's it chose for another request.
//
// Where a front sends each kind of request is a probe, not an assumption:
// nothing is known before the front answers. The first GET or HEAD of a
// kind (a manifest by digest, a cosign signature or attestation tag, a
// referrers tag, a blob) to a registry host is sent to the front; when the
// answer is a redirect that is a pure rewrite, later requests of that kind
// to that host go where the rewrite sends them. A pure rewrite is one of:
//
//   - prefix: the location's path is a prefix P (ending in /) followed by
//     the request's path after /v2/; later requests go to P followed by
//     their own path after /v2/;
//   - digest, for blobs only: the location's path is P followed by the
//     blob's digest (the request's last path segment); later blob
//     requests go to P followed by their own digest.
//
// The location must be https (or http to a loopback host) as
// CheckRedirectTarget accepts, without credentials or fragment. Its query
// (a request that carries a query of its own is never routed) is carried
// verbatim onto the requests sent directly. Requests of a kind that start
// while its probe is out wait for the probe's answer when a route of
// another kind was learned on that host (the front redirects: the probe,
// sent earlier, answers before the front would answer them, and a learned
// route then saves them the front's hop); on a host that has redirected
// nothing they are sent as asked, as waiting would then only delay them.
// Credentials and cookies meant for the front are not sent to
// another origin, as a client following a redirect does not send them.
//
// Nothing learned is assumed to hold: a request sent directly that fails
// (an error, or an answer that is not 2xx) is sent to the front as asked,
// unless it waited its whole time for an answer (ErrNoAnswer, ErrStalled):
// that one fails as it is, so that a stalled server costs one timeout, not
// two, and the kind's route is forgotten. After maxRouteFailures learned
// routes of a kind failed on a host, that kind is sent to the front as
// asked for the rest of the run.
// When the front redirects it to the very URL that answered 404 or 410,
// that answer is returned (the redirect would lead to it again) and the
// route stands; otherwise the route of that kind on that host is
// forgotten and the front's answer is returned, for the client to follow
// (the next request of the kind probes again).
//
// It never changes which digest an image's name stands for, only which
// server is asked first for what a digest names: manifests and blobs are
// verified by their digest downstream, signatures over the digest they
// sign (a front that sends one repository's signatures elsewhere than the
// others' can make a signature found at the front be missed, never one
// that does not verify count). A nil *RegistryRoutes sends every
// request as asked; the zero value is ready; it is safe for concurrent use
// and meant to be shared by a run's registry requests.
type RegistryRoutes struct {
	mu     sync.Mutex
	routes map[routeKey]*registryRoute
	failed map[routeKey]int // learned routes of a kind that failed
	// redirecting holds the hosts of which a route was learned.
	redirecting map[registryHost]bool
	// waiting, for tests, is called when a request starts waiting for
	// its kind's probe.
	waiting func()
}

// maxRouteFailures is how many learned routes of a kind may fail on a
// host before the kind is sent as asked for the rest of the run: a front
// whose redirects only look like rewrites (a signed location valid for
// one blob, its signature in the query) then costs one request more, not
// one per request.
const maxRouteFailures = 2

// registryHost is a registry's scheme and host.
type registryHost struct{ scheme, host string }

// routeKey is a registry host and a kind of request.
type routeKey struct {
	registryHost
	kind routeKind
}

// routeKind is a kind of registry request whose redirects are learned
// apart.
type routeKind int

const (
	routeDigest       routeKind = iota // a manifest by digest
	routeCosignTag                     // sha256-<hex>.sig or .att
	routeReferrersTag                  // sha256-<hex>: the OCI referrers tag schema
	routeBlob                          // a blob by digest
)

// registryRoute is where a kind of request to a host goes; ready closes
// when the probe's answer is known, and to is read only then.
type registryRoute struct {
	ready chan struct{}
	to    *rewrite // nil: nothing learned (yet)
}

// rewrite is a pure rewrite learned from a redirect.
type rewrite struct {
	origin string // scheme://host of the location
	prefix string // P, escaped, ending in /
	digest bool   // P + the digest (blobs) rather than P + the path after /v2/
	query  string // the location's raw query, carried verbatim
}

// url is where the rewrite sends a request whose path after /v2/ is rest
// and whose last path segment is last.
func (w *rewrite) url(rest, last string) string {
	u := w.origin + w.prefix + rest
	if w.digest {
		u = w.origin + w.prefix + last
	}
	if w.query != "" {
		u += "?" + w.query
	}
	return u
}

// RoundTrip sends req with send, directly where a redirect of the front
// learned for its host and kind sends it when there is one.
func (m *RegistryRoutes) RoundTrip(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if m == nil {
		return send(req)
	}
	key, rest, last, ok := routedRequest(req)
	if !ok {
		return send(req)
	}
	r, first := m.route(key)
	if first {
		return m.probe(key, r, req, rest, last, send)
	}
	if err := m.awaitProbe(key, r, req); err != nil {
		return nil, err
	}
	if !isClosed(r.ready) || r.to == nil {
		return send(req)
	}
	target := r.to.url(rest, last)
	direct, err := directRequest(req, target)
	if err != nil {
		m.forget(key, r)
		return send(req)
	}
	resp, err := send(direct)
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	if err != nil && (errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrStalled) || req.Context().Err() != nil) {
		// A request that waited its whole time (or was cancelled) is not
		// sent again: the front would most likely send it to that same
		// server, for a second wait. The route is forgotten: the kind's
		// next request asks the front.
		m.fail(key, r)
		return nil, err
	}
	var kept *http.Response
	if err == nil {
		kept = keepRefusal(resp)
	}
	front, err := send(req)
	if err == nil && kept != nil {
		if to := learn(req, key.kind, rest, last, front); to != nil && to.url(rest, last) == target {
			closeResponse(front)
			return kept, nil
		}
	}
	closeResponse(kept)
	m.fail(key, r)
	return front, err
}

// awaitProbe waits for the answer of the probe of req's kind, when it is
// out and the front redirected another kind: that answer comes sooner
// than the front's own to req would.
func (m *RegistryRoutes) awaitProbe(key routeKey, r *registryRoute, req *http.Request) error {
	if isClosed(r.ready) || !m.redirects(key) {
		return nil
	}
	if m.waiting != nil {
		m.waiting()
	}
	select {
	case <-r.ready:
		return nil
	case <-req.Context().Done():
		return context.Cause(req.Context())
	}
}

// route returns the route of key, and whether the caller is the first to
// ask for it (and so probes).
func (m *RegistryRoutes) route(key routeKey) (*registryRoute, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes == nil {
		m.routes = map[routeKey]*registryRoute{}
	}
	r, known := m.routes[key]
	if !known {
		r = &registryRoute{ready: make(chan struct{})}
		m.routes[key] = r
	}
	return r, !known
}

// learned notes that key's host redirects a kind as a pure rewrite.
func (m *RegistryRoutes) learned(key routeKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.redirecting == nil {
		m.redirecting = map[registryHost]bool{}
	}
	m.redirecting[key.registryHost] = true
}

// redirects reports whether a route of another kind was learned on key's
// host.
func (m *RegistryRoutes) redirects(key routeKey) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.redirecting[key.registryHost]
}

// fail forgets the learned route r of key, which failed; past
// maxRouteFailures, the kind is sent as asked from then on.
func (m *RegistryRoutes) fail(key routeKey, r *registryRoute) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes[key] != r {
		return
	}
	if m.failed == nil {
		m.failed = map[routeKey]int{}
	}
	m.failed[key]++
	if m.failed[key] < maxRouteFailures {
		delete(m.routes, key)
		return
	}
	never := &registryRoute{ready: make(chan struct{})}
	close(never.ready)
	m.routes[key] = never
}

// forget drops the route of key when it is still r.
func (m *RegistryRoutes) forget(key routeKey, r *registryRoute) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes[key] == r {
		delete(m.routes, key)
	}
}

// probe sends req as asked and learns from the answer; when there is
// nothing to learn (an error, a 2xx: the host serves the kind itself, a
// redirect that is no pure rewrite, a refusal), the route is forgotten and
// the next request of the kind probes again.
func (m *RegistryRoutes) probe(key routeKey, r *registryRoute, req *http.Request, rest, last string, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	defer close(r.ready)
	resp, err := send(req)
	if err == nil {
		r.to = learn(req, key.kind, rest, last, resp)
	}
	if r.to == nil {
		m.forget(key, r)
	} else {
		m.learned(key)
	}
	return resp, err
}

// routedRequest returns the route key of a GET or HEAD without a query of
// /v2/<name>/manifests/<reference> or /v2/<name>/blobs/<digest>, its path
// after /v2/ (escaped) and its last segment.
func routedRequest(req *http.Request) (routeKey, string, string, bool) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead || req.URL.RawQuery != "" || req.URL.ForceQuery {
		return routeKey{}, "", "", false
	}
	rest, ok := strings.CutPrefix(req.URL.EscapedPath(), "/v2/")
	if !ok {
		return routeKey{}, "", "", false
	}
	key := routeKey{registryHost: registryHost{scheme: req.URL.Scheme, host: req.URL.Host}}
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		ref := rest[i+len("/manifests/"):]
		if ref == "" || strings.Contains(ref, "/") {
			return routeKey{}, "", "", false
		}
		kind, named := referenceKind(ref)
		if !named {
			return routeKey{}, "", "", false
		}
		key.kind = kind
		return key, rest, ref, true
	}
	if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		digest := rest[i+len("/blobs/"):]
		if !strings.Contains(digest, ":") || strings.Contains(digest, "/") {
			return routeKey{}, "", "", false
		}
		key.kind = routeBlob
		return key, rest, digest, true
	}
	return routeKey{}, "", "", false
}

// referenceKind: a digest, a cosign signature or attestation tag (which
// registry.k8s.io may send to a signature upstream of its own:
// kubernetes/registry.k8s.io cmd/archeio/internal/app/handlers.go,
// reCosignTag), or the referrers tag of a digest (the OCI distribution
// spec's tag schema); false for a tag that names an image.
func referenceKind(ref string) (routeKind, bool) {
	if strings.Contains(ref, ":") {
		return routeDigest, true
	}
	hex, ok := strings.CutPrefix(ref, "sha256-")
	if !ok {
		return 0, false
	}
	kind := routeReferrersTag
	for _, suffix := range []string{".sig", ".att"} {
		if h, found := strings.CutSuffix(hex, suffix); found {
			hex, kind = h, routeCosignTag
			break
		}
	}
	return kind, isHex64(hex)
}

// isHex64 reports whether s is a SHA-256 digest's 64 lower-case hex digits.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// learn returns the pure rewrite a redirect answer to req is, or nil.
func learn(req *http.Request, kind routeKind, rest, last string, resp *http.Response) *rewrite {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	loc, err := req.URL.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Fragment != "" || loc.User != nil || loc.Opaque != "" || loc.ForceQuery || CheckRedirectTarget(loc) != nil || CheckRedirect(loc, req.URL, 1) != nil {
		return nil
	}
	w := &rewrite{origin: (&url.URL{Scheme: loc.Scheme, Host: loc.Host}).String(), query: loc.RawQuery}
	p := loc.EscapedPath()
	switch {
	case strings.HasSuffix(p, "/"+rest):
		w.prefix = strings.TrimSuffix(p, rest)
	case kind == routeBlob && strings.HasSuffix(p, "/"+last):
		w.prefix, w.digest = strings.TrimSuffix(p, last), true
	default:
		return nil
	}
	if w.url(rest, last) != loc.String() {
		return nil // the location does not read back as the rewrite says
	}
	return w
}

// directRequest is req sent to target; credentials and cookies stay with
// the front when target is another origin, as when a client follows a
// redirect.
func directRequest(req *http.Request, target string) (*http.Request, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	d := req.Clone(req.Context())
	d.URL, d.Host = u, ""
	if u.Scheme != req.URL.Scheme || u.Host != req.URL.Host {
		for _, h := range []string{"Authorization", "Proxy-Authorization", "Www-Authenticate", "Cookie", "Cookie2"} {
			d.Header.Del(h)
		}
	}
	return d, nil
}

// maxRefusal bounds the body of a refusal kept while the front is asked.
const maxRefusal = 64 << 10

// keepRefusal returns resp read whole when it is a 404 or 410 (a refusal
// the front may send back to) of at most maxRefusal bytes, and closes it
// otherwise.
func keepRefusal(resp *http.Response) *http.Response {
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone {
		closeResponse(resp)
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRefusal+1))
	resp.Body.Close()
	if err != nil || len(data) > maxRefusal {
		return nil
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	return resp
}

// closeResponse drains a little of resp's body (so its connection may be
// reused) and closes it; nil is nothing.
func closeResponse(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRefusal))
	resp.Body.Close()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
