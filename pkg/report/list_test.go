package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

func testRelease() *artifacts.Release {
	return &artifacts.Release{
		Version: artifacts.Version{Major: 1, Minor: 24, Patch: 8},
		Date:    "2022-11-09",
		Source:  artifacts.SourceCatalog,
		Artifacts: []artifacts.Artifact{
			{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
				Location: "https://dl.k8s.io/release/v1.24.8/bin/linux/amd64/kubectl", Signer: artifacts.BlobSigner, Signing: artifacts.SigningNotExpected},
			{Kind: artifacts.KindTarball, Name: "kubernetes-src.tar.gz",
				Location: "https://dl.k8s.io/release/v1.24.8/kubernetes-src.tar.gz", Signer: artifacts.BlobSigner, Signing: artifacts.SigningNotExpected},
			{Kind: artifacts.KindImage, Name: "kube-proxy",
				Location: "registry.k8s.io/kube-proxy:v1.24.8", Signer: artifacts.ImageSigner, Signing: artifacts.SigningExpected},
			{Kind: artifacts.KindImage, Name: "kube-proxy", Platform: artifacts.Platform{OS: "linux", Arch: "arm64"},
				Location: "registry.k8s.io/kube-proxy-arm64:v1.24.8", Signer: artifacts.ImageSigner, Signing: artifacts.SigningExpected},
		},
		Incidents: []artifacts.Incident{{
			ID: "v1.24.8-wrong-identity", Summary: "Images were signed by the wrong identity.",
			Source: "https://github.com/kubernetes/release/issues/2789", Kinds: []artifacts.Kind{artifacts.KindImage},
		}},
	}
}

var epoch = time.Unix(0, 0)

func listing(r *artifacts.Release, diffs []artifacts.Difference, warnings []string) *Report {
	return NewListing(Tool{Name: "k8sverify", Version: "test"}, epoch, r, diffs, warnings)
}

func TestWriteListingTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteListingTable(&b, listing(testRelease(), nil, nil)); err != nil {
		t.Fatal(err)
	}
	want := `Kubernetes v1.24.8, released 2022-11-09: 4 artifacts (1 binaries, 1 tarballs, 2 images) from the embedded catalog

KIND     NAME                   PLATFORM     LOCATION                                                   SIGNER                                                SIGNATURE     INCIDENTS
binary   kubectl                linux/amd64  https://dl.k8s.io/release/v1.24.8/bin/linux/amd64/kubectl  krel-staging@k8s-releng-prod.iam.gserviceaccount.com  not-expected  -
tarball  kubernetes-src.tar.gz  -            https://dl.k8s.io/release/v1.24.8/kubernetes-src.tar.gz    krel-staging@k8s-releng-prod.iam.gserviceaccount.com  not-expected  -
image    kube-proxy             index        registry.k8s.io/kube-proxy:v1.24.8                         krel-trust@k8s-releng-prod.iam.gserviceaccount.com    expected      [1]
image    kube-proxy             linux/arm64  registry.k8s.io/kube-proxy-arm64:v1.24.8                   krel-trust@k8s-releng-prod.iam.gserviceaccount.com    expected      [1]

Every signer's OIDC issuer: https://accounts.google.com
Signature: expected = the release process signed it; not-expected = released before
signing of its kind; probe = not known, look and report what is found; never = the
release process never signs it (.docker_tag files).

Known signing incidents of v1.24.8:

  [1] v1.24.8-wrong-identity (images)
      Images were signed by the wrong identity.
      source: https://github.com/kubernetes/release/issues/2789
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteListingTableNoIncidents(t *testing.T) {
	r := testRelease()
	r.Incidents = nil
	var b bytes.Buffer
	if err := WriteListingTable(&b, listing(r, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "Known signing incidents of v1.24.8: none recorded.\n") {
		t.Errorf("got\n%s", b.String())
	}
}

func TestWriteListingJSON(t *testing.T) {
	r := testRelease()
	diffs := []artifacts.Difference{{Artifact: r.Artifacts[0], OnlyIn: artifacts.SourceSBOM}}
	var b bytes.Buffer
	if err := WriteJSON(&b, listing(r, diffs, []string{"a warning"})); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	rel := got.Releases[0]
	if got.SchemaVersion != SchemaVersion || got.Kind != KindListing || rel.Version != "v1.24.8" || rel.Source != "catalog" || rel.Date != "2022-11-09" {
		t.Errorf("header %+v", got)
	}
	if len(got.Artifacts) != 4 || got.Artifacts[0].Location != r.Artifacts[0].Location || *got.Artifacts[3].Signer != (Identity{SAN: artifacts.ImageSigner.SAN, Issuer: artifacts.ImageSigner.Issuer}) {
		t.Errorf("artifacts %+v", got.Artifacts)
	}
	if len(got.Artifacts[0].Incidents) != 0 || len(got.Artifacts[2].Incidents) != 1 || got.Artifacts[2].Incidents[0] != "v1.24.8-wrong-identity" {
		t.Errorf("incidents per artifact: %v, %v", got.Artifacts[0].Incidents, got.Artifacts[2].Incidents)
	}
	if len(got.Differences) != 1 || got.Differences[0].OnlyIn != "sbom" || len(got.Warnings) != 1 {
		t.Errorf("differences %+v, warnings %v", got.Differences, got.Warnings)
	}
	// The platform of platform-independent artifacts is left out, and the
	// lists are never null.
	b.Reset()
	if err := WriteJSON(&b, listing(r, diffs, nil)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `"platform": ""`) || strings.Contains(b.String(), "null") {
		t.Errorf("JSON has empty platforms or nulls:\n%s", b.String())
	}
	r.Incidents = nil
	b.Reset()
	if err := WriteJSON(&b, listing(r, nil, nil)); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"incidents": []`, `"warnings": []`} {
		if !strings.Contains(b.String(), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteListingErrors(t *testing.T) {
	if err := WriteListingTable(failingWriter{}, listing(testRelease(), nil, nil)); !errors.Is(err, errDiskFull) {
		t.Errorf("table: %v", err)
	}
	if err := WriteJSON(failingWriter{}, listing(testRelease(), nil, nil)); !errors.Is(err, errDiskFull) {
		t.Errorf("JSON: %v", err)
	}
}
