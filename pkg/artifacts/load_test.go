package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeWeb serves documents by URL; other URLs fail with errNotHere.
type fakeWeb map[string]string

var errNotHere = errors.New("404 not found")

func (w fakeWeb) Open(_ context.Context, url string) (io.ReadCloser, error) {
	doc, ok := w[url]
	if !ok {
		return nil, fmt.Errorf("GET %s: %w", url, errNotHere)
	}
	return io.NopCloser(strings.NewReader(doc)), nil
}

func TestResolveVersion(t *testing.T) {
	web := fakeWeb{
		"https://dl.example/release/stable-1.24.txt": "v1.24.17\n",
		"https://dl.example/release/stable-1.25.txt": "v1.24.3\n",
		"https://dl.example/release/stable-1.26.txt": "<html>",
	}
	for _, tc := range []struct {
		in   string
		open Opener
		want Version
		err  error
		msg  string
	}{
		{"v1.24.3", nil, Version{1, 24, 3}, nil, ""},
		{"1.24.3", web, Version{1, 24, 3}, nil, ""},
		{"latest-1.24", web, Version{1, 24, 17}, nil, ""},
		{"latest-1.24", nil, Version{}, ErrNeedsNetwork, "latest-1.24 needs the network: it is read from https://dl.example/release/stable-1.24.txt"},
		{"latest-1.23", web, Version{}, errNotHere, "resolve latest-1.23"},
		{"latest-1.25", web, Version{}, nil, "names v1.24.3, which is not of line 1.25"},
		{"latest-1.26", web, Version{}, ErrMalformedVersion, "stable-1.26.txt"},
		{"banana", web, Version{}, ErrMalformedVersion, `malformed version "banana"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ResolveVersion(context.Background(), tc.in, "https://dl.example/", tc.open)
			if got != tc.want || (tc.msg == "") != (err == nil) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			if err != nil && (!strings.Contains(err.Error(), tc.msg) || tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("error %q, want %q wrapping %v", err, tc.msg, tc.err)
			}
		})
	}
}

func TestLoadRelease(t *testing.T) {
	sbom, err := os.ReadFile(filepath.Join("testdata", "sbom", "v1.24.17-release.spdx"))
	if err != nil {
		t.Fatal(err)
	}
	partial := strings.Replace(string(sbom), "FileName: bin/linux/s390x/mounter\n", "FileName: bin/linux/s390x/mounter-renamed\n", 1)
	web := fakeWeb{
		"https://sbom.example/v1.24.17/release": string(sbom),
		"https://sbom.example/v1.24.16/release": strings.ReplaceAll(partial, "v1.24.17", "v1.24.16"),
		"https://sbom.example/v1.24.15/release": "<html>gateway timeout</html>\n",
		"https://sbom.example/v1.37.0/release":  "SPDXVersion: SPDX-2.3\nPackageName: registry.k8s.io/kube-proxy-amd64:v1.37.0\nSPDXID: SPDXRef-Package-p\n",
	}
	req := func(v Version, open Opener) ReleaseRequest {
		return ReleaseRequest{Version: v, Locations: DefaultLocations, SBOMURL: "https://sbom.example", Open: open}
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
		{"offline", req(Version{1, 24, 17}, nil), SourceCatalog, 180, 0, "", nil},
		{"offline unknown", req(Version{1, 37, 0}, nil), "", 0, 0, "", ErrUnknownVersion},
		{"online agrees", req(Version{1, 24, 17}, web), SourceMerged, 180, 0, "", nil},
		{"online differs", req(Version{1, 24, 16}, web), SourceMerged, 181, 2, "", nil},
		{"online broken SBOM", req(Version{1, 24, 15}, web), SourceCatalog, 180, 0, "could not use the release SBOM of v1.24.15: release SBOM https://sbom.example/v1.24.15/release: sbom line 1: not an SPDX document", nil},
		{"online no SBOM", req(Version{1, 24, 14}, web), SourceCatalog, 180, 0, "could not use the release SBOM of v1.24.14: get the release SBOM: GET https://sbom.example/v1.24.14/release: 404 not found", nil},
		{"online beyond the catalog", req(Version{1, 37, 0}, web), SourceSBOM, 2, 0, "v1.37.0 is not in the release catalog (it covers v1.24.0 … v1.36.4", nil},
		{"online unknown", req(Version{1, 24, 99}, web), "", 0, 0, "", errNotHere},
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

// An SBOM larger than MaxSBOMSize is not used, however valid its lines:
// the catalog alone lists the release, with a warning saying why.
func TestLoadReleaseSBOMSizeCap(t *testing.T) {
	l, err := LoadRelease(context.Background(), ReleaseRequest{Version: Version{1, 24, 17}, Locations: DefaultLocations, SBOMURL: "https://sbom.example", Open: endlessWeb{}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Release.Source != SourceCatalog || len(l.Warnings) == 0 || !strings.Contains(l.Warnings[0], "the SBOM exceeds the size limit: more than 64 MiB") {
		t.Errorf("source %q, warnings %q", l.Release.Source, l.Warnings)
	}
	_, err = LoadRelease(context.Background(), ReleaseRequest{Version: Version{1, 37, 0}, SBOMURL: "https://sbom.example", Open: endlessWeb{}})
	if !errors.Is(err, ErrSBOMTooLarge) {
		t.Errorf("beyond the catalog: %v, want ErrSBOMTooLarge", err)
	}
}
