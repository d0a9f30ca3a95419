package artifacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// versionsOf returns the catalog's releases of line.
func versionsOf(line string) []Version {
	var vs []Version
	for _, v := range CatalogVersions() {
		if v.Line() == line {
			vs = append(vs, v)
		}
	}
	return vs
}

// The embedded catalog holds every patch release of every line from 1.24
// to 1.36, as endoflife-date/release-data lists them (its newest, v1.36.4,
// of 2026-08-20), each line from .0 without a gap.
func TestCatalogVersions(t *testing.T) {
	want := map[string]int{"1.24": 18, "1.25": 17, "1.26": 16, "1.27": 17, "1.28": 16, "1.29": 16, "1.30": 15,
		"1.31": 15, "1.32": 14, "1.33": 14, "1.34": 12, "1.35": 9, "1.36": 5}
	total := 0
	for line, n := range want {
		vs := versionsOf(line)
		total += n
		if len(vs) != n {
			t.Errorf("line %s: %d releases, want %d", line, len(vs), n)
		}
		for i, v := range vs {
			if v.Patch != i {
				t.Errorf("line %s: release %d is %s", line, i, v)
			}
		}
	}
	if got := len(CatalogVersions()); got != total {
		t.Errorf("%d versions, want %d", got, total)
	}
}

// Every v1.24 patch release publishes the same set of artifacts (the
// platform and target lists did not change within the line):
//
//	binaries: 5 linux server platforms x (10 server binaries + 8 image
//	          archives + kubectl, kubectl-convert) = 100
//	          + windows/amd64: 2 client + 4 node .exe = 6
//	          + 5 client-only platforms x 2 = 10                  => 116
//	tarballs: kubernetes, -manifests, -src, -test-portable = 4
//	          + 11 client + 6 node + 5 server + 8 test         => 34
//	images:   5 names x (1 index + 5 arches)                   => 30
func TestCatalogCounts(t *testing.T) {
	for _, v := range versionsOf("1.24") {
		r, err := CatalogRelease(v, DefaultLocations)
		if err != nil {
			t.Fatal(err)
		}
		got := [4]int{len(r.Artifacts), r.Count(KindBinary), r.Count(KindTarball), r.Count(KindImage)}
		if want := [4]int{180, 116, 34, 30}; got != want {
			t.Errorf("%s: %d artifacts (%d binaries, %d tarballs, %d images), want %v", v, got[0], got[1], got[2], got[3], want)
		}
		perPlatform := map[string]int{}
		for _, a := range r.Artifacts {
			if a.Kind == KindBinary {
				perPlatform[a.Platform.String()]++
			}
		}
		for p, want := range map[string]int{
			"linux/amd64": 20, "linux/arm": 20, "linux/arm64": 20, "linux/ppc64le": 20, "linux/s390x": 20,
			"linux/386": 2, "darwin/amd64": 2, "darwin/arm64": 2, "windows/386": 2, "windows/arm64": 2,
			"windows/amd64": 6,
		} {
			if perPlatform[p] != want {
				t.Errorf("%s: %d binaries for %s, want %d", v, perPlatform[p], p, want)
			}
		}
		if len(perPlatform) != 11 {
			t.Errorf("%s: binaries for %d platforms, want 11", v, len(perPlatform))
		}
	}
}

func TestCatalogKnownArtifacts(t *testing.T) {
	for _, tc := range []struct {
		version         string
		id              string
		location        string
		signer          Identity
		signing         Signing
		incidentsPrefix string
	}{
		{"v1.24.0", "binary kubectl linux/amd64", "https://dl.k8s.io/release/v1.24.0/bin/linux/amd64/kubectl", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "binary kubectl linux/arm64", "https://dl.k8s.io/release/v1.24.0/bin/linux/arm64/kubectl", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "binary kubectl darwin/amd64", "https://dl.k8s.io/release/v1.24.0/bin/darwin/amd64/kubectl", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "binary kubectl.exe windows/amd64", "https://dl.k8s.io/release/v1.24.0/bin/windows/amd64/kubectl.exe", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "binary kubelet.exe windows/amd64", "https://dl.k8s.io/release/v1.24.0/bin/windows/amd64/kubelet.exe", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "binary kube-apiserver.tar linux/ppc64le", "https://dl.k8s.io/release/v1.24.0/bin/linux/ppc64le/kube-apiserver.tar", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "tarball kubernetes-server-linux-amd64.tar.gz linux/amd64", "https://dl.k8s.io/release/v1.24.0/kubernetes-server-linux-amd64.tar.gz", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "tarball kubernetes-client-windows-arm64.tar.gz windows/arm64", "https://dl.k8s.io/release/v1.24.0/kubernetes-client-windows-arm64.tar.gz", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "tarball kubernetes-src.tar.gz", "https://dl.k8s.io/release/v1.24.0/kubernetes-src.tar.gz", BlobSigner, SigningNotExpected, ""},
		{"v1.24.0", "image kube-apiserver", "registry.k8s.io/kube-apiserver:v1.24.0", ImageSigner, SigningExpected, "registry"},
		{"v1.24.0", "image kube-apiserver linux/s390x", "registry.k8s.io/kube-apiserver-s390x:v1.24.0", ImageSigner, SigningExpected, "registry"},
		{"v1.24.8", "image kube-proxy linux/arm", "registry.k8s.io/kube-proxy-arm:v1.24.8", ImageSigner, SigningExpected, "v1.24.8-wrong-identity"},
		{"v1.24.8", "binary kubectl linux/amd64", "https://dl.k8s.io/release/v1.24.8/bin/linux/amd64/kubectl", BlobSigner, SigningNotExpected, ""},
		{"v1.24.9", "binary kubectl linux/amd64", "https://dl.k8s.io/release/v1.24.9/bin/linux/amd64/kubectl", BlobSigner, SigningProbe, ""},
		{"v1.24.17", "tarball kubernetes-node-windows-amd64.tar.gz windows/amd64", "https://dl.k8s.io/release/v1.24.17/kubernetes-node-windows-amd64.tar.gz", BlobSigner, SigningProbe, ""},
		{"v1.24.17", "image conformance linux/ppc64le", "registry.k8s.io/conformance-ppc64le:v1.24.17", ImageSigner, SigningExpected, "registry"},
	} {
		t.Run(tc.version+" "+tc.id, func(t *testing.T) {
			v, _ := ParseVersion(tc.version)
			r, err := CatalogRelease(v, DefaultLocations)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(r.Artifacts, func(a Artifact) bool { return a.ID() == tc.id })
			if i < 0 {
				t.Fatalf("%s not in the catalog", tc.id)
			}
			a := r.Artifacts[i]
			if a.Location != tc.location || a.Signer != tc.signer || a.Signing != tc.signing {
				t.Errorf("got %s %+v %s, want %s %+v %s", a.Location, a.Signer, a.Signing, tc.location, tc.signer, tc.signing)
			}
			ins := r.IncidentsFor(a)
			if tc.incidentsPrefix == "" && len(ins) > 0 || tc.incidentsPrefix != "" && (len(ins) == 0 || !strings.HasPrefix(ins[0].ID, tc.incidentsPrefix)) {
				t.Errorf("incidents %+v, want the first to start with %q", ins, tc.incidentsPrefix)
			}
		})
	}
}

func TestCatalogNotPublished(t *testing.T) {
	r, err := CatalogRelease(Version{1, 24, 0}, DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"binary kubectl windows/amd64",                         // it is kubectl.exe
		"binary kubelet darwin/arm64",                          // no node binaries for darwin
		"binary kube-apiserver windows/amd64",                  // no server binaries for windows
		"binary e2e.test linux/amd64",                          // test binaries are only in the test tarballs
		"tarball kubernetes-server-linux-386.tar.gz linux/386", // linux/386 is a client platform only
		"image kube-proxy linux/386",
		"image kube-proxy windows/amd64", // no Windows images in 1.24
	} {
		if slices.ContainsFunc(r.Artifacts, func(a Artifact) bool { return a.ID() == id }) {
			t.Errorf("%s is in the catalog", id)
		}
	}
}

func TestCatalogOrderAndUniqueness(t *testing.T) {
	r, err := CatalogRelease(Version{1, 24, 5}, DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(r.Artifacts, Artifact.Compare) {
		t.Error("artifacts are not in kind, name, platform order")
	}
	ids, locations := map[string]bool{}, map[string]bool{}
	for _, a := range r.Artifacts {
		if ids[a.ID()] || locations[a.Location] {
			t.Errorf("duplicate %s at %s", a.ID(), a.Location)
		}
		ids[a.ID()], locations[a.Location] = true, true
	}
	if r.Artifacts[0].Kind != KindBinary || r.Artifacts[len(r.Artifacts)-1].Kind != KindImage {
		t.Error("binaries first, images last")
	}
}

// Blob signing began in the release pipeline on 2022-11-29: releases before
// are not expected to be signed, later ones are probed. Images are signed
// from v1.24.0.
func TestCatalogSigningPolicy(t *testing.T) {
	since := time.Date(2022, 11, 29, 0, 0, 0, 0, time.UTC)
	for _, v := range versionsOf("1.24") {
		_, cr := mustCatalog().find(v)
		date, err := time.Parse(time.DateOnly, cr.Date)
		if err != nil {
			t.Fatalf("%s: date %q: %v", v, cr.Date, err)
		}
		wantBlobs := SigningNotExpected
		if !date.Before(since) {
			wantBlobs = SigningProbe
		}
		if v.Patch >= 9 != (wantBlobs == SigningProbe) {
			t.Errorf("%s released %s: the date and the v1.24.9 cut disagree", v, cr.Date)
		}
		images, blobs := SigningPolicy(v)
		if images != SigningExpected || blobs != wantBlobs {
			t.Errorf("%s: images %s, blobs %s; want expected, %s", v, images, blobs, wantBlobs)
		}
	}
	for _, tc := range []struct {
		v             Version
		images, blobs Signing
	}{
		{Version{1, 23, 17}, SigningProbe, SigningProbe},
		{Version{1, 25, 0}, SigningExpected, SigningNotExpected},
		{Version{1, 25, 4}, SigningExpected, SigningNotExpected},
		{Version{1, 25, 5}, SigningExpected, SigningProbe},
		{Version{1, 26, 0}, SigningExpected, SigningExpected},
		{Version{1, 31, 2}, SigningExpected, SigningExpected},
		{Version{1, 37, 0}, SigningExpected, SigningExpected},
	} {
		if images, blobs := SigningPolicy(tc.v); images != tc.images || blobs != tc.blobs {
			t.Errorf("%s: images %s, blobs %s; want %s, %s", tc.v, images, blobs, tc.images, tc.blobs)
		}
	}
}

func TestCatalogIncidents(t *testing.T) {
	want := map[int][]string{
		6:  {"v1.24.6-double-signature"},
		8:  {"v1.24.8-wrong-identity"},
		11: {"v1.24.11-partly-unsigned"},
		12: {"v1.24.12-signature-replication"},
	}
	for _, v := range versionsOf("1.24") {
		r, err := CatalogRelease(v, DefaultLocations)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, in := range r.Incidents {
			if !strings.HasPrefix(in.Source, "https://github.com/kubernetes") || in.Summary == "" {
				t.Errorf("%s: incident %+v lacks a summary or a public source", v, in)
			}
			ids = append(ids, in.ID)
		}
		w := append(want[v.Patch], "registry-signatures-by-region")
		if !slices.Equal(ids, w) {
			t.Errorf("%s: incidents %v, want %v", v, ids, w)
		}
		for _, a := range r.Artifacts {
			if a.Kind != KindImage && len(r.IncidentsFor(a)) > 0 {
				t.Errorf("%s: %s has image incidents", v, a.ID())
			}
		}
	}
	r, _ := CatalogRelease(Version{1, 24, 8}, DefaultLocations)
	if in := r.Incidents[0]; !strings.Contains(in.Summary, "k8s-infra-gcr-promoter@k8s-artifacts-prod.iam.gserviceaccount.com") ||
		in.Source != "https://github.com/kubernetes/release/issues/2789" {
		t.Errorf("v1.24.8: %+v", in)
	}
}

func TestCatalogUnknownVersion(t *testing.T) {
	for _, v := range []Version{{1, 23, 0}, {1, 24, 18}, {1, 24, 99}, {1, 36, 5}, {1, 37, 0}} {
		_, err := CatalogRelease(v, DefaultLocations)
		if !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("%s: %v, want ErrUnknownVersion", v, err)
		}
		want := "unknown version " + v.String() + ": the embedded catalog covers v1.24.0 … v1.36.4 (184 releases of 13 lines); other releases need the network (SBOM)"
		if err.Error() != want {
			t.Errorf("got %q\nwant %q", err, want)
		}
	}
}

func TestCatalogLocations(t *testing.T) {
	r, err := CatalogRelease(Version{1, 24, 2}, Locations{DownloadURL: "http://127.0.0.1:8080/", Registry: "127.0.0.1:5000/mirror/"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range r.Artifacts {
		got[a.Location] = true
	}
	for _, want := range []string{
		"http://127.0.0.1:8080/release/v1.24.2/bin/linux/amd64/kubectl",
		"http://127.0.0.1:8080/release/v1.24.2/kubernetes.tar.gz",
		"127.0.0.1:5000/mirror/kube-scheduler:v1.24.2",
		"127.0.0.1:5000/mirror/kube-scheduler-arm64:v1.24.2",
	} {
		if !got[want] {
			t.Errorf("no artifact at %s", want)
		}
	}
}

func TestCatalogSources(t *testing.T) {
	ss := CatalogSources()
	if len(ss) < 5 {
		t.Fatalf("%d sources", len(ss))
	}
	for _, s := range ss {
		if s.ID == "" || !strings.HasPrefix(s.URL, "https://") || s.Facts == "" || s.Status == "" {
			t.Errorf("incomplete source %+v", s)
		}
	}
}

func TestFilter(t *testing.T) {
	r, err := CatalogRelease(Version{1, 24, 6}, DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	amd64, win := Platform{"linux", "amd64"}, Platform{"windows", "amd64"}
	for _, tc := range []struct {
		name      string
		kinds     []Kind
		platforms []Platform
		count     int
		incidents int
	}{
		{"everything", nil, nil, 180, 2},
		{"binaries", []Kind{KindBinary}, nil, 116, 0},
		{"tarballs and images", []Kind{KindTarball, KindImage}, nil, 64, 2},
		// 20 binaries, 4 platform tarballs + 4 independent ones, 5 images + their 5 indexes
		{"linux/amd64", nil, []Platform{amd64}, 38, 2},
		{"images for linux/amd64", []Kind{KindImage}, []Platform{amd64}, 10, 2},
		// 6 binaries; client, node and test tarballs + 4 independent ones; no images
		{"windows/amd64", nil, []Platform{win}, 13, 0},
		{"images for windows/amd64", []Kind{KindImage}, []Platform{win}, 0, 0},
		{"two platforms", []Kind{KindBinary}, []Platform{amd64, win}, 26, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := r.Filter(tc.kinds, tc.platforms)
			if len(f.Artifacts) != tc.count || len(f.Incidents) != tc.incidents {
				t.Errorf("%d artifacts, %d incidents; want %d, %d", len(f.Artifacts), len(f.Incidents), tc.count, tc.incidents)
			}
			if f.Version != r.Version || f.Source != r.Source {
				t.Error("filter lost the release's version or source")
			}
		})
	}
	if len(r.Artifacts) != 180 {
		t.Error("Filter changed the release")
	}
}

func TestReleasePlatforms(t *testing.T) {
	r, _ := CatalogRelease(Version{1, 24, 0}, DefaultLocations)
	var got []string
	for _, p := range r.Platforms(KindImage) {
		got = append(got, p.String())
	}
	if want := "linux/amd64 linux/arm linux/arm64 linux/ppc64le linux/s390x"; strings.Join(got, " ") != want {
		t.Errorf("image platforms %v, want %s", got, want)
	}
	if n := len(r.Platforms()); n != 11 {
		t.Errorf("%d platforms, want 11", n)
	}
}

// FuzzReadCatalog: a catalog file (--catalog) reads or is rejected with
// ErrMalformedCatalog; every release of what reads is listed without
// panicking, each artifact once, and the line round-trips through
// MarshalLine.
func FuzzReadCatalog(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("catalog", "v1.24.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	// A small catalog of the same form: one release, a few files.
	cf, err := parseCatalogFile(full)
	if err != nil {
		f.Fatal(err)
	}
	small := *cf
	small.Releases = cf.Releases[len(cf.Releases)-1:]
	small.Files = cf.Files[:2]
	small.Images.Names, small.Images.Arches = cf.Images.Names[:1], cf.Images.Arches[:2]
	data, err := json.Marshal(small)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"schemaVersion":1,"line":"1.24","sources":[],"platforms":{},"files":[],"images":{"names":[],"arches":[]},"incidents":[],"releases":[]}`))
	f.Add([]byte(`{"schemaVersion":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCatalog(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrMalformedCatalog) {
				t.Fatalf("rejected without ErrMalformedCatalog: %v", err)
			}
			return
		}
		for _, v := range c.Versions() {
			rel, err := c.Release(v, DefaultLocations)
			if err != nil {
				t.Fatalf("%s is in the catalog but does not load: %v", v, err)
			}
			seen := map[string]bool{}
			for _, a := range rel.Artifacts {
				if seen[a.ID()] {
					t.Fatalf("%s: %s twice", v, a.ID())
				}
				seen[a.ID()] = true
			}
		}
		line := c.lines[0].Line
		out, err := c.MarshalLine(line)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ReadCatalog(bytes.NewReader(out), "again.json")
		if err != nil {
			t.Fatalf("the catalog written does not read again: %v", err)
		}
		if again, err := c2.MarshalLine(line); err != nil || !bytes.Equal(out, again) {
			t.Fatalf("the catalog does not round-trip: %v", err)
		}
	})
}
