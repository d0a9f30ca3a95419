package airgap_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/airgap"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/trust"
)

var (
	imageKind = []artifacts.Kind{artifacts.KindImage}
	blobKinds = []artifacts.Kind{artifacts.KindBinary, artifacts.KindTarball}
)

// Fetches into the same directory add to the pack (the README's
// air-gapped recipe); the OCI layout names each image name:tag.
func TestFetchAddsToThePackOfTheSameRelease(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true})
	dir := t.TempDir()
	s := sessions.New(t, sessions.Config(w))
	tuf := &trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}
	for _, sel := range []audit.Selection{
		{Kinds: blobKinds, Platforms: []artifacts.Platform{{OS: "linux", Arch: "amd64"}}},
		{Kinds: imageKind},
	} {
		rel, err := sel.Apply(w.Release)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := airgap.FetchRelease(context.Background(), s, rel, airgap.Request{Out: dir, TUF: tuf, WithImages: sel.Kinds[0] == artifacts.KindImage}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pack.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	kinds := map[artifacts.Kind]int{}
	for _, e := range p.Manifest.Artifacts {
		kinds[e.Kind]++
	}
	if kinds[artifacts.KindImage] != 6 || kinds[artifacts.KindBinary] == 0 || !p.Manifest.Complete || p.Manifest.Images != "oci" {
		t.Errorf("the pack holds %v (complete %v, images %q)", kinds, p.Manifest.Complete, p.Manifest.Images)
	}
	idx, err := os.ReadFile(filepath.Join(dir, "oci", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var layout v1.IndexManifest
	if err := json.Unmarshal(idx, &layout); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range layout.Manifests {
		names = append(names, m.Annotations[pack.RefNameAnnotation])
	}
	slices.Sort(names)
	want := []string{"kube-apiserver-amd64:v1.24.17", "kube-apiserver-arm64:v1.24.17", "kube-apiserver:v1.24.17",
		"kube-proxy-amd64:v1.24.17", "kube-proxy-arm64:v1.24.17", "kube-proxy:v1.24.17"}
	if !slices.Equal(names, want) {
		t.Errorf("layout names %q, want %q", names, want)
	}
	// Fetching the images again replaces their entries.
	rel, _ := audit.Selection{Kinds: imageKind}.Apply(w.Release)
	if _, err := airgap.FetchRelease(context.Background(), s, rel, airgap.Request{Out: dir, TUF: tuf, WithImages: true}); err != nil {
		t.Fatal(err)
	}
	if idx2, _ := os.ReadFile(filepath.Join(dir, "oci", "index.json")); len(idx2) != len(idx) {
		t.Errorf("a second fetch of the images changed the layout's index:\n%s\n%s", idx, idx2)
	}
}
