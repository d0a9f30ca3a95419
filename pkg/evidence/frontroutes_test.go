package evidence_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// A signature manifest the world's regional backend lacks
// (testworld.FaultSigLostInRegion, kubernetes/registry.k8s.io#324), read
// by digest once the front's redirect of manifests by digest is learned:
// the regional backend is asked directly and answers 404, the front is
// asked again and redirects to that very URL, so the 404 is the answer
// without asking the backend twice; the route stands for the next
// manifest by digest.
func TestLostSignatureManifestAskedOnce(t *testing.T) {
	const lost = "kube-proxy-amd64"
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindImage},
		Faults: []testworld.Fault{{Kind: testworld.FaultSigLostInRegion, Target: lost}}})
	sigTag, err := name.NewTag(w.Registry+"/"+lost+":"+strings.Replace(w.Images[lost].Digest.String(), ":", "-", 1)+".sig", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := remote.Head(sigTag) // by tag: the canonical backend has it
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	asked := map[string]int{}
	for _, server := range []string{"registry", "regional"} {
		w.OnRequest(server, func(r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/sha256:") {
				mu.Lock()
				asked[server+" "+testworld.RegistryPath(r.URL.Path)]++
				mu.Unlock()
			}
		})
	}
	f, err := evidence.NewFetcher(evidence.FetcherConfig{HTTP: transport.New()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.ImageSession()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	read := func(repo, digest string) error {
		_, err := s.Image(ctx, w.Registry+"/"+repo, digest)
		return err
	}
	if err := read(lost, w.Images[lost].Digest.String()); err != nil { // learns the route
		t.Fatal(err)
	}
	if err := read(lost, sig.Digest.String()); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("the lost signature manifest: %v, want not found", err)
	}
	other := "kube-proxy-arm64"
	if err := read(other, w.Images[other].Digest.String()); err != nil {
		t.Fatal(err)
	}
	lostPath := "/v2/" + lost + "/manifests/" + sig.Digest.String()
	otherPath := "/v2/" + other + "/manifests/" + w.Images[other].Digest.String()
	mu.Lock()
	defer mu.Unlock()
	if asked["regional "+lostPath] != 1 || asked["registry "+lostPath] != 1 || asked["registry "+otherPath] != 0 || asked["regional "+otherPath] != 1 {
		t.Errorf("requests by digest: %v; want the lost one once at the front and once at the regional backend, the next one at the backend only", asked)
	}
}
