package audit_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

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

// wantVerified fails t for every verdict that is not verified.
func wantVerified(t *testing.T, vs []verify.Verdict) {
	t.Helper()
	for _, v := range vs {
		if v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// verifyRun verifies w's release in s as the CLI does (listed from its
// SBOM, the warm-up meanwhile) and wants every verdict verified.
func verifyRun(t *testing.T, s *audit.Session, w *testworld.World) {
	t.Helper()
	res, err := s.Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantVerified(t, res[0].Verdicts)
}

// TestImageChainOverlaps holds requests until the requests they must not
// wait for have arrived: a step of the image chain that waited for
// another would then wait for its own timeout, and its artifact fail.
// Counted in dependent round trips, the image chain is three: the SBOM
// (the registry's ping and the download site's redirect meanwhile), the
// .sig manifests of the digest the release's documents give the tag (the
// tag itself meanwhile, then its configuration and release index), the
// payloads (the log lookup meanwhile).
//
//   - The release's SBOM is answered only once the registry has been
//     pinged, asked for an image's referrers (the API, and the referrers
//     tag) and the download site asked below /release/.
//   - The release tag of an image is answered only once the .sig
//     manifest of its repository was asked for: the signatures are looked
//     up beside the tag, not after it.
//   - No blob of a repository (configuration, signature payload) is
//     answered before the .sig manifest of that repository was asked
//     for: the configuration is read beside the signatures.
//   - No blob is answered before the log was asked: a signature is
//     looked up from its .sig layer's descriptor, not from its payload.
//   - Whether a release file is there (a HEAD) is answered only once
//     the log was asked: a file's signature is looked up beside that
//     question, not after it.
func TestImageChainOverlaps(t *testing.T) {
	arm64 := []artifacts.Platform{{OS: "linux", Arch: "arm64"}}
	images := []artifacts.Kind{artifacts.KindImage}
	for _, tc := range []struct {
		name           string
		sel            audit.Selection
		files, noImage bool
	}{
		// The images alone: no SBOM is read, and every log lookup is an
		// image signature's.
		{"images", audit.Selection{Kinds: images}, false, false},
		// Files and images of a platform, listed from the SBOM.
		{"platform", audit.Selection{Platforms: arm64}, true, false},
		// The files alone: every log lookup is a file signature's.
		{"files", audit.Selection{Kinds: []artifacts.Kind{artifacts.KindBinary, artifacts.KindTarball}}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{Kinds: tc.sel.Kinds, Platforms: tc.sel.Platforms})
			pinged, siteAsked, logAsked := newSignal(), newSignal(), newSignal()
			referrersAPI, referrersTag := newSignal(), newSignal()
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
			// The registry's requests wherever they reach it: its front, its
			// backends, object storage (whose paths name only a blob's
			// digest: blobRepositories names its repository).
			blobRepo := blobRepositories(t, w)
			registry := func(r *http.Request) {
				p := testworld.RegistryPath(r.URL.Path)
				repo, _, _ := strings.Cut(strings.TrimPrefix(p, "/v2/"), "/")
				if digest, ok := strings.CutPrefix(p, "/containers/images/"); ok {
					repo, p = blobRepo[digest], "/v2/"+blobRepo[digest]+"/blobs/"+digest
				}
				switch {
				case p == "/v2/":
					pinged.fire()
				case strings.Contains(p, "/referrers/"):
					referrersAPI.fire()
				case strings.Contains(p, "/manifests/sha256-") && !strings.Contains(p, "."):
					referrersTag.fire()
				case strings.Contains(p, "/manifests/sha256-") && strings.HasSuffix(p, ".sig"):
					signed(repo).fire()
				case strings.HasSuffix(p, "/manifests/"+w.Version.String()):
					hold(r, signed(repo))
				case !tc.files && strings.Contains(p, "/blobs/"):
					hold(r, signed(repo))
					hold(r, logAsked)
				}
			}
			for _, server := range []string{"registry", "backend", "regional", "storage"} {
				w.OnRequest(server, registry)
			}
			w.OnRequest("rekor", func(*http.Request) { logAsked.fire() })
			w.OnRequest("cdn", func(r *http.Request) {
				if r.Method == http.MethodHead {
					hold(r, logAsked)
				}
			})
			w.OnRequest("site", func(r *http.Request) {
				switch {
				case r.Method == http.MethodHead:
					hold(r, logAsked)
				case strings.HasPrefix(r.URL.Path, "/release/"):
					siteAsked.fire()
				case strings.HasPrefix(r.URL.Path, "/sbom/"):
					if !tc.noImage {
						hold(r, pinged)
						hold(r, referrersAPI)
						hold(r, referrersTag)
					}
					if tc.files {
						hold(r, siteAsked)
					}
				}
			})
			res, err := sessions.New(t, sessions.Config(w)).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: tc.sel}, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantVerified(t, res[0].Verdicts)
			if !pinged.fired() && !tc.noImage || !logAsked.fired() || (tc.files && !siteAsked.fired()) {
				t.Errorf("pinged %v, log asked %v, site asked %v", pinged.fired(), logAsked.fired(), siteAsked.fired())
			}
		})
	}
}

// The signatures of an image are looked up beside its tag for the digest
// the release's documents give it; when the registry serves another (the
// previous release's image at the tag), those are dropped and the evidence
// holds the signatures of the digest served, as if looked up after it.
func TestEarlySignaturesOfTheServedDigest(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Faults: []testworld.Fault{{Kind: testworld.FaultRollback, Target: "kube-apiserver-amd64"}}})
	s := sessions.New(t, sessions.Config(w))
	listing, err := s.LoadRelease(context.Background(), w.Version.String(), audit.Selection{Kinds: []artifacts.Kind{artifacts.KindImage}})
	if err != nil {
		t.Fatal(err)
	}
	judged, _, err := s.JudgeRelease(context.Background(), listing.Release)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, j := range judged {
		if j.Artifact.ID() != "image kube-apiserver linux/amd64" {
			continue
		}
		found = true
		documented := j.Artifact.SumFrom("sha256", artifacts.SumCatalog)
		var served string
		for _, c := range j.Evidence.Digests {
			if c.Channel == verify.ChannelRegistry {
				served = c.Digest.Hex
			}
		}
		if documented == "" || served == "" || documented == served {
			t.Fatalf("documented %q, served %q: the fault should serve another digest than the catalog's", documented, served)
		}
		if len(j.Evidence.Signatures) == 0 {
			t.Fatal("no signatures: the previous release's image is signed")
		}
		for _, se := range j.Evidence.Signatures {
			for _, ref := range se.References {
				if strings.HasSuffix(ref, ".sig") && !strings.HasSuffix(ref, ":sha256-"+served+".sig") {
					t.Errorf("served sha256:%s, the evidence holds %s", served, ref)
				}
			}
		}
	}
	if !found {
		t.Fatal("no kube-apiserver linux/amd64 judged")
	}
}

// blobRepositories maps the digest of each image configuration and
// signature payload of the world's newest release to the repository it
// was published in: the configuration's image's, the .sig tag's.
func blobRepositories(t *testing.T, w *testworld.World) map[string]string {
	t.Helper()
	out := map[string]string{}
	opts := []remote.Option{remote.WithContext(context.Background())}
	for repo, im := range w.Images {
		for _, other := range w.Images {
			if other.Repository != repo && !strings.HasPrefix(other.Repository, repo+"-") {
				continue // not signed in repo
			}
			sig, err := name.NewTag(w.Registry+"/"+repo+":"+strings.Replace(other.Digest.String(), ":", "-", 1)+".sig", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if img, err := remote.Image(sig, opts...); err == nil {
				m, err := img.Manifest()
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range m.Layers {
					out[l.Digest.String()] = repo
				}
			}
		}
		if im.Platform == "" {
			continue // an index: no configuration
		}
		d, err := name.NewDigest(w.Registry+"/"+repo+"@"+im.Digest.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(d, opts...)
		if err != nil {
			t.Fatal(err)
		}
		config, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		out[config.String()] = repo
	}
	return out
}
