package evidence

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
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
