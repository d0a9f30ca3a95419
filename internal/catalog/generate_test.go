package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// The testdata are copies of public documents:
//   - CHANGELOG-1.24.excerpt.md: the v1.24.14 section (Downloads and
//     Container Images) of CHANGELOG/CHANGELOG-1.24.md,
//     kubernetes/kubernetes@025f2834a128798cef30018a5e6a6ae82b5ad885;
//   - images.excerpt.yaml: the conformance entries v1.23.17 … v1.25.0 of
//     registry.k8s.io/images/k8s-staging-kubernetes/images.yaml,
//     kubernetes/k8s.io@ecf019a88caa0923c610e8982ca44a460c0303e5;
//   - kubernetes.excerpt.json: the 1.24 entries (and 1.23.17, 1.25.0) of
//     releases/kubernetes.json,
//     endoflife-date/release-data@26ef641f9f871eefa286deeb98217937ae94a168.

const embedded = "../../pkg/artifacts/catalog/v1.24.json"

func testInputs(t *testing.T) Inputs {
	t.Helper()
	open := func(name string) *os.File {
		f, err := os.Open("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	cl, err := ParseChangelog(open("CHANGELOG-1.24.excerpt.md"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := ParsePromoterManifest(open("images.excerpt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dates, err := ParseReleaseDates(open("kubernetes.excerpt.json"))
	if err != nil {
		t.Fatal(err)
	}
	return Inputs{Changelog: cl, Images: im, Dates: dates}
}

func readEmbedded(t *testing.T) ([]byte, *File) {
	t.Helper()
	data, err := os.ReadFile(embedded)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, f
}

// stripCovered removes from f what the testdata publish: the sums of
// v1.24.14 and the conformance index digest of every release.
func stripCovered(f *File) {
	for i := range f.Releases {
		r := &f.Releases[i]
		r.ImageDigests = clone(r.ImageDigests)
		delete(r.ImageDigests, "conformance")
		if r.Version == "v1.24.14" {
			r.SHA512 = nil
		}
	}
}

func clone(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestGenerateReproducesEmbedded1_24: from the embedded v1.24 catalog
// without what the public documents give, the generator rebuilds the
// embedded file exactly (the same bytes) from copies of those
// documents.
func TestGenerateReproducesEmbedded1_24(t *testing.T) {
	data, base := readEmbedded(t)
	stripCovered(base)
	g, warnings, err := Generate(base, "1.24", testInputs(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the generated v1.24 catalog differs from the embedded one:\n%s", out)
	}
	if !bytes.Equal(out, data) {
		t.Error("the generated v1.24 catalog has the embedded values but not its bytes")
	}
	// The one date the catalog corrects (v1.24.11 was tagged 2023-02-22,
	// published 2023-03-01) is kept, and said.
	if !containsPrefix(warnings, "v1.24.11: kept the base's date 2023-03-01") {
		t.Errorf("warnings %q, want one about v1.24.11's date", warnings)
	}
}

func containsPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestParseChangelogAgainstEmbedded: every sum of the v1.24.14 section is
// the embedded one, and the section's images are the 1.24 layout.
func TestParseChangelogAgainstEmbedded(t *testing.T) {
	in := testInputs(t)
	_, f := readEmbedded(t)
	v := artifacts.Version{Major: 1, Minor: 24, Patch: 14}
	cl := in.Changelog[v]
	if cl == nil || len(in.Changelog) != 1 {
		t.Fatalf("releases %v, want v1.24.14 only", in.Changelog)
	}
	for _, r := range f.Releases {
		if r.Version == "v1.24.14" && !reflect.DeepEqual(cl.SHA512, r.SHA512) {
			t.Errorf("sums %v, want %v", cl.SHA512, r.SHA512)
		}
	}
	if len(cl.Images) != 5 || !reflect.DeepEqual(cl.Images["kube-proxy"], []string{"amd64", "arm", "arm64", "ppc64le", "s390x"}) {
		t.Errorf("images %v", cl.Images)
	}
}

// TestGenerateRejectsDisagreement: a sum or digest the base holds that the
// source contradicts stops the generator; so does a layout the CHANGELOG
// does not list.
func TestGenerateRejectsDisagreement(t *testing.T) {
	t.Run("sum", func(t *testing.T) {
		_, base := readEmbedded(t)
		for i := range base.Releases {
			if base.Releases[i].Version == "v1.24.14" {
				base.Releases[i].SHA512 = clone(base.Releases[i].SHA512)
				base.Releases[i].SHA512["kubernetes.tar.gz"] = strings.Repeat("0", 128)
			}
		}
		if _, _, err := Generate(base, "1.24", testInputs(t)); err == nil || !strings.Contains(err.Error(), "sha512 of kubernetes.tar.gz") {
			t.Errorf("err %v, want a sha512 disagreement", err)
		}
	})
	t.Run("digest", func(t *testing.T) {
		_, base := readEmbedded(t)
		base.Releases[3].ImageDigests = clone(base.Releases[3].ImageDigests)
		base.Releases[3].ImageDigests["conformance"] = "sha256:" + strings.Repeat("0", 64)
		if _, _, err := Generate(base, "1.24", testInputs(t)); err == nil || !strings.Contains(err.Error(), "image digest of conformance") {
			t.Errorf("err %v, want a digest disagreement", err)
		}
	})
	t.Run("layout", func(t *testing.T) {
		_, base := readEmbedded(t)
		base.Images.Arches = []string{"amd64", "arm64", "ppc64le", "s390x"}
		if _, _, err := Generate(base, "1.24", testInputs(t)); err == nil || !strings.Contains(err.Error(), "is not what the CHANGELOG lists") {
			t.Errorf("err %v, want a layout disagreement", err)
		}
	})
}

// TestParseChangelogRowOutsideItsRelease: a sum row linking another
// release's file is refused rather than filed under the section.
func TestParseChangelogRowOutsideItsRelease(t *testing.T) {
	doc := "# v1.24.14\n\n[kubernetes.tar.gz](https://dl.k8s.io/v1.24.13/kubernetes.tar.gz) | " + strings.Repeat("a", 128) + "\n"
	if _, err := ParseChangelog(strings.NewReader(doc)); err == nil {
		t.Error("a v1.24.13 row in the v1.24.14 section was accepted")
	}
}

// TestGenerateNewLine: a new line started from the previous line's file
// takes its layout, not its releases or its own incidents, and new
// releases get dates and the line's signing rule.
func TestGenerateNewLine(t *testing.T) {
	_, base := readEmbedded(t)
	base.Signing["blobSigningDefault"] = "probe"
	dates := map[artifacts.Version]string{{Major: 1, Minor: 25, Patch: 0}: "2022-08-23", {Major: 1, Minor: 25, Patch: 5}: "2022-12-08", {Major: 1, Minor: 24, Patch: 1}: "2022-05-24"}
	g, _, err := Generate(base, "1.25", Inputs{Dates: dates})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Releases) != 2 || g.Releases[0].BlobSigning != "not-expected" || g.Releases[1].BlobSigning != "probe" || g.Releases[1].Date != "2022-12-08" {
		t.Errorf("releases %+v", g.Releases)
	}
	if len(g.Incidents) != 1 || !strings.Contains(string(g.Incidents[0]), `"*"`) {
		t.Errorf("incidents %s, want the registry-wide one only", g.Incidents)
	}
	if _, err := g.Marshal(); err != nil {
		t.Error(err)
	}
}

// TestEmbeddedLinesAreGenerated: every embedded catalog file is what the
// generator writes from it, so `make catalog` on a line changes only what
// its sources change.
func TestEmbeddedLinesAreGenerated(t *testing.T) {
	files, err := filepath.Glob("../../pkg/artifacts/catalog/v1.*.json")
	if err != nil || len(files) < 13 {
		t.Fatalf("%d catalog files (%v), want 1.24 … 1.36", len(files), err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ReadFile(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g, _, err := Generate(f, f.Line, Inputs{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := g.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(out, data) {
			t.Errorf("%s is not in the generator's form", name)
		}
	}
}

// TestScheduleCrossCheck: the website's schedule (a copy of the 1.24 block
// of data/releases/schedule.yaml, kubernetes/website@0008cd26e2dc3d7c153c5596a7435b02fc252c89)
// agrees with every embedded 1.24 date but v1.24.11's, whose planned date
// slipped; the generator says so and changes nothing.
func TestScheduleCrossCheck(t *testing.T) {
	f, err := os.Open("testdata/schedule.excerpt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	targets, err := ParseSchedule(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 17 || targets[artifacts.Version{Major: 1, Minor: 24, Patch: 11}] != "2023-02-15" || targets[artifacts.Version{Major: 1, Minor: 24, Patch: 16}] != "2023-07-19" {
		t.Fatalf("targets %v", targets)
	}
	data, base := readEmbedded(t)
	g, warnings, err := Generate(base, "1.24", Inputs{Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "v1.24.11: the schedule's target date 2023-02-15") {
		t.Errorf("warnings %q, want v1.24.11's only", warnings)
	}
	if out, err := g.Marshal(); err != nil || !bytes.Equal(out, data) {
		t.Errorf("the schedule changed the catalog (%v)", err)
	}
}
