package transport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/transport"
)

// front is a registry front as registry.k8s.io is one: every request
// redirected to a backend (redirect says where); both count their
// requests, the backend by path, and the backend records the requests
// that reached it with the front's credentials and what queries it saw.
type front struct {
	front, backend   *httptest.Server
	atFront, atBack  atomic.Int64
	credentials      atomic.Int64
	mu               sync.Mutex
	backendAnswers   map[string]int // path -> status, default 200
	backendRequested map[string]int
	queries          map[string]int
}

const backendPath = "/v2/k8s-artifacts-prod/images/"

func newFront(t *testing.T, redirect func(backend string, r *http.Request) string) *front {
	t.Helper()
	f := &front{backendAnswers: map[string]int{}, backendRequested: map[string]int{}, queries: map[string]int{}}
	f.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.atBack.Add(1)
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			f.credentials.Add(1)
		}
		f.mu.Lock()
		status := f.backendAnswers[r.URL.Path]
		f.backendRequested[r.URL.Path]++
		f.queries[r.URL.RawQuery]++
		f.mu.Unlock()
		if status != 0 {
			http.Error(w, "refused", status)
			return
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	f.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.atFront.Add(1)
		http.Redirect(w, r, redirect(f.backend.URL, r), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(f.backend.Close)
	t.Cleanup(f.front.Close)
	return f
}

// archeio joins the upstream's path and the request's path after /v2/
// (kubernetes/registry.k8s.io cmd/archeio/internal/app/handlers.go,
// upstreamRedirectURL).
func archeio(backend string, r *http.Request) string {
	return backend + backendPath + strings.TrimPrefix(r.URL.Path, "/v2/")
}

// archeioBlobs sends blobs to object storage by digest (handlers.go:
// bucketURL + "/containers/images/" + digest) and the rest as archeio.
func archeioBlobs(backend string, r *http.Request) string {
	if _, digest, ok := strings.Cut(r.URL.Path, "/blobs/"); ok {
		return backend + "/containers/images/" + digest
	}
	return archeio(backend, r)
}

func (f *front) answer(path string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backendAnswers[path] = status
}

func (f *front) requested(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.backendRequested[path]
}

// routesClient follows redirects, as go-containerregistry's client does,
// through the routes. Go's client keeps credentials on a redirect to
// another port of the same host (the test's servers), so it is told not
// to send them when following one: only a request the routes send
// directly could bring them to the backend.
func routesClient(routes *transport.RegistryRoutes) *http.Client {
	base := http.DefaultTransport
	return &http.Client{
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			return routes.RoundTrip(r, base.RoundTrip)
		}),
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			r.Header.Del("Authorization")
			r.Header.Del("Cookie")
			return nil
		},
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// get fetches the front's path with credentials for the front and
// returns the status and the body.
func get(t *testing.T, c *http.Client, f *front, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.front.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer for-the-front")
	req.Header.Set("Cookie", "session=front")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// ref is the OCI referrers tag of the n-th digest, sig its cosign
// signature tag, att its attestation tag: names a digest gives.
func ref(n int) string { return fmt.Sprintf("sha256-%064x", n) }
func sig(n int) string { return ref(n) + ".sig" }
func att(n int) string { return ref(n) + ".att" }

const (
	digestA = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	digestB = "sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestRegistryRoutes(t *testing.T) {
	cases := []struct {
		name     string
		redirect func(backend string, r *http.Request) string
		paths    []string
		// requests at the front and the backend.
		front, backend int64
	}{
		{"referrers tags of a host: learned from the first, whatever the repository", archeio,
			[]string{"/v2/a/manifests/" + ref(1), "/v2/a/manifests/" + ref(2), "/v2/b/manifests/" + ref(3), "/v2/c/d/manifests/" + ref(4)}, 1, 4},
		{"tags that name an image: asked at the front, every one", archeio,
			[]string{"/v2/a/manifests/v1", "/v2/a/manifests/v2", "/v2/b/manifests/v3", "/v2/b/manifests/sha256-0a"}, 4, 4},
		{"each kind learned apart", archeio,
			[]string{"/v2/a/manifests/" + ref(1), "/v2/a/manifests/" + digestA, "/v2/a/manifests/" + sig(1), "/v2/a/blobs/" + digestA,
				"/v2/b/manifests/" + ref(2), "/v2/b/manifests/" + digestB, "/v2/b/manifests/" + att(2), "/v2/b/blobs/" + digestB}, 4, 8},
		{"blobs by digest in object storage: learned", archeioBlobs,
			[]string{"/v2/a/blobs/" + digestA, "/v2/b/blobs/" + digestB, "/v2/a/blobs/" + digestB}, 1, 3},
		{"a trace id added: learned, carried", func(b string, r *http.Request) string { return archeio(b, r) + "?rid=0a" },
			[]string{"/v2/a/manifests/" + sig(1), "/v2/a/manifests/" + sig(2), "/v2/b/manifests/" + sig(3)}, 1, 3},
		{"requests with a query of their own: never routed", archeio,
			[]string{"/v2/a/manifests/" + ref(1) + "?x=1", "/v2/a/manifests/" + ref(2) + "?x=1", "/v2/a/manifests/" + ref(3) + "?x=1"}, 3, 3},
		{"another repository's path: each redirected", func(b string, r *http.Request) string {
			return b + backendPath + "mirror/" + path.Base(r.URL.Path)
		}, []string{"/v2/a/manifests/" + ref(1), "/v2/a/manifests/" + ref(2)}, 2, 2},
		{"manifests by the last segment only: each redirected", func(b string, r *http.Request) string {
			return b + "/containers/images/" + path.Base(r.URL.Path)
		}, []string{"/v2/a/manifests/" + ref(1), "/v2/a/manifests/" + ref(2)}, 2, 2},
		{"a prefix that is not a whole segment: each redirected", func(b string, r *http.Request) string {
			return b + "/v2/mirror-" + strings.TrimPrefix(r.URL.Path, "/v2/")
		}, []string{"/v2/a/manifests/" + ref(1), "/v2/a/manifests/" + ref(2)}, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFront(t, tc.redirect)
			c := routesClient(&transport.RegistryRoutes{})
			for _, p := range tc.paths {
				want := path.Base(strings.SplitN(p, "?", 2)[0])
				if status, body := get(t, c, f, p); status != http.StatusOK || !strings.HasSuffix(body, want) {
					t.Errorf("GET %s: %d %q", p, status, body)
				}
			}
			if fr, b := f.atFront.Load(), f.atBack.Load(); fr != tc.front || b != tc.backend {
				t.Errorf("%d requests at the front, %d at the backend; want %d and %d", fr, b, tc.front, tc.backend)
			}
			if n := f.credentials.Load(); n != 0 {
				t.Errorf("the front's credentials or cookies reached the backend %d times", n)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for q, n := range f.queries {
				if q != "" && q != "rid=0a" && q != "x=1" {
					t.Errorf("the backend saw the query %q %d times", q, n)
				}
			}
			if n := f.queries["rid=0a"]; tc.name == "a trace id added: learned, carried" && n != len(tc.paths) {
				t.Errorf("the trace id reached the backend %d times of %d", n, len(tc.paths))
			}
		})
	}
}

// A nil RegistryRoutes sends requests as asked.
func TestRegistryRoutesNil(t *testing.T) {
	f := newFront(t, archeio)
	c := routesClient(nil)
	get(t, c, f, "/v2/a/manifests/"+ref(1))
	get(t, c, f, "/v2/a/manifests/"+ref(2))
	if fr := f.atFront.Load(); fr != 2 {
		t.Errorf("%d requests at the front, want 2", fr)
	}
}

// A manifest the learned location does not have (404): the front is asked
// again, redirects to that very URL, and the kept 404 is the answer,
// without asking the backend twice; the route stands.
func TestRegistryRoutesNotFoundKept(t *testing.T) {
	f := newFront(t, func(b string, r *http.Request) string { return archeio(b, r) + "?rid=0a" })
	c := routesClient(&transport.RegistryRoutes{})
	f.answer(backendPath+"a/manifests/"+ref(99), http.StatusNotFound)
	get(t, c, f, "/v2/a/manifests/"+ref(1))
	if status, _ := get(t, c, f, "/v2/a/manifests/"+ref(99)); status != http.StatusNotFound {
		t.Errorf("a missing manifest: %d", status)
	}
	get(t, c, f, "/v2/a/manifests/"+ref(2))
	if fr, b, gone := f.atFront.Load(), f.atBack.Load(), f.requested(backendPath+"a/manifests/"+ref(99)); fr != 2 || b != 3 || gone != 1 {
		t.Errorf("%d requests at the front, %d at the backend (%d for the missing one); want 2, 3 and 1", fr, b, gone)
	}
}

// A learned location that fails (500): the request goes to the front
// again and follows its answer; the route is forgotten, and the next
// request of the kind probes again.
func TestRegistryRoutesServerErrorForgets(t *testing.T) {
	f := newFront(t, archeio)
	c := routesClient(&transport.RegistryRoutes{})
	get(t, c, f, "/v2/a/manifests/"+ref(1))
	f.answer(backendPath+"a/manifests/"+ref(2), http.StatusInternalServerError)
	if status, _ := get(t, c, f, "/v2/a/manifests/"+ref(2)); status != http.StatusInternalServerError {
		t.Errorf("a failing backend: %d", status)
	}
	f.answer(backendPath+"a/manifests/"+ref(2), 0)
	get(t, c, f, "/v2/a/manifests/"+ref(3)) // probes again
	get(t, c, f, "/v2/a/manifests/"+ref(4)) // learned anew
	// front: v1, v2 (fallback), v3; backend: v1, v2 direct, v2 followed, v3, v4.
	if fr, b := f.atFront.Load(), f.atBack.Load(); fr != 3 || b != 5 {
		t.Errorf("%d requests at the front, %d at the backend; want 3 and 5", fr, b)
	}
}

// A repository that moves after the host's route was learned: the old
// backend answers 404 for it, the front redirects it to another backend;
// the client follows there, and the route of the kind is forgotten.
func TestRegistryRoutesMovedRepository(t *testing.T) {
	var moved atomic.Bool
	var atOther atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atOther.Add(1)
		fmt.Fprint(w, r.URL.Path)
	}))
	defer other.Close()
	f := newFront(t, func(b string, r *http.Request) string {
		if moved.Load() && strings.HasPrefix(r.URL.Path, "/v2/a/") {
			return archeio(other.URL, r)
		}
		return archeio(b, r)
	})
	c := routesClient(&transport.RegistryRoutes{})
	get(t, c, f, "/v2/a/manifests/"+ref(1))
	get(t, c, f, "/v2/a/manifests/"+sig(10))
	moved.Store(true)
	f.answer(backendPath+"a/manifests/"+ref(2), http.StatusNotFound)
	if status, body := get(t, c, f, "/v2/a/manifests/"+ref(2)); status != http.StatusOK || !strings.HasSuffix(body, "/a/manifests/"+ref(2)) {
		t.Errorf("after the move: %d %q", status, body)
	}
	get(t, c, f, "/v2/b/manifests/"+ref(3))  // the referrers tags' route forgotten: the front again, learned anew
	get(t, c, f, "/v2/b/manifests/"+ref(4))  // direct
	get(t, c, f, "/v2/b/manifests/"+sig(11)) // the cosign tags' route stands: direct
	// front: v1, .sig, v2 (fallback), v3; old backend: v1, .sig, v2 (404), v3, v4, .sig b; new: v2.
	if fr, b, o := f.atFront.Load(), f.atBack.Load(), atOther.Load(); fr != 4 || b != 6 || o != 1 {
		t.Errorf("%d requests at the front, %d at the old backend, %d at the new; want 4, 6 and 1", fr, b, o)
	}
}

// A request sent directly that gets no answer in its time fails as it
// is: the front is not asked for a second wait at the same server, and
// the kind's route is forgotten (the next request asks the front).
func TestRegistryRoutesNoAnswerNotAskedTwice(t *testing.T) {
	const front, backend = "https://front.example", "https://backend.example"
	var atFront, atBackend int
	send := func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "backend.example" {
			atBackend++
			return nil, fmt.Errorf("GET %s: %w within 30s", r.URL, transport.ErrNoAnswer)
		}
		atFront++
		loc := backend + backendPath + strings.TrimPrefix(r.URL.Path, "/v2/")
		return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: http.Header{"Location": {loc}}, Body: http.NoBody, Request: r}, nil
	}
	routes := &transport.RegistryRoutes{}
	do := func(n int) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, front+"/v2/a/manifests/"+sig(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		return routes.RoundTrip(req, send)
	}
	if resp, err := do(1); err != nil || resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("probe: %v, %v", resp, err)
	}
	if _, err := do(2); !errors.Is(err, transport.ErrNoAnswer) {
		t.Fatalf("direct, no answer: %v", err)
	}
	if atFront != 1 || atBackend != 1 {
		t.Errorf("%d requests at the front, %d at the backend; want 1 and 1", atFront, atBackend)
	}
	if resp, err := do(3); err != nil || resp.StatusCode != http.StatusTemporaryRedirect || atFront != 2 {
		t.Errorf("after it: %v, %v, %d at the front (the route forgotten: want the front asked)", resp, err, atFront)
	}
}

// A front whose blob locations only look like a rewrite (a location
// signed for one blob, the signature in its query, as object storage's
// signed URLs are): a learned route that fails is forgotten, and after a
// second failure blobs are sent to the front as asked for the rest of the
// run, at the cost of two requests more, not one per blob.
func TestRegistryRoutesSignedLocationsGiveUp(t *testing.T) {
	var atFront, refused atomic.Int64
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		digest := path.Base(r.URL.Path)
		if r.URL.Query().Get("sig") != "for-"+digest {
			refused.Add(1)
			http.Error(w, "signature does not match", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	defer storage.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atFront.Add(1)
		_, digest, _ := strings.Cut(r.URL.Path, "/blobs/")
		http.Redirect(w, r, storage.URL+"/blobs/"+digest+"?sig=for-"+digest, http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	c := routesClient(&transport.RegistryRoutes{})
	const blobs = 10
	for i := range blobs {
		digest := fmt.Sprintf("sha256:%064x", i)
		resp, err := c.Get(front.URL + "/v2/a/blobs/" + digest)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(string(body), digest) {
			t.Errorf("blob %d: %d %q", i, resp.StatusCode, body)
		}
	}
	// Each blob is asked at the front once (directly, then the front,
	// for those whose learned location was refused).
	if r, f := refused.Load(), atFront.Load(); r != maxFailures || f != blobs {
		t.Errorf("%d refused direct requests, %d at the front; want %d and %d", r, f, maxFailures, blobs)
	}
}

// maxFailures is transport's maxRouteFailures.
const maxFailures = 2

// A direct request answered (not 2xx) while its context ends is not
// mistaken for one that had no answer: an answer or an error comes back,
// never neither.
func TestRegistryRoutesAnsweredWhileCancelled(t *testing.T) {
	const front, backend = "https://front.example", "https://backend.example"
	ctx, cancel := context.WithCancel(context.Background())
	send := func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "backend.example" {
			cancel()
			return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Request: r}, nil
		}
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
		loc := backend + backendPath + strings.TrimPrefix(r.URL.Path, "/v2/")
		return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: http.Header{"Location": {loc}}, Body: http.NoBody, Request: r}, nil
	}
	routes := &transport.RegistryRoutes{}
	for n := range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, front+"/v2/a/manifests/"+sig(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := routes.RoundTrip(req, send)
		if resp == nil && err == nil {
			t.Fatalf("request %d: neither an answer nor an error", n)
		}
	}
}
