package artifacts

import (
	"slices"
	"strings"
	"testing"
)

// lineLayout is what every release of a line publishes, by the line's
// CHANGELOG tables (kubernetes/kubernetes CHANGELOG/CHANGELOG-1.X.md):
// linux/arm server and node builds and arm images end between
// v1.27.0-alpha.2 and v1.27.0-beta.0; the kubectl image is listed from
// 1.28; a windows/arm64 test tarball is known from June 2024 (1.30) on.
type lineLayout struct {
	artifacts, binaries, tarballs, images int
	armServer, kubectlImage, winArmTest   bool
	blobs                                 func(Version) Signing
	incidents                             map[string]string // version -> incident ID
}

func blobsFrom(first int) func(Version) Signing {
	return func(v Version) Signing {
		if v.Patch < first {
			return SigningNotExpected
		}
		return SigningProbe
	}
}

func blobsExpected(Version) Signing { return SigningExpected }

var lineLayouts = map[string]lineLayout{
	// 1.25 and 1.26 publish what 1.24 does: 116 binaries, 34 tarballs, 30 images.
	"1.25": {180, 116, 34, 30, true, false, false, blobsFrom(5), map[string]string{"v1.25.4": "v1.25.4-wrong-identity", "v1.25.7": "v1.25.7-partly-unsigned", "v1.25.8": "v1.25.8-signature-replication", "v1.25.15": "v1.25.15-download-site-missing-files"}},
	"1.26": {180, 116, 34, 30, true, false, false, blobsExpected, map[string]string{"v1.26.2": "v1.26.2-partly-unsigned", "v1.26.3": "v1.26.3-signature-replication", "v1.26.10": "v1.26.10-download-site-missing-files"}},
	// 4 server platforms x 20 + windows/amd64 6 + 6 client-only x 2 = 98;
	// 4 + 11 client + 4 server + 5 node + 7 test = 31; 5 x (1 + 4) = 25.
	"1.27": {154, 98, 31, 25, false, false, false, blobsExpected, map[string]string{"v1.27.7": "v1.27.7-download-site-missing-files"}},
	// kubectl.tar and .docker_tag on 4 server platforms: 106; 6 x 5 = 30.
	"1.28": {167, 106, 31, 30, false, true, false, blobsExpected, map[string]string{"v1.28.2": "v1.28.2-per-arch-signatures"}},
	"1.29": {167, 106, 31, 30, false, true, false, blobsExpected, nil},
	// + kubernetes-test-windows-arm64.tar.gz: 32 tarballs.
	"1.30": {168, 106, 32, 30, false, true, true, blobsExpected, nil},
	"1.31": {168, 106, 32, 30, false, true, true, blobsExpected, nil},
	"1.32": {168, 106, 32, 30, false, true, true, blobsExpected, map[string]string{"v1.32.0": "v1.32.0-per-arch-signatures-late"}},
	"1.33": {168, 106, 32, 30, false, true, true, blobsExpected, nil},
	"1.34": {168, 106, 32, 30, false, true, true, blobsExpected, nil},
	"1.35": {168, 106, 32, 30, false, true, true, blobsExpected, nil},
	"1.36": {168, 106, 32, 30, false, true, true, blobsExpected, nil},
}

// TestCatalogLines checks every release of every line after 1.24: its
// layout, its date (after the previous patch's), its signing policy and
// identities, and its incidents.
func TestCatalogLines(t *testing.T) {
	for line, want := range lineLayouts {
		t.Run(line, func(t *testing.T) {
			vs := versionsOf(line)
			if len(vs) == 0 {
				t.Fatal("no releases")
			}
			prev := ""
			for _, v := range vs {
				r, err := CatalogRelease(v, DefaultLocations)
				if err != nil {
					t.Fatal(err)
				}
				got := lineLayout{len(r.Artifacts), r.Count(KindBinary), r.Count(KindTarball), r.Count(KindImage),
					has(r, "tarball kubernetes-server-linux-arm.tar.gz linux/arm"), has(r, "image kubectl linux/s390x"),
					has(r, "tarball kubernetes-test-windows-arm64.tar.gz windows/arm64"), nil, nil}
				if got.artifacts != want.artifacts || got.binaries != want.binaries || got.tarballs != want.tarballs || got.images != want.images ||
					got.armServer != want.armServer || got.kubectlImage != want.kubectlImage || got.winArmTest != want.winArmTest {
					t.Errorf("%s: %+v, want %+v", v, got, want)
				}
				if has(r, "image kube-proxy linux/arm") != want.armServer || has(r, "binary kubelet linux/arm") != want.armServer || !has(r, "binary kubectl linux/arm") {
					t.Errorf("%s: linux/arm images or node binaries where they should not be, or no linux/arm kubectl", v)
				}
				if r.Date == "" || r.Date <= prev {
					t.Errorf("%s: date %q after %q", v, r.Date, prev)
				}
				if r.Previous != nil && r.Previous.Date != prev {
					t.Errorf("%s: previous %+v, want the date %s", v, r.Previous, prev)
				}
				prev = r.Date
				checkSigning(t, r, want.blobs(v))
				var ids []string
				for _, in := range r.Incidents {
					ids = append(ids, in.ID)
				}
				w := []string{"registry-signatures-by-region"}
				if id := want.incidents[v.String()]; id != "" {
					w = append([]string{id}, w...)
				}
				if !slices.Equal(ids, w) {
					t.Errorf("%s: incidents %v, want %v", v, ids, w)
				}
			}
		})
	}
}

func has(r *Release, id string) bool {
	return slices.ContainsFunc(r.Artifacts, func(a Artifact) bool { return a.ID() == id })
}

// checkSigning: images are signed by krel-trust, files by krel-staging,
// .docker_tag files never.
func checkSigning(t *testing.T, r *Release, blobs Signing) {
	t.Helper()
	for _, a := range r.Artifacts {
		want, signer := blobs, BlobSigner
		switch {
		case a.Kind == KindImage:
			want, signer = SigningExpected, ImageSigner
		case strings.HasSuffix(a.Name, ".docker_tag"):
			want = SigningNever
		}
		if a.Signing != want || a.Signer != signer {
			t.Errorf("%s %s: signing %s by %s, want %s by %s", r.Version, a.ID(), a.Signing, a.Signer.SAN, want, signer.SAN)
			return
		}
	}
}

// TestCatalogLineSources: every line names its sources, every source is
// https and has a status, and what could not be confirmed is said.
func TestCatalogLineSources(t *testing.T) {
	c := Embedded()
	for _, f := range c.lines {
		if f.Line == "1.24" {
			continue
		}
		ids := map[string]bool{}
		for _, s := range f.Sources {
			ids[s.ID] = true
			if !strings.HasPrefix(s.URL, "https://") || s.Status == "" || s.Facts == "" {
				t.Errorf("%s: source %+v", f.Line, s)
			}
		}
		for _, id := range []string{"changelog-" + f.Line, "release-data", "golang-sh", "krel-sign-blobs"} {
			if !ids[id] {
				t.Errorf("%s: no source %s", f.Line, id)
			}
		}
		if len(f.Notes) == 0 {
			t.Errorf("%s: no notes on what is not confirmed", f.Line)
		}
	}
}
