package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// A registry is pinged once per run, not once per repository; its lack of
// the referrers API is learned from its first answer, and a registry with
// the API is asked every time.
func TestRegistryMemo(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			tr := newTestRegistry(t, registry.WithReferrersSupport(api))
			const repos = 5
			var digests []string
			for i := range repos {
				digests = append(digests, digestOf(t, pushImage(t, tr, fmt.Sprintf("repo%d:v1", i))).String())
			}
			var pings, referrers atomic.Int64
			tr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case r.URL.Path == "/v2/":
					pings.Add(1)
				case strings.Contains(r.URL.Path, "/referrers/"):
					referrers.Add(1)
				}
				return false
			})
			tr.hellos.Store(0) // the pushes' pings
			s := session(t, testFetcher())
			for i, d := range digests {
				repo := fmt.Sprintf("%s/repo%d", tr.host, i)
				if _, err := s.Resolve(context.Background(), repo+"@"+d); err != nil {
					t.Fatal(err)
				}
				if sigs, err := s.Signatures(context.Background(), repo, d); err != nil || len(sigs) != 0 {
					t.Fatalf("%s: %v, %v", repo, sigs, err)
				}
			}
			if n := pings.Load(); n != 1 {
				t.Errorf("%d pings for %d repositories, want 1", n, repos)
			}
			// go-containerregistry pings over https first: this
			// registry's plain-http answer to it is learned once too.
			if n := tr.hellos.Load(); n != 1 {
				t.Errorf("%d https attempts for %d repositories, want 1", n, repos)
			}
			want := int64(1)
			if api {
				want = repos
			}
			if n := referrers.Load(); n != want {
				t.Errorf("%d referrers requests, want %d", n, want)
			}
		})
	}
}

// An unknown repository (NAME_UNKNOWN) says nothing about the referrers
// API: the next request asks again.
func TestRegistryMemoNameUnknown(t *testing.T) {
	var m registryMemo
	var sent atomic.Int64
	send := func(req *http.Request) (*http.Response, error) {
		sent.Add(1)
		a := &memoAnswer{ok: true, status: http.StatusNotFound, header: http.Header{}, body: []byte(`{"errors":[{"code":"NAME_UNKNOWN"}]}`)}
		return a.replay(req), nil
	}
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, "https://registry.example/v2/nope/referrers/sha256:00", nil)
		resp, err := m.referrers(req, send)
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatal(resp, err)
		}
	}
	if n := sent.Load(); n != 3 {
		t.Errorf("%d sent, want 3", n)
	}
}

// go-containerregistry follows a registry's redirects without a limit: a
// registry redirecting a manifest to itself is cut after
// transport.MaxRedirects hops, not followed until the deadline.
func TestRegistryRedirectLoopIsCut(t *testing.T) {
	tr := newTestRegistry(t)
	d := digestOf(t, pushImage(t, tr, "loop:v1")).String()
	var hops atomic.Int64
	tr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		hops.Add(1)
		http.Redirect(w, r, r.URL.Path+"x", http.StatusTemporaryRedirect)
		return true
	})
	// (The context only ends the test if the loop is followed on.)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := session(t, testFetcher()).Resolve(ctx, tr.host+"/loop@"+d)
	if !errors.Is(err, transport.ErrTooManyRedirects) {
		t.Errorf("resolve: %v", err)
	}
	t.Logf("%d redirects answered: %v", hops.Load(), err)
}

// A registry error names the URL it failed on without its query (a signed
// storage URL carries its signature there).
func TestRegistryErrorsRedactQueries(t *testing.T) {
	inner := fmt.Errorf(`Get "https://storage.example/blob?X-Goog-Signature=secret&rid=1": %w`, io.ErrUnexpectedEOF)
	err := registryError("blob", inner)
	if strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), `"https://storage.example/blob?REDACTED"`) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("%v", err)
	}
}
