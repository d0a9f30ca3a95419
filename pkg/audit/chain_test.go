package audit_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// signal is closed once, when what it stands for has happened.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }
func (s *signal) fire()  { s.once.Do(func() { close(s.ch) }) }
func (s *signal) fired() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

// hold keeps r until s fires or the client gives up on r (its timeout:
// then the verdict says so, and the test fails).
func hold(r *http.Request, s *signal) {
	select {
	case <-s.ch:
	case <-r.Context().Done():
	}
}

// TestImageChainOverlaps holds requests until the requests they must not
// wait for have arrived: a step of the image chain that waited for
// another would then wait for its own timeout, and its artifact fail.
// Counted in dependent round trips, the image chain is four: the SBOM
// (the registry's ping and the download site's redirect meanwhile), the
// tag, the .sig manifests (the configuration and the release index
// meanwhile), the payloads (the log lookup meanwhile).
//
//   - The release's SBOM is answered only once the registry has been
//     pinged and the download site asked below /release/.
//   - No blob of a repository (configuration, signature payload) is
//     answered before the .sig manifest of that repository was asked
//     for: the configuration is read beside the signatures.
//   - No blob is answered before the log was asked: a signature is
//     looked up from its .sig layer's descriptor, not from its payload.
func TestImageChainOverlaps(t *testing.T) {
	arm64 := []artifacts.Platform{{OS: "linux", Arch: "arm64"}}
	images := []artifacts.Kind{artifacts.KindImage}
	for _, tc := range []struct {
		name  string
		sel   audit.Selection
		files bool
	}{
		// The images alone: no SBOM is read, and every log lookup is an
		// image signature's.
		{"images", audit.Selection{Kinds: images}, false},
		// Files and images of a platform, listed from the SBOM.
		{"platform", audit.Selection{Platforms: arm64}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{Kinds: tc.sel.Kinds, Platforms: tc.sel.Platforms})
			pinged, siteAsked, logAsked := newSignal(), newSignal(), newSignal()
			var mu sync.Mutex
			sigAsked := map[string]*signal{} // by repository
			signed := func(repo string) *signal {
				mu.Lock()
				defer mu.Unlock()
				if sigAsked[repo] == nil {
					sigAsked[repo] = newSignal()
				}
				return sigAsked[repo]
			}
			w.OnRequest("registry", func(r *http.Request) {
				p := r.URL.Path
				repo, _, _ := strings.Cut(strings.TrimPrefix(p, "/v2/"), "/")
				switch {
				case p == "/v2/":
					pinged.fire()
				case strings.Contains(p, "/manifests/sha256-") && strings.HasSuffix(p, ".sig"):
					signed(repo).fire()
				case !tc.files && strings.Contains(p, "/blobs/"):
					hold(r, signed(repo))
					hold(r, logAsked)
				}
			})
			w.OnRequest("rekor", func(*http.Request) { logAsked.fire() })
			w.OnRequest("site", func(r *http.Request) {
				switch {
				case strings.HasPrefix(r.URL.Path, "/release/"):
					siteAsked.fire()
				case strings.HasPrefix(r.URL.Path, "/sbom/"):
					hold(r, pinged)
					if tc.files {
						hold(r, siteAsked)
					}
				}
			})
			res, err := sessions.New(t, sessions.Config(w)).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: tc.sel}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res[0].Verdicts {
				if v.Status != verify.StatusVerified {
					t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
				}
			}
			if !pinged.fired() || !logAsked.fired() || (tc.files && !siteAsked.fired()) {
				t.Errorf("pinged %v, log asked %v, site asked %v", pinged.fired(), logAsked.fired(), siteAsked.fired())
			}
		})
	}
}
