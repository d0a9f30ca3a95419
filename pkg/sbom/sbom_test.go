package sbom

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

func openSBOM(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format string
	}{
		{"v1.24.17-release.spdx", FormatSPDXTagValue},
		{"v1.24.17-release.spdx.json", FormatSPDXJSON},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s, err := Parse(openSBOM(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if s.Format != tc.format || s.SPDXVersion != "SPDX-2.3" || s.Name != "kubernetes-v1.24.17" {
				t.Errorf("format %q, version %q, name %q", s.Format, s.SPDXVersion, s.Name)
			}
			// 25 images, 25 layers and a Go module; 150 release files and SHA256SUMS.
			if len(s.Images) != 25 || s.Packages != 51 {
				t.Errorf("%d images of %d packages, want 25 of 51", len(s.Images), s.Packages)
			}
			if len(s.Files) != 150 || s.FileEntries != 151 {
				t.Errorf("%d release files of %d, want 150 of 151", len(s.Files), s.FileEntries)
			}
			img := s.Images[0]
			want := Image{
				Reference:  "registry.k8s.io/conformance-amd64:v1.24.17",
				Registry:   "registry.k8s.io",
				Repository: "conformance-amd64",
				Tag:        "v1.24.17",
				SPDXID:     "SPDXRef-Package-registry.k8s.io-conformance-amd64-v1.24.17",
				Digest:     "sha256:6975bef995771a5cc8534ba48a8fa2fff7d798bea41b9aca8db08e0e87ca6741",
			}
			img.Line = 0
			if img != want {
				t.Errorf("first image\n got %+v\nwant %+v", img, want)
			}
			var kubectl *File
			for i := range s.Files {
				if s.Files[i].Path == "bin/linux/amd64/kubectl" {
					kubectl = &s.Files[i]
				}
			}
			if kubectl == nil {
				t.Fatal("bin/linux/amd64/kubectl not found")
			}
			if len(kubectl.SHA256) != 64 || len(kubectl.SHA512) != 128 || kubectl.SPDXID != "SPDXRef-File-bin-linux-amd64-kubectl" {
				t.Errorf("kubectl: %+v", *kubectl)
			}
		})
	}
}

// The two forms of the same document say the same.
func TestParseFormatsAgree(t *testing.T) {
	tv, err := Parse(openSBOM(t, "v1.24.17-release.spdx"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := Parse(openSBOM(t, "v1.24.17-release.spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range tv.Images {
		a, b := tv.Images[i], js.Images[i]
		a.Line, b.Line = 0, 0
		if a != b {
			t.Errorf("image %d: tag-value %+v, JSON %+v", i, a, b)
		}
	}
	for i := range tv.Files {
		a, b := tv.Files[i], js.Files[i]
		a.Line, b.Line = 0, 0
		if a != b {
			t.Errorf("file %d: tag-value %+v, JSON %+v", i, a, b)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range []struct {
		file string
		line int
		msg  string
	}{
		{"truncated.spdx", 52, "SHA256 checksum"},
		{"truncated-text.spdx", 44, "input ends inside the <text> value of PackageCopyrightText begun on line 44"},
		{"truncated.spdx.json", 38, "truncated"},
		{"not-spdx.html", 1, "not an SPDX document"},
		{"spdx3.json", 1, "SPDX 3"},
		{"spdx1.spdx", 1, `unsupported SPDX version "SPDX-1.2"`},
		{"no-spdxid.spdx", 58, `file "bin/linux/arm64/kubectl" has no SPDXID`},
		{"bad-line.spdx", 67, `malformed line "kubernetes-src.tar.gz 4ab2f0"`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Parse(openSBOM(t, tc.file))
			checkLineError(t, err, tc.line, tc.msg)
		})
	}
}

func checkLineError(t *testing.T, err error, line int, msg string) {
	t.Helper()
	var se *LineError
	if !errors.As(err, &se) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v (%T), want *LineError", err, err)
	}
	if se.Line != line || !strings.Contains(err.Error(), msg) || !strings.HasPrefix(err.Error(), fmt.Sprintf("sbom line %d: ", line)) {
		t.Errorf("error %q, want line %d and %q", err, line, msg)
	}
}

func TestParseSmallInputs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 1, "empty input"},
		{"blank", "\n\n  \n", 4, "only white space"},
		{"no newline at end", "SPDXVersion: SPDX-2.3\nDocumentName: x", 2, "truncated"},
		{"json trailing data", `{"spdxVersion": "SPDX-2.3"} {}`, 1, "after the JSON document"},
		{"json no version", "{\n\"packages\": []\n}\n", 1, "no spdxVersion"},
		{"json wrong type", "{\"spdxVersion\": \"SPDX-2.3\",\n\"files\": [\n{\"fileName\": 7}]}", 3, "fileName: want a string, got 7"},
		{"json syntax", "{\"spdxVersion\": \"SPDX-2.3\",\n\n\"files\": [}\n", 3, "invalid JSON"},
		{"json deep", `{"spdxVersion":"SPDX-2.3","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}", 1, "nested deeper"},
		{"checksum outside", "SPDXVersion: SPDX-2.3\nFileChecksum: SHA256: 00\n", 2, "FileChecksum outside a file"},
		{"bad checksum", "SPDXVersion: SPDX-2.3\nFileName: bin/linux/amd64/kubectl\nSPDXID: SPDXRef-File-x\nFileChecksum: SHA512 abc\n", 4, "malformed checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in))
			checkLineError(t, err, tc.line, tc.msg)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	in := "\ufeff\n# comment\nSPDXVersion: SPDX-2.2\r\nDocumentName: d\r\n\r\n" +
		"PackageName: k8s.gcr.io/kube-proxy-s390x:v1.24.0\r\nSPDXID: SPDXRef-Package-k8s.gcr.io-kube-proxy-s390x-v1.24.0\r\n" +
		// An image known only by its SPDXID, as the documented grep pipeline reads it.
		"PackageName: kube-scheduler-arm\nSPDXID: SPDXRef-Package-registry.k8s.io-kube-scheduler-arm-v1.24.0\n" +
		"PackageName: sha256:abc\nSPDXID: SPDXRef-Package-registry.k8s.io-kube-scheduler-arm-v1.24.0-sha256-abc\n" +
		"FileName: ./kubernetes/server/bin/linux/amd64/kubelet\nSPDXID: SPDXRef-File-kubelet\n"
	s, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, img := range s.Images {
		refs = append(refs, img.Reference)
	}
	if got, want := strings.Join(refs, " "), "k8s.gcr.io/kube-proxy-s390x:v1.24.0 registry.k8s.io/kube-scheduler-arm:v1.24.0"; got != want {
		t.Errorf("images %s, want %s", got, want)
	}
	if len(s.Files) != 1 || s.Files[0].Path != "kubernetes/server/bin/linux/amd64/kubelet" {
		t.Errorf("files %+v", s.Files)
	}
}

// hugeLine is a reader of prefix, n bytes of 'a', then suffix, made up as
// it is read.
func hugeLine(prefix string, n int, suffix string) io.Reader {
	return io.MultiReader(strings.NewReader(prefix), io.LimitReader(repeatReader('a'), int64(n)), strings.NewReader(suffix))
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestParseHugeLine(t *testing.T) {
	const n = 2 * MaxLine
	t.Run("tag-value", func(t *testing.T) {
		r := hugeLine("SPDXVersion: SPDX-2.3\nDocumentName: x\nPackageName: ", n, "\n")
		_, err := Parse(r)
		checkLineError(t, err, 3, "line longer than")
	})
	t.Run("json string", func(t *testing.T) {
		r := hugeLine("{\n\"spdxVersion\": \"SPDX-2.3\",\n\"name\": \"", n, "\"\n}\n")
		_, err := Parse(r)
		checkLineError(t, err, 3, "a string longer than")
	})
	t.Run("json white space", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("{\n\"spdxVersion\": \"SPDX-2.3\","), io.LimitReader(repeatReader(' '), n), strings.NewReader("}"))
		_, err := Parse(r)
		checkLineError(t, err, 2, "white space longer than")
	})
}

// sbomGenerator makes up a large SBOM as it is read: a header, then count
// source-dependency packages (which the parser counts but does not keep),
// then one release image and one release file.
type sbomGenerator struct {
	json   bool
	count  int
	i      int
	buf    bytes.Buffer
	closed bool
	// sample is called now and then while the input is produced.
	sample func()
}

func (g *sbomGenerator) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && !g.closed {
		g.fill()
	}
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

func (g *sbomGenerator) fill() {
	hash := strings.Repeat("0123456789abcdef", 4)
	switch {
	case g.i == 0 && g.json:
		g.buf.WriteString("{\n  \"spdxVersion\": \"SPDX-2.3\",\n  \"name\": \"generated\",\n  \"packages\": [\n")
	case g.i == 0:
		g.buf.WriteString("SPDXVersion: SPDX-2.3\nDocumentName: generated\n\n")
	case g.i <= g.count && g.json:
		fmt.Fprintf(&g.buf, "    {\"name\": \"example.com/module%d\", \"SPDXID\": \"SPDXRef-Package-module%d\", \"versionInfo\": \"v1.0.0\", \"checksums\": [{\"algorithm\": \"SHA256\", \"checksumValue\": %q}], \"downloadLocation\": \"NOASSERTION\"},\n", g.i, g.i, hash)
	case g.i <= g.count:
		fmt.Fprintf(&g.buf, "PackageName: example.com/module%d\nSPDXID: SPDXRef-Package-module%d\nPackageVersion: v1.0.0\nPackageChecksum: SHA256: %s\nPackageDownloadLocation: NOASSERTION\n\n", g.i, g.i, hash)
	case g.json:
		fmt.Fprintf(&g.buf, "    {\"name\": \"registry.k8s.io/kube-proxy-arm64:v1.24.17\", \"SPDXID\": \"SPDXRef-Package-last\"}\n  ],\n"+
			"  \"files\": [{\"fileName\": \"bin/linux/arm64/kubectl\", \"SPDXID\": \"SPDXRef-File-last\", \"checksums\": [{\"algorithm\": \"SHA256\", \"checksumValue\": %q}]}]\n}\n", hash)
		g.closed = true
	default:
		fmt.Fprintf(&g.buf, "PackageName: registry.k8s.io/kube-proxy-arm64:v1.24.17\nSPDXID: SPDXRef-Package-last\n\n"+
			"FileName: bin/linux/arm64/kubectl\nSPDXID: SPDXRef-File-last\nFileChecksum: SHA256: %s\n", hash)
		g.closed = true
	}
	g.i++
	if g.sample != nil && g.i%4096 == 0 {
		g.sample()
	}
}

// A large SBOM streams through in bounded memory: the heap stays far
// below the size of the input.
func TestParseStreamsLargeInput(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 2 x 64 MiB")
	}
	const size = 64 << 20
	for _, json := range []bool{false, true} {
		t.Run(map[bool]string{false: "tag-value", true: "json"}[json], func(t *testing.T) {
			perPackage := 170 // bytes, roughly; the count is sized to reach `size`
			g := &sbomGenerator{json: json, count: size / perPackage}
			var peak uint64
			var ms runtime.MemStats
			g.sample = func() {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base := ms.HeapAlloc
			cr := &countingReader{r: g}
			s, err := Parse(cr)
			if err != nil {
				t.Fatal(err)
			}
			if cr.n < size {
				t.Fatalf("generated only %d bytes", cr.n)
			}
			if s.Packages != g.count+1 || len(s.Images) != 1 || len(s.Files) != 1 {
				t.Errorf("%d packages, %d images, %d files; want %d, 1, 1", s.Packages, len(s.Images), len(s.Files), g.count+1)
			}
			if grown := peak - min(peak, base); grown > size/4 {
				t.Errorf("heap grew by %d MiB while parsing %d MiB", grown>>20, cr.n>>20)
			}
			t.Logf("parsed %d MiB; heap peak %d MiB above the %d MiB before", cr.n>>20, (peak-min(peak, base))>>20, base>>20)
		})
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestReleaseFromSBOM(t *testing.T) {
	v := artifacts.Version{Major: 1, Minor: 24, Patch: 17}
	s, err := Parse(openSBOM(t, "v1.24.17-release.spdx"))
	if err != nil {
		t.Fatal(err)
	}
	loc := artifacts.Locations{DownloadURL: "http://127.0.0.1:8080", Registry: "127.0.0.1:5000/k8s"}
	online, err := s.Release(v, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if online.Source != artifacts.SourceSBOM || online.Date != "2023-08-23" {
		t.Errorf("source %q, date %q", online.Source, online.Date)
	}
	// The testdata SBOM lists exactly what the catalog does; the indexes
	// are added to the per-arch images it lists.
	catalog, err := artifacts.CatalogRelease(v, loc)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(catalog, online); len(d) != 0 {
		t.Errorf("differences: %v", d)
	}
	for i, a := range online.Artifacts {
		c := catalog.Artifacts[i]
		if a.Kind != artifacts.KindImage && (len(a.Sum("sha256", artifacts.SumSBOM)) != 64 || len(a.Sum("sha512", artifacts.SumSBOM)) != 128) {
			t.Errorf("%s: checksums %+v", a.ID(), a.Sums)
		}
		if a.ID() != c.ID() || a.Location != c.Location || a.Signer != c.Signer {
			t.Errorf("artifact %d\n from SBOM %+v\n  catalog  %+v", i, a, c)
		}
	}

	// The SBOM of another release does not describe this one.
	_, err = (&Document{Images: s.Images}).Release(artifacts.Version{Major: 1, Minor: 24, Patch: 16}, loc, nil)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "tagged v1.24.17") {
		t.Errorf("other release: %v", err)
	}
	_, err = (&Document{}).Release(v, loc, nil)
	if !errors.Is(err, ErrMismatch) {
		t.Errorf("empty SBOM: %v", err)
	}
	// Files carry no version: the document's name tells another release's
	// SBOM of files apart.
	_, err = (&Document{Name: "Kubernetes Release v1.24.17", Files: s.Files}).Release(artifacts.Version{Major: 1, Minor: 24, Patch: 16}, loc, nil)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "Kubernetes Release v1.24.17") {
		t.Errorf("another release's SBOM of files: %v", err)
	}
}

func TestReleaseFromSBOMNewerRelease(t *testing.T) {
	in := "SPDXVersion: SPDX-2.3\n" +
		"PackageName: registry.k8s.io/kube-apiserver-arm64:v1.31.2\nSPDXID: SPDXRef-Package-a\n" +
		"PackageName: registry.k8s.io/kube-apiserver:v1.31.2\nSPDXID: SPDXRef-Package-b\n" +
		"PackageName: registry.k8s.io/kube-proxy-windows-amd64:v1.31.2\nSPDXID: SPDXRef-Package-c\n" +
		"FileName: bin/windows/arm64/kubectl.exe\nSPDXID: SPDXRef-File-a\n" +
		"FileName: kubernetes-node-windows-amd64.tar.gz\nSPDXID: SPDXRef-File-b\n"
	s, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Release(artifacts.Version{Major: 1, Minor: 31, Patch: 2}, artifacts.DefaultLocations, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range r.Artifacts {
		got = append(got, fmt.Sprintf("%s %s %s %s", a.ID(), a.Location, a.Signing, a.Signer.SAN))
	}
	want := []string{
		"binary kubectl.exe windows/arm64 https://dl.k8s.io/release/v1.31.2/bin/windows/arm64/kubectl.exe expected krel-staging@k8s-releng-prod.iam.gserviceaccount.com",
		"tarball kubernetes-node-windows-amd64.tar.gz windows/amd64 https://dl.k8s.io/release/v1.31.2/kubernetes-node-windows-amd64.tar.gz expected krel-staging@k8s-releng-prod.iam.gserviceaccount.com",
		"image kube-apiserver registry.k8s.io/kube-apiserver:v1.31.2 expected krel-trust@k8s-releng-prod.iam.gserviceaccount.com",
		"image kube-apiserver linux/arm64 registry.k8s.io/kube-apiserver-arm64:v1.31.2 expected krel-trust@k8s-releng-prod.iam.gserviceaccount.com",
		"image kube-proxy registry.k8s.io/kube-proxy:v1.31.2 expected krel-trust@k8s-releng-prod.iam.gserviceaccount.com",
		"image kube-proxy windows/amd64 registry.k8s.io/kube-proxy-windows-amd64:v1.31.2 expected krel-trust@k8s-releng-prod.iam.gserviceaccount.com",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Registry-wide incidents concern every release's images.
	if len(r.Incidents) != 1 || r.Incidents[0].ID != "registry-signatures-by-region" {
		t.Errorf("incidents %+v", r.Incidents)
	}
}

func TestDiffAndMerge(t *testing.T) {
	v := artifacts.Version{Major: 1, Minor: 24, Patch: 3}
	catalog, err := artifacts.CatalogRelease(v, artifacts.DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	online := &artifacts.Release{Version: v, Source: artifacts.SourceSBOM}
	for _, a := range catalog.Artifacts {
		if a.Name == "mounter" && a.Platform.Arch == "s390x" {
			continue // only in the catalog
		}
		online.Artifacts = append(online.Artifacts, a)
	}
	extra := artifacts.Artifact{Kind: artifacts.KindImage, Name: "kube-proxy", Platform: artifacts.Platform{OS: "windows", Arch: "amd64"}, Location: "registry.k8s.io/kube-proxy-windows-amd64:v1.24.3", Signer: artifacts.ImageSigner, Signing: artifacts.SigningExpected}
	online.Artifacts = append(online.Artifacts, extra)
	slices.SortFunc(online.Artifacts, artifacts.Artifact.Compare)

	d := Diff(catalog, online)
	if len(d) != 2 {
		t.Fatalf("differences %v", d)
	}
	if got, want := d[0].String(), "binary mounter linux/s390x is listed only by the catalog"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := d[1].String(), "image kube-proxy windows/amd64 is listed only by the sbom"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	m := Merge(catalog, online)
	if m.Source != artifacts.SourceMerged || len(m.Artifacts) != len(catalog.Artifacts)+1 {
		t.Errorf("merged: source %q, %d artifacts", m.Source, len(m.Artifacts))
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"v1.24.17-release.spdx", "truncated.spdx", "truncated-text.spdx", "spdx3.json", "not-spdx.html"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 4096)])
	}
	f.Add([]byte(`{"spdxVersion":"SPDX-2.3","packages":[{"name":"registry.k8s.io/a-amd64:v1.24.0","SPDXID":"x","checksums":[{"algorithm":"SHA1","checksumValue":"00"}]}]}`))
	v12417 := artifacts.Version{Major: 1, Minor: 24, Patch: 17}
	catalog, err := artifacts.CatalogRelease(v12417, artifacts.DefaultLocations)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(bytes.NewReader(data))
		if err != nil {
			var se *LineError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		if s.SPDXVersion == "" {
			t.Fatal("parsed without an SPDX version")
		}
		// What list does with it: the release it lists, merged with the
		// catalog's.
		online, err := s.Release(v12417, artifacts.DefaultLocations, nil)
		if err != nil {
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("rejected without ErrMismatch: %v", err)
			}
			return
		}
		Diff(catalog, online)
		Merge(catalog, online)
	})
}

// The SBOM as bom writes it for krel: the binary, the tarball and the
// image (from its tarball package's SPDXID) are read; layers are not
// images.
func TestParseBomShapedSBOM(t *testing.T) {
	s, err := Parse(openSBOM(t, "bom-v1.24.17-excerpt.spdx"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "Kubernetes Release v1.24.17" {
		t.Errorf("document name %q", s.Name)
	}
	r, err := s.Release(artifacts.Version{Major: 1, Minor: 24, Patch: 17}, artifacts.DefaultLocations, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range r.Artifacts {
		ids = append(ids, a.ID())
		if a.Kind != artifacts.KindImage && (len(a.Sum("sha256", artifacts.SumSBOM)) != 64 || len(a.Sum("sha512", artifacts.SumSBOM)) != 128) {
			t.Errorf("%s: sums %+v", a.ID(), a.Sums)
		}
	}
	want := []string{"binary kubectl linux/amd64", "tarball kubernetes-client-linux-amd64.tar.gz linux/amd64", "image kube-apiserver", "image kube-apiserver linux/amd64"}
	for _, id := range want {
		if !slices.Contains(ids, id) {
			t.Errorf("no %s among %v", id, ids)
		}
	}
	if len(ids) != len(want) {
		t.Errorf("artifacts %v, want %v", ids, want)
	}
}
