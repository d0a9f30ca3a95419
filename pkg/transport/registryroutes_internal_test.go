package transport

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// What a redirect answer teaches: only a pure rewrite (a prefix before the
// path after /v2/; for blobs also a prefix before the digest) to https or
// loopback http, without credentials or fragment; its query is carried.
func TestLearnRewrite(t *testing.T) {
	const (
		sigTag   = "sha256-" + hex64 + ".sig"
		otherSig = "sha256-" + hex64b + ".sig"
		tag      = "https://registry.k8s.io/v2/kube-proxy/manifests/" + sigTag
		digest   = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		blob     = "https://registry.k8s.io/v2/kube-proxy/blobs/" + digest
		ar       = "https://us-west1-docker.pkg.dev/v2/k8s-artifacts-prod/images/"
		s3       = "https://prod-registry-k8s-io-us-east-2.s3.dualstack.us-east-2.amazonaws.com/containers/images/"
	)
	cases := []struct {
		asked    string
		status   int
		location string
		// where the rewrite sends another request of the kind, "" none learned.
		other, want string
	}{
		{tag, http.StatusTemporaryRedirect, ar + "kube-proxy/manifests/" + sigTag,
			"https://registry.k8s.io/v2/pause/manifests/" + otherSig, ar + "pause/manifests/" + otherSig},
		{tag, http.StatusTemporaryRedirect, ar + "kube-proxy/manifests/" + sigTag + "?rid=0a1b",
			"https://registry.k8s.io/v2/pause/manifests/" + otherSig, ar + "pause/manifests/" + otherSig + "?rid=0a1b"},
		{"http://127.0.0.1:4000/v2/kube-proxy/manifests/" + sigTag, http.StatusFound, "http://127.0.0.1:5000/v2/x/kube-proxy/manifests/" + sigTag,
			"http://127.0.0.1:4000/v2/pause/manifests/" + otherSig, "http://127.0.0.1:5000/v2/x/pause/manifests/" + otherSig},
		// A remote front's route to this machine is never learned.
		{tag, http.StatusFound, "http://127.0.0.1:5000/v2/x/kube-proxy/manifests/" + sigTag, "", ""},
		{tag, http.StatusFound, "https://127.0.0.1:5000/v2/x/kube-proxy/manifests/" + sigTag, "", ""},
		{blob, http.StatusTemporaryRedirect, s3 + digest + "?rid=0a1b",
			"https://registry.k8s.io/v2/pause/blobs/sha256:ff", s3 + "sha256:ff?rid=0a1b"},
		{blob, http.StatusTemporaryRedirect, ar + "kube-proxy/blobs/" + digest,
			"https://registry.k8s.io/v2/pause/blobs/sha256:ff", ar + "pause/blobs/sha256:ff"},
		// Not pure, or not to be followed directly.
		{tag, http.StatusTemporaryRedirect, "http://us-west1-docker.pkg.dev/v2/k8s-artifacts-prod/images/kube-proxy/manifests/" + sigTag, "", ""},
		{tag, http.StatusTemporaryRedirect, "https://user:pw@us-west1-docker.pkg.dev/v2/k8s-artifacts-prod/images/kube-proxy/manifests/" + sigTag, "", ""},
		{tag, http.StatusTemporaryRedirect, ar + "kube-proxy/manifests/" + sigTag + "#x", "", ""},
		{tag, http.StatusTemporaryRedirect, ar + "kube-apiserver/manifests/" + sigTag, "", ""},
		{tag, http.StatusTemporaryRedirect, ar + "other-kube-proxy/manifests/" + sigTag, "", ""},
		{tag, http.StatusTemporaryRedirect, ar + "kube-proxy/manifests/" + otherSig, "", ""},
		{tag, http.StatusTemporaryRedirect, s3 + sigTag, "", ""}, // a digest form for a manifest
		{tag, http.StatusOK, ar + "kube-proxy/manifests/" + sigTag, "", ""},
		{tag, http.StatusNotFound, ar + "kube-proxy/manifests/" + sigTag, "", ""},
		{blob, http.StatusTemporaryRedirect, s3 + "sha256:ff", "", ""},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(http.MethodGet, tc.asked, nil)
		if err != nil {
			t.Fatal(err)
		}
		key, rest, last, ok := routedRequest(req)
		if !ok {
			t.Fatalf("%s: not routed", tc.asked)
		}
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Location": {tc.location}}}
		w := learn(req, key.kind, rest, last, resp)
		got := ""
		if w != nil {
			other, err := http.NewRequest(http.MethodGet, tc.other, nil)
			if err != nil {
				t.Fatal(err)
			}
			okey, orest, olast, ok := routedRequest(other)
			if !ok || okey.kind != key.kind {
				t.Fatalf("%s: %v %v", tc.other, okey, ok)
			}
			got = w.url(orest, olast)
		}
		if got != tc.want {
			t.Errorf("%d %s to %s: %s sent to %q, want %q", tc.status, tc.asked, tc.location, tc.other, got, tc.want)
		}
	}
}

const (
	hex64  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	hex64b = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// The kinds learned apart, and the requests never routed.
func TestRoutedRequest(t *testing.T) {
	cases := []struct {
		method, url string
		kind        routeKind
		ok          bool
	}{
		{http.MethodGet, "https://r.example/v2/a/b/manifests/v1", 0, false}, // a name: the front's to resolve
		{http.MethodHead, "https://r.example/v2/a/manifests/sha256:0a", routeDigest, true},
		{http.MethodGet, "https://r.example/v2/a/manifests/sha256-" + hex64 + ".sig", routeCosignTag, true},
		{http.MethodGet, "https://r.example/v2/a/manifests/sha256-" + hex64 + ".att", routeCosignTag, true},
		{http.MethodGet, "https://r.example/v2/a/manifests/sha256-" + hex64, routeReferrersTag, true}, // the referrers tag schema
		{http.MethodGet, "https://r.example/v2/a/manifests/sha256-0a", 0, false},                      // a name like one
		{http.MethodGet, "https://r.example/v2/a/manifests/sha256-0a.sig", 0, false},
		{http.MethodGet, "https://r.example/v2/a/manifests/sha256-" + strings.ToUpper(hex64), 0, false},
		{http.MethodGet, "https://r.example/v2/a/blobs/sha256:0a", routeBlob, true},
		{http.MethodGet, "https://r.example/v2/a/manifests/v1?x=1", 0, false},
		{http.MethodPut, "https://r.example/v2/a/manifests/v1", 0, false},
		{http.MethodGet, "https://r.example/v2/a/blobs/uploads/", 0, false},
		{http.MethodGet, "https://r.example/v2/a/referrers/sha256:0a", 0, false},
		{http.MethodGet, "https://r.example/v2/", 0, false},
		{http.MethodGet, "https://r.example/token", 0, false},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		key, _, _, ok := routedRequest(req)
		if ok != tc.ok || ok && key.kind != tc.kind {
			t.Errorf("%s %s: kind %d routed %v, want %d %v", tc.method, tc.url, key.kind, ok, tc.kind, tc.ok)
		}
	}
}

// A request of a kind whose probe is out waits for the probe's answer, and
// then goes where it learned, when the front redirected another kind as a
// rewrite; on a host that redirected nothing yet, it is sent to the front
// at once.
func TestRegistryRoutesWaitForProbe(t *testing.T) {
	const (
		front   = "https://registry.k8s.io"
		storage = "https://s3.example/containers/images/"
		upper   = "https://ar.example/v2/k8s-artifacts-prod/images/"
		blobA   = front + "/v2/pause/blobs/sha256:" + hex64
		blobB   = front + "/v2/pause/blobs/sha256:" + hex64b
	)
	for _, redirecting := range []bool{true, false} {
		t.Run(fmt.Sprintf("redirecting %v", redirecting), func(t *testing.T) {
			release := make(chan struct{})
			probeOut := make(chan struct{})
			var mu sync.Mutex
			sent := map[string]int{}
			send := func(req *http.Request) (*http.Response, error) {
				u := req.URL.String()
				mu.Lock()
				sent[u]++
				mu.Unlock()
				if !strings.HasPrefix(u, front) {
					return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
				}
				rest := strings.TrimPrefix(req.URL.Path, "/v2/")
				loc := upper + rest
				if _, digest, ok := strings.Cut(rest, "/blobs/"); ok {
					loc = storage + digest
				}
				if u == blobA {
					close(probeOut)
					<-release
				}
				return &http.Response{StatusCode: http.StatusTemporaryRedirect, Body: http.NoBody, Header: http.Header{"Location": {loc}}}, nil
			}
			m := &RegistryRoutes{}
			waited := make(chan struct{})
			m.waiting = func() { close(waited) }
			do := func(u string) {
				req, err := http.NewRequest(http.MethodGet, u, nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := m.RoundTrip(req, send)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
			if redirecting {
				do(front + "/v2/pause/manifests/sha256:" + hex64) // learned: a manifest by digest
			}
			var wg sync.WaitGroup
			wg.Go(func() { do(blobA) })
			<-probeOut
			wg.Go(func() { do(blobB) })
			// Blob B either waits for the probe or is sent to the front.
		decided:
			for {
				select {
				case <-waited:
					break decided
				default:
				}
				mu.Lock()
				n := sent[blobB]
				mu.Unlock()
				if n > 0 {
					break
				}
				runtime.Gosched()
			}
			close(release)
			wg.Wait()
			direct := storage + "sha256:" + hex64b
			switch {
			case redirecting && (sent[blobB] != 0 || sent[direct] != 1):
				t.Errorf("blob B: %d at the front, %d direct; want 0 and 1 (it waits for the probe)", sent[blobB], sent[direct])
			case !redirecting && sent[blobB] != 1:
				t.Errorf("blob B: %d at the front, want 1 (sent as asked on a host that redirected nothing)", sent[blobB])
			}
		})
	}
}
