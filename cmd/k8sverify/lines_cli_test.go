package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// linesWorld publishes releases of several lines, their tarballs and
// images for linux/amd64.
func linesWorld(t *testing.T, versions string) *testworld.World {
	t.Helper()
	return testworld.StartT(t, testworld.Options{Version: versions, Kinds: []artifacts.Kind{artifacts.KindTarball, artifacts.KindImage},
		Platforms: []artifacts.Platform{{OS: "linux", Arch: "amd64"}}})
}

var amd64Args = []string{"--kind", "tarball,image", "--platform", "linux/amd64"}

func readReport(t *testing.T, out string) *report.Report {
	t.Helper()
	rep, err := report.Read(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep
}

// list, verify of two releases of two lines, verify-file, fetch and
// verify from the pack, and mirror, on releases of 1.33 and 1.36 (which
// the catalog holds no sums for) and 1.24 (which it does): each release
// laid out per its line, bound by the channels its line has.
func TestCommandsAcrossLines(t *testing.T) {
	w := linesWorld(t, "v1.24.17,v1.33.2,v1.36.0")

	code, out, errOut := runIn(t, w, append([]string{"list", "v1.36.0", "-o", "json"}, amd64Args...)...)
	if code != ExitOK {
		t.Fatalf("list: exit %d\n%s", code, errOut)
	}
	sources := map[string]int{}
	for _, a := range readReport(t, out).Artifacts {
		for _, s := range a.Sums {
			sources[s.Source]++
		}
	}
	if sources[artifacts.SumChangelog] == 0 || sources[artifacts.SumPromoter] == 0 || sources[artifacts.SumCatalog] != 0 {
		t.Errorf("list v1.36.0: sums by source %v, want changelog and promoter-manifest", sources)
	}

	code, out, errOut = runIn(t, w, append([]string{"verify", "v1.33.2", "v1.36.0", "-o", "json"}, amd64Args...)...)
	if code != ExitOK {
		t.Fatalf("verify v1.33.2 v1.36.0: exit %d\n%s\n%s", code, out, errOut)
	}
	rep := readReport(t, out)
	if len(rep.Releases) != 2 || rep.Releases[0].Version != "v1.33.2" || rep.Releases[1].Version != "v1.36.0" {
		t.Errorf("releases %+v", rep.Releases)
	}
	kubectlImage := 0
	for _, a := range rep.Artifacts {
		if a.Kind == "image" && a.Name == "kubectl" {
			kubectlImage++
		}
		if a.Kind == "image" && !strings.Contains(checkOf(a, "digest"), "promoter-manifest") {
			t.Errorf("%s %s: digest check %q", a.Release, a.ID(), checkOf(a, "digest"))
		}
	}
	if kubectlImage != 4 { // 1.33 and 1.36 both publish a kubectl image: index and amd64 each
		t.Errorf("%d kubectl images, want 4", kubectlImage)
	}

	code, out, errOut = runIn(t, w, "verify", "v1.24.17", "--kind", "tarball", "--platform", "linux/amd64", "-o", "json")
	if code != ExitOK {
		t.Fatalf("verify v1.24.17: exit %d\n%s", code, errOut)
	}
	for _, a := range readReport(t, out).Artifacts {
		if d := checkOf(a, "digest"); strings.Contains(d, "changelog") || (!strings.Contains(a.Name, "test") && !strings.Contains(a.Name, "manifests") && !strings.Contains(d, "sha512 from catalog ")) {
			t.Errorf("1.24 %s: digest check %q: the embedded sums, not the channels", a.ID(), d)
		}
	}

	dir := t.TempDir()
	tarball := filepath.Join(dir, "kubernetes-server-linux-amd64.tar.gz")
	var content []byte
	for _, rs := range w.Releases {
		if rs.Version.String() == "v1.33.2" {
			content = rs.Files["kubernetes-server-linux-amd64.tar.gz"].Content
		}
	}
	if err := os.WriteFile(tarball, content, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runIn(t, w, "verify-file", tarball, "--version", "v1.33.2")
	if code != ExitOK || !strings.Contains(out, "kubernetes-server-linux-amd64.tar.gz v1.33.2") {
		t.Errorf("verify-file: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runIn(t, w, "verify-file", tarball, "--version", "v1.36.0")
	if code != ExitFailed {
		t.Errorf("verify-file of a v1.33.2 tarball as v1.36.0: exit %d\n%s\n%s", code, out, errOut)
	}

	pack := filepath.Join(t.TempDir(), "pack")
	if code, out, errOut = runIn(t, w, append([]string{"fetch", "v1.36.0", "--out", pack}, amd64Args...)...); code != ExitOK {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{"channels/CHANGELOG.md", "channels/images.yaml"} {
		if _, err := os.Stat(filepath.Join(pack, f)); err != nil {
			t.Errorf("the pack: %v", err)
		}
	}
	code, out, errOut = runIn(t, w, append([]string{"verify", "v1.36.0", "--offline", "--evidence", pack, "-o", "json"}, amd64Args...)...)
	if code != ExitOK {
		t.Fatalf("verify from the pack: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, a := range readReport(t, out).Artifacts {
		if a.Kind == "image" && !strings.Contains(checkOf(a, "digest"), "promoter-manifest") {
			t.Errorf("from the pack %s: digest check %q", a.ID(), checkOf(a, "digest"))
		}
	}

	to := mirrorRegistry(t) + "/k8s"
	code, out, errOut = runIn(t, w, "--timeout", "30s", "mirror", "v1.36.0", "--to", to, "--platform", "linux/amd64")
	if code != ExitOK || !strings.Contains(errOut, "mirror to "+to+": copied") {
		t.Errorf("mirror: exit %d\n%s\n%s", code, out, errOut)
	}
}

func checkOf(a report.Artifact, name string) string {
	for _, c := range a.Checks {
		if c.Name == name {
			return c.Actual
		}
	}
	return ""
}

// verify 1.24 1.36 and verify 1.33: every patch release of each line the
// catalog knows, each with its history (1.24's unsigned early files,
// 1.33 and 1.36 signed and bound by their channels).
func TestVerifyWholeLines(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "1.24,1.33,1.36", Kinds: []artifacts.Kind{artifacts.KindTarball},
		Platforms: []artifacts.Platform{{OS: "linux", Arch: "amd64"}}})
	for _, tc := range []struct {
		args  []string
		lines map[string]int
	}{
		{[]string{"verify", "1.24", "1.36"}, map[string]int{"1.24": 18, "1.36": 5}},
		{[]string{"verify", "1.33"}, map[string]int{"1.33": 14}},
	} {
		code, out, errOut := runIn(t, w, append(tc.args, "--kind", "tarball", "--platform", "linux/amd64", "-o", "json")...)
		if code != ExitOK && code != ExitIncomplete {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, errOut)
		}
		rep := readReport(t, out)
		got := map[string]int{}
		for _, r := range rep.Releases {
			v, err := artifacts.ParseVersion(r.Version)
			if err != nil {
				t.Fatal(err)
			}
			got[v.Line()]++
		}
		for line, n := range tc.lines {
			if got[line] != n {
				t.Errorf("%v: %d releases of %s, want %d", tc.args, got[line], line, n)
			}
		}
		for _, a := range rep.Artifacts {
			v, _ := artifacts.ParseVersion(a.Release)
			rel, err := w.Catalog.Release(v, artifacts.Locations{})
			if err != nil {
				t.Fatal(err)
			}
			var signing artifacts.Signing
			for _, ra := range rel.Artifacts {
				if ra.ID() == a.ID() {
					signing = ra.Signing
				}
			}
			want := "verified"
			if signing == artifacts.SigningNotExpected {
				want = "unsigned"
			}
			if string(a.Status) != want {
				t.Errorf("%s %s (signing %s): %s: %s", a.Release, a.ID(), signing, a.Status, a.Reason)
			}
			if v.Minor > 24 && !strings.Contains(a.Name, "test") && !strings.Contains(a.Name, "manifests") && !strings.Contains(checkOf(a, "digest"), "changelog") {
				t.Errorf("%s %s: digest check %q", a.Release, a.ID(), checkOf(a, "digest"))
			}
		}
	}
}

// A release newer than the catalog (the world's catalog without its
// newest release) is listed from its release SBOM and bound by its
// channels; every report, in every format, says it is not in the
// catalog.
func TestReleaseNewerThanCatalog(t *testing.T) {
	w := linesWorld(t, "v1.36.3,v1.36.4")
	data, err := os.ReadFile(w.CatalogPath)
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]any
	if err := json.Unmarshal(data, &cat); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, r := range cat["releases"].([]any) {
		if r.(map[string]any)["version"] != "v1.36.4" {
			kept = append(kept, r)
		}
	}
	cat["releases"] = kept
	older := filepath.Join(t.TempDir(), "catalog.json")
	if data, err = json.Marshal(cat); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(older, data, 0o644); err != nil {
		t.Fatal(err)
	}
	const notice = "v1.36.4 is not in the release catalog"
	for _, format := range []string{"table", "json", "junit", "sarif"} {
		code, out, errOut := runIn(t, w, append([]string{"--catalog", older, "verify", "v1.36.4", "-o", format}, amd64Args...)...)
		if code != ExitOK || !strings.Contains(out+errOut, notice) {
			t.Errorf("%s: exit %d, no %q:\n%s\n%s", format, code, notice, out, errOut)
		}
		if format == "json" {
			rep := readReport(t, out)
			if !strings.Contains(strings.Join(rep.Warnings, "\n"), notice) {
				t.Errorf("the JSON report's warnings %q", rep.Warnings)
			}
			if rep.Releases[0].Source != artifacts.SourceSBOM {
				t.Errorf("source %q", rep.Releases[0].Source)
			}
			for _, a := range rep.Artifacts {
				if a.Kind == "image" && !strings.Contains(checkOf(a, "digest"), "promoter-manifest") {
					t.Errorf("%s: digest check %q", a.ID(), checkOf(a, "digest"))
				}
			}
		}
	}
	code, out, errOut := runIn(t, w, append([]string{"--catalog", older, "list", "v1.36.4", "-o", "json"}, amd64Args...)...)
	if code != ExitOK || !strings.Contains(out+errOut, notice) {
		t.Errorf("list: exit %d\n%s\n%s", code, out, errOut)
	}
}

// verify-image NAME:vX of a release the catalog holds no digests for is
// bound to the digest the promoter's manifest gives the tag, as verify
// binds it: a manifest that gives another digest fails [digest].
func TestVerifyImageBoundByPromoterManifest(t *testing.T) {
	amd64 := []artifacts.Platform{{OS: "linux", Arch: "amd64"}}
	w := testworld.StartT(t, testworld.Options{Version: "v1.36.0", Kinds: []artifacts.Kind{artifacts.KindImage}, Platforms: amd64})
	code, out, errOut := runIn(t, w, "verify-image", "kube-proxy-amd64:v1.36.0", "-o", "json")
	if code != ExitOK || !strings.Contains(out, "sha256 from promoter-manifest") {
		t.Fatalf("exit %d: the promoter's digest not named\n%s\n%s", code, out, errOut)
	}
	forged := testworld.StartT(t, testworld.Options{Version: "v1.36.0", Kinds: []artifacts.Kind{artifacts.KindImage}, Platforms: amd64,
		Faults: []testworld.Fault{{Kind: testworld.FaultPromoterDigest, Target: "kube-proxy-amd64"}}})
	code, out, errOut = runIn(t, forged, "verify-image", "kube-proxy-amd64:v1.36.0", "-o", "json")
	rep := readReport(t, out)
	if code != ExitFailed || len(rep.Artifacts) == 0 || rep.Artifacts[0].FailedCheck != "digest" || !strings.Contains(rep.Artifacts[0].Reason, "promoter-manifest") {
		t.Fatalf("exit %d: a digest the promoter's manifest does not give is not refused\n%s\n%s", code, out, errOut)
	}
}
