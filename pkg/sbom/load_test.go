package sbom

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld/fakeweb"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

func TestLoadRelease(t *testing.T) {
	sbom, err := os.ReadFile(filepath.Join("testdata", "v1.24.17-release.spdx"))
	if err != nil {
		t.Fatal(err)
	}
	partial := strings.Replace(string(sbom), "FileName: bin/linux/s390x/mounter\n", "FileName: bin/linux/s390x/mounter-renamed\n", 1)
	web := fakeweb.Pages{
		"https://sbom.example/v1.24.17/release": string(sbom),
		"https://sbom.example/v1.24.16/release": strings.ReplaceAll(partial, "v1.24.17", "v1.24.16"),
		"https://sbom.example/v1.24.15/release": "<html>gateway timeout</html>\n",
		"https://sbom.example/v1.37.0/release":  "SPDXVersion: SPDX-2.3\nPackageName: registry.k8s.io/kube-proxy-amd64:v1.37.0\nSPDXID: SPDXRef-Package-p\n",
	}
	req := func(v artifacts.Version, open artifacts.Opener) ReleaseRequest {
		return ReleaseRequest{Version: v, Locations: artifacts.DefaultLocations, SBOMURL: "https://sbom.example", Open: open}
	}
	for _, tc := range []struct {
		name     string
		req      ReleaseRequest
		source   string
		count    int
		diffs    int
		warnings string
		err      error
	}{
		{"offline", req(artifacts.Version{Major: 1, Minor: 24, Patch: 17}, nil), artifacts.SourceCatalog, 180, 0, "", nil},
		{"offline unknown", req(artifacts.Version{Major: 1, Minor: 37, Patch: 0}, nil), "", 0, 0, "", artifacts.ErrUnknownVersion},
		{"online agrees", req(artifacts.Version{Major: 1, Minor: 24, Patch: 17}, web), artifacts.SourceMerged, 180, 0, "", nil},
		{"online differs", req(artifacts.Version{Major: 1, Minor: 24, Patch: 16}, web), artifacts.SourceMerged, 181, 2, "", nil},
		{"online broken SBOM", req(artifacts.Version{Major: 1, Minor: 24, Patch: 15}, web), artifacts.SourceCatalog, 180, 0, "could not use the release SBOM of v1.24.15: release SBOM https://sbom.example/v1.24.15/release: sbom line 1: not an SPDX document", nil},
		{"online no SBOM", req(artifacts.Version{Major: 1, Minor: 24, Patch: 14}, web), artifacts.SourceCatalog, 180, 0, "could not use the release SBOM of v1.24.14: get the release SBOM: GET https://sbom.example/v1.24.14/release: 404 not found", nil},
		{"online beyond the catalog", req(artifacts.Version{Major: 1, Minor: 37, Patch: 0}, web), artifacts.SourceSBOM, 2, 0, "v1.37.0 is not in the release catalog (it covers v1.24.0 … v1.36.4", nil},
		{"online unknown", req(artifacts.Version{Major: 1, Minor: 24, Patch: 99}, web), "", 0, 0, "", fakeweb.ErrNotHere},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LoadRelease(context.Background(), tc.req)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Release.Source != tc.source || len(l.Release.Artifacts) != tc.count || len(l.Differences) != tc.diffs {
				t.Errorf("source %q, %d artifacts, %d differences; want %q, %d, %d", l.Release.Source, len(l.Release.Artifacts), len(l.Differences), tc.source, tc.count, tc.diffs)
			}
			if tc.warnings == "" && len(l.Warnings) > 0 || tc.warnings != "" && (len(l.Warnings) == 0 || !strings.HasPrefix(l.Warnings[0], tc.warnings)) {
				t.Errorf("warnings %q, want %q first", l.Warnings, tc.warnings)
			}
		})
	}
}

// endless is an SBOM that never ends: valid lines, forever.
type endless struct{ sent bool }

func (e *endless) Read(p []byte) (int, error) {
	if !e.sent {
		e.sent = true
		return copy(p, "SPDXVersion: SPDX-2.3\nDocumentName: Kubernetes Release v1.24.17\n"), nil
	}
	line := "# " + strings.Repeat("x", 1000) + "\n"
	n := 0
	for n+len(line) <= len(p) {
		n += copy(p[n:], line)
	}
	return n, nil
}

type endlessWeb struct{}

func (endlessWeb) Open(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(&endless{}), nil
}

// An SBOM larger than MaxSize is not used, however valid its lines:
// the catalog alone lists the release, with a warning saying why.
func TestLoadReleaseSBOMSizeCap(t *testing.T) {
	l, err := LoadRelease(context.Background(), ReleaseRequest{Version: artifacts.Version{Major: 1, Minor: 24, Patch: 17}, Locations: artifacts.DefaultLocations, SBOMURL: "https://sbom.example", Open: endlessWeb{}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Release.Source != artifacts.SourceCatalog || len(l.Warnings) == 0 || !strings.Contains(l.Warnings[0], "the SBOM exceeds the size limit: more than 64 MiB") {
		t.Errorf("source %q, warnings %q", l.Release.Source, l.Warnings)
	}
	_, err = LoadRelease(context.Background(), ReleaseRequest{Version: artifacts.Version{Major: 1, Minor: 37, Patch: 0}, SBOMURL: "https://sbom.example", Open: endlessWeb{}})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("beyond the catalog: %v, want ErrTooLarge", err)
	}
}
