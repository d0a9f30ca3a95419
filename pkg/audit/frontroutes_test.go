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
)

// registryCounter counts the GET requests the servers of the world's
// registry see, by server, repository and kind (tag, cosign tag, digest,
// blob), in the front's terms; and those of backends and storage that
// lack the front's trace id (rid) in their query.
type registryCounter struct {
	mu    sync.Mutex
	n     map[string]int // "<server> <kind>" and "<server> <repo> <kind>"
	noRID int
	// atFront, if set, sees every request to the front.
	atFront func(*http.Request)
}

func countRegistry(w *testworld.World) *registryCounter {
	c := &registryCounter{n: map[string]int{}}
	for _, server := range []string{"registry", "backend", "regional", "relocated", "storage"} {
		w.OnRequest(server, func(r *http.Request) {
			c.mu.Lock()
			atFront := c.atFront
			c.mu.Unlock()
			if atFront != nil && server == "registry" {
				atFront(r)
			}
			if r.Method != http.MethodGet {
				return
			}
			p := testworld.RegistryPath(r.URL.Path)
			repo, kind := "", ""
			switch before, ref, ok := strings.Cut(p, "/manifests/"); {
			case ok:
				repo, kind = strings.TrimPrefix(before, "/v2/"), "tag"
				switch {
				case strings.HasPrefix(ref, "sha256:"):
					kind = "digest"
				case strings.HasPrefix(ref, "sha256-") && strings.HasSuffix(ref, ".sig"):
					kind = "cosign tag"
				case strings.HasPrefix(ref, "sha256-"):
					kind = "referrers tag"
				}
			case strings.Contains(p, "/blobs/") || strings.HasPrefix(p, "/containers/images/"):
				kind = "blob"
			default:
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.n[server+" "+kind]++
			if repo != "" {
				c.n[server+" "+repo+" "+kind]++
			}
			if server != "registry" && !strings.HasPrefix(r.URL.RawQuery, "rid=") {
				c.noRID++
			}
		})
	}
	return c
}

func (c *registryCounter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// behind is how many GETs of a kind the servers behind the front saw.
func (c *registryCounter) behind(kind string) int {
	return c.get("backend "+kind) + c.get("regional "+kind) + c.get("relocated "+kind) + c.get("storage "+kind)
}

// The registry front redirects every manifest and blob request (as
// registry.k8s.io does): once it has redirected a kind of request named
// by a digest, later requests of that kind go to where it sent them, with
// its trace id (transport.RegistryRoutes); the warm-up during the SBOM
// fetch teaches the cosign tags' route before the images fan out. (The
// referrers tags, which the world's images lack, are asked directly, then
// at the front, which sends them to the very 404: as many at the front as
// behind it.) Without the routes, each request to the front is
// followed to a backend: as many there as at the front. A tag that names
// an image is asked at the front every time: which digest it names is
// the front's to say.
func TestFrontRoutesLearned(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{})
	s := sessions.New(t, sessions.Config(w))
	// The first run: the warm-up taught the cosign tags' route; the first
	// blob request probes the blobs' route, and the others, asked while
	// it is out, wait for its answer (the front already redirected
	// another kind) and go directly. The warm-up's HEAD races the SBOM at
	// no latency: the SBOM is answered once the front has that HEAD (and
	// answers it at once).
	warmed := newSignal()
	w.OnRequest("site", func(r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sbom/") {
			hold(r, warmed)
		}
	})
	c := countRegistry(w)
	c.mu.Lock()
	c.atFront = func(r *http.Request) {
		if r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, ".sig") {
			warmed.fire()
		}
	}
	c.mu.Unlock()
	verifyRun(t, s, w)
	if front, behind := c.get("registry cosign tag"), c.behind("cosign tag"); front != 0 || behind < 55 {
		t.Errorf("cosign tags, first run: %d GETs at the front, %d behind it; want none at the front", front, behind)
	}
	if front, behind := c.get("registry blob"), c.behind("blob"); front > 1 || behind < 135 {
		t.Errorf("blobs, first run: %d GETs at the front, %d behind it; want the probe alone at the front", front, behind)
	}
	checkTags(t, c)
	// A second run of the same session: every route is known (the tags
	// were resolved once for the session).
	c = countRegistry(w)
	verifyRun(t, s, w)
	for _, kind := range []string{"cosign tag", "blob", "digest"} {
		if front := c.get("registry " + kind); front != 0 {
			t.Errorf("%s, second run: %d GETs at the front, %d behind it; want none at the front", kind, front, c.behind(kind))
		}
	}
	if c.behind("blob") < 135 {
		t.Errorf("blobs, second run: %d behind the front", c.behind("blob"))
	}
	if c.noRID != 0 {
		t.Errorf("%d requests behind the front without its trace id", c.noRID)
	}
}

// checkTags: every tag naming an image was asked at the front.
func checkTags(t *testing.T, c *registryCounter) {
	t.Helper()
	if front, behind := c.get("registry tag"), c.behind("tag"); front != behind || front < 30 {
		t.Errorf("tags naming images: %d GETs at the front, %d behind it; want each asked at the front", front, behind)
	}
}

// A signature manifest the regional backend lacks (fetched by digest
// there it answers 404, kubernetes/registry.k8s.io#324): every image
// still verifies, in a first run and in a second with every route learned
// (the run reads .sig manifests by tag, from the canonical backend; the
// 404 by digest is TestLostSignatureManifestAskedOnce's, in
// pkg/evidence).
func TestFrontRoutesSigLostInRegion(t *testing.T) {
	const lost = "kube-proxy-amd64"
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindImage},
		Faults: []testworld.Fault{{Kind: testworld.FaultSigLostInRegion, Target: lost}}})
	s := sessions.New(t, sessions.Config(w))
	rel := []*artifacts.Release{sessions.Selected(t, w)}
	c := countRegistry(w)
	for run := range 2 { // the second with every route learned
		res, err := s.VerifyReleases(context.Background(), rel, audit.VerifyOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res[0].Verdicts) == 0 {
			t.Fatalf("run %d: no verdicts", run)
		}
		wantVerified(t, res[0].Verdicts)
	}
	if n := c.get("regional " + lost + " digest"); n != 0 {
		t.Logf("%d requests by digest for %s at the regional backend", n, lost)
	}
}

// A repository that moves after the routes were learned: the old backend
// answers 500 for it, the client asks the front again, which redirects it
// to the new backend; the run verifies, and the old backend is not asked
// twice for the same request. The session's second run sends the
// repository's .sig manifest request, which it cannot verify without, to
// the route learned in the first.
func TestFrontRoutesMovedRepository(t *testing.T) {
	const moved = "kube-proxy-amd64"
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindImage}})
	s := sessions.New(t, sessions.Config(w))
	rel := []*artifacts.Release{sessions.Selected(t, w)}
	run := func() {
		t.Helper()
		res, err := s.VerifyReleases(context.Background(), rel, audit.VerifyOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res[0].Verdicts) == 0 {
			t.Fatal("no verdicts")
		}
		wantVerified(t, res[0].Verdicts)
	}
	run()
	if err := w.MoveRepository(moved); err != nil {
		t.Fatal(err)
	}
	c := countRegistry(w)
	run()
	key := moved + " cosign tag"
	atOld, asked, atNew := c.get("backend "+key), c.get("registry "+key), c.get("relocated "+key)
	t.Logf("%s's .sig manifest: %d requests to the old backend, %d to the front, %d to the new backend", moved, atOld, asked, atNew)
	if atOld > 1 || asked < 1 || atNew < 1 {
		t.Errorf("%s's .sig manifest: %d requests to the old backend, %d to the front, %d to the new backend; want at most 1, at least 1, at least 1", moved, atOld, asked, atNew)
	}
}
