package audit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/airgap"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// newestOf is the newest release of line the embedded catalog knows.
func newestOf(t testing.TB, line string) artifacts.Version {
	t.Helper()
	var v artifacts.Version
	for _, cv := range artifacts.CatalogVersions() {
		if cv.Line() == line {
			v = cv
		}
	}
	if v.Major == 0 {
		t.Fatalf("the catalog has no release of %s", line)
	}
	return v
}

// channelsConfig is sessions.Config(w) reading the world's channels.
func channelsConfig(w *testworld.World) audit.Config {
	c := sessions.Config(w)
	c.Endpoints.ChannelsURL = w.ChannelsURL
	return c
}

// amd64 is the part of a release the tests of this file build and
// verify: its tarballs and images for linux/amd64 (and the
// platform-independent tarballs, the images' indexes).
var amd64 = audit.Selection{Kinds: []artifacts.Kind{artifacts.KindTarball, artifacts.KindImage}, Platforms: []artifacts.Platform{{OS: "linux", Arch: "amd64"}}}

func amd64World(t *testing.T, v artifacts.Version, faults ...testworld.Fault) *testworld.World {
	t.Helper()
	return testworld.StartT(t, testworld.Options{Version: v.String(), Kinds: amd64.Kinds, Platforms: amd64.Platforms, Faults: faults})
}

func verifyVersions(t *testing.T, c audit.Config, versions ...string) []*audit.Result {
	t.Helper()
	res, err := sessions.New(t, c).Verify(context.Background(), audit.VerifyRequest{Versions: versions, Selection: amd64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func digestCheck(v verify.Verdict) string {
	for _, c := range v.Checks {
		if c.Name == "digest" {
			return c.Actual + c.Expected
		}
	}
	return ""
}

// A recent line, which the catalog holds no sums for: its tarballs are
// bound by the CHANGELOG and its images by the promoter's manifest, read
// from their own host, each named in the verdict; a channel that
// disagrees with the download site or the registry fails check digest.
func TestRecentLineChannels(t *testing.T) {
	const tarball, image = "kubernetes-server-linux-amd64.tar.gz", "kube-proxy-amd64"
	v := newestOf(t, "1.36")
	w := amd64World(t, v, testworld.Fault{Kind: testworld.FaultChangelogSum, Target: tarball}, testworld.Fault{Kind: testworld.FaultPromoterDigest, Target: image})
	res := verifyVersions(t, channelsConfig(w), v.String())
	n := map[string]int{}
	for _, vd := range res[0].Verdicts {
		id := vd.Artifact.Name
		if vd.Artifact.Kind == artifacts.KindImage {
			id = testworld.ImageRepository(vd.Artifact)
		}
		switch id {
		case tarball, image:
			want := map[string]string{tarball: "(changelog)", image: "(promoter-manifest)"}[id]
			if vd.Status != verify.StatusFailed || vd.FailedCheck != "digest" || !errors.Is(vd.Err, sigverify.ErrDigestMismatch) || !strings.Contains(vd.Reason, want) {
				t.Errorf("%s: %s [%s] %s; want failed digest naming %s", id, vd.Status, vd.FailedCheck, vd.Reason, want)
			}
			continue
		}
		if vd.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", vd.Artifact.ID(), vd.Status, vd.Reason)
			continue
		}
		d := digestCheck(vd)
		switch {
		case vd.Artifact.Kind == artifacts.KindImage:
			if !strings.Contains(d, "sha256 from promoter-manifest") {
				t.Errorf("%s: digest check %q names no promoter-manifest", vd.Artifact.ID(), d)
			}
			n["image"]++
		case vd.Artifact.Kind == artifacts.KindTarball && !strings.Contains(vd.Artifact.Name, "-test") && !strings.Contains(vd.Artifact.Name, "manifests"):
			if !strings.Contains(d, "sha512 from changelog") || !strings.Contains(d, "sha512 from published .sha512") {
				t.Errorf("%s: digest check %q", vd.Artifact.ID(), d)
			}
			n["tarball"]++
		case vd.Artifact.Kind == artifacts.KindTarball:
			// Not in the CHANGELOG's tables: verified, and said unbound.
			if !strings.Contains(vd.Reason, "not bound by the changelog") {
				t.Errorf("%s: reason %q does not say it is unbound", vd.Artifact.ID(), vd.Reason)
			}
		}
	}
	if n["image"] == 0 || n["tarball"] == 0 {
		t.Fatalf("bound by the channels: %v", n)
	}
}

// A channel that cannot be reached: the verdicts say which binding is
// missing, and a warning says why; nothing is skipped silently. Pinned
// to a commit the host does not serve, and to one it does.
func TestChannelsUnreachableSaySo(t *testing.T) {
	v := newestOf(t, "1.33")
	w := amd64World(t, v)
	c := channelsConfig(w)
	c.ChangelogRef, c.PromoterRef = "0000000000000000000000000000000000000000", testworld.ChannelCommit
	res := verifyVersions(t, c, v.String())
	if !strings.Contains(strings.Join(res[0].Warnings, "\n"), "not bound by their CHANGELOG") {
		t.Errorf("warnings %q", res[0].Warnings)
	}
	for _, vd := range res[0].Verdicts {
		switch vd.Artifact.Kind {
		case artifacts.KindTarball:
			if !strings.Contains(vd.Reason, "not bound by the changelog") || !strings.Contains(vd.Reason, "404") {
				t.Errorf("%s: %s: %s", vd.Artifact.ID(), vd.Status, vd.Reason)
			}
		case artifacts.KindImage:
			if vd.Status != verify.StatusVerified || len(vd.Artifact.Unbound) > 0 || !strings.Contains(digestCheck(vd), "promoter-manifest") {
				t.Errorf("%s (pinned to the commit served): %s: %s", vd.Artifact.ID(), vd.Status, vd.Reason)
			}
		}
	}
	if _, err := audit.NewSession(func() audit.Config { c.ChangelogRef = "../../evil"; return c }()); !errors.Is(err, audit.ErrRequest) {
		t.Errorf("a ref leaving the repository: %v", err)
	}
}

// The channels fetched are kept in the evidence pack: offline, the pack
// binds the release as the channels did online, forgeries included.
func TestChannelsInPack(t *testing.T) {
	const tarball = "kubernetes-client-linux-amd64.tar.gz"
	v := newestOf(t, "1.35")
	w := amd64World(t, v, testworld.Fault{Kind: testworld.FaultChangelogSum, Target: tarball})
	online := verifyVersions(t, channelsConfig(w), v.String())[0].Verdicts
	dir := t.TempDir()
	res, err := airgap.Fetch(context.Background(), sessions.New(t, channelsConfig(w)), airgap.Request{Version: v.String(), Selection: amd64, Out: dir, TUF: &trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Changelog == "" || res.Manifest.Promoter == "" {
		t.Fatalf("the pack keeps no channel: %+v", res.Manifest)
	}
	w.Close()
	c := channelsConfig(w)
	c.Offline, c.Pack = true, dir
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}}
	off := verifyVersions(t, c, v.String())[0].Verdicts
	if len(off) != len(online) {
		t.Fatalf("%d offline verdicts, %d online", len(off), len(online))
	}
	failed := 0
	for i := range online {
		on, of := online[i], off[i]
		if on.Artifact.ID() != of.Artifact.ID() || on.Status != of.Status || on.Reason != of.Reason {
			t.Errorf("%s:\n online %s %s\noffline %s %s", on.Artifact.ID(), on.Status, on.Reason, of.Status, of.Reason)
		}
		if of.Status == verify.StatusFailed && of.Artifact.Name == tarball && of.FailedCheck == "digest" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("the disagreeing CHANGELOG failed %d verdicts offline, want 1", failed)
	}
}

// The forgery table on a recent line: worlds of the newest 1.36 release
// (linux/amd64 and linux/arm64) carrying every forgery and substitution,
// each on an artifact of its own (in two worlds: the release has too few
// images for one), and the channel forgeries; verified as `verify
// 1.36.N --download` does, with its channels. Every target fails (the
// disagreeing CHANGELOG and promoter's manifest on check digest); every
// other artifact verifies.
func TestForgeriesOnRecentLine(t *testing.T) {
	v := newestOf(t, "1.36")
	var kinds []testworld.FaultKind
	for _, k := range testworld.FaultKinds {
		// Forgeries only: not transport faults, nor the states users hit
		// that are no tampering (late signatures, a region lacking one).
		if !k.IsHTTP() && !slices.Contains([]testworld.FaultKind{testworld.FaultLogCopy, testworld.FaultSignedLate, testworld.FaultSigLostInRegion, testworld.FaultCertOnly, testworld.FaultHostileMessage}, k) {
			kinds = append(kinds, k)
		}
	}
	half := len(kinds) / 2
	for i, part := range [][]testworld.FaultKind{append(kinds[:half:half], testworld.FaultChangelogSum), append(kinds[half:], testworld.FaultPromoterDigest)} {
		t.Run(fmt.Sprint("world ", i+1), func(t *testing.T) { forgeriesOnLine(t, v, part) })
	}
}

func forgeriesOnLine(t *testing.T, v artifacts.Version, kinds []testworld.FaultKind) {
	sel := audit.Selection{Platforms: []artifacts.Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}}}
	probe := testworld.StartT(t, testworld.Options{Version: v.String(), Platforms: sel.Platforms})
	var files, images []string
	for p, f := range probe.Files {
		// kubectl is the cross-arch file's target: one the release SBOM
		// binds to its name (it lists no image archives, .tar).
		if strings.HasPrefix(p, "bin/linux/amd64/") && f.Artifact.Signing != artifacts.SigningNever && p != "bin/linux/amd64/kubectl" {
			files = append(files, p)
		}
	}
	for repo, im := range probe.Images {
		// kube-scheduler is the foreign referrer's, kube-proxy-arm64 the
		// source of the cross-arch image: neither is another fault's.
		if im.Platform != "" && !strings.HasPrefix(repo, "kube-scheduler") && !strings.HasPrefix(repo, "kube-proxy") {
			images = append(images, repo)
		}
	}
	probe.Close()
	slices.Sort(files)
	slices.Sort(images)
	var faults []testworld.Fault
	for _, k := range kinds {
		switch k {
		case testworld.FaultChangelogSum:
			faults = append(faults, testworld.Fault{Kind: k, Target: "kubernetes-node-linux-amd64.tar.gz"})
			continue
		case testworld.FaultForeignReferrer:
			faults = append(faults, testworld.Fault{Kind: k, Target: "kube-scheduler"})
			continue
		case testworld.FaultPayloadDigest, testworld.FaultPayloadName, testworld.FaultIndexAtArch, testworld.FaultPromoterDigest:
		case testworld.FaultCrossArch:
			faults = append(faults, testworld.Fault{Kind: k, Target: "bin/linux/amd64/kubectl"})
		default:
			faults = append(faults, testworld.Fault{Kind: k, Target: files[0]})
			files = files[1:]
		}
		switch k {
		case testworld.FaultFlipByte, testworld.FaultBadSHA256:
		case testworld.FaultCrossArch:
			faults = append(faults, testworld.Fault{Kind: k, Target: "kube-proxy-amd64"})
		default:
			faults = append(faults, testworld.Fault{Kind: k, Target: images[0]})
			images = images[1:]
		}
	}
	w := testworld.StartT(t, testworld.Options{Version: v.String(), Platforms: sel.Platforms, Faults: faults})
	res, err := sessions.New(t, channelsConfig(w)).Verify(context.Background(), audit.VerifyRequest{Versions: []string{v.String()}, Selection: sel, VerifyOptions: audit.VerifyOptions{Download: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byTarget := map[string]verify.Verdict{}
	for _, vd := range res[0].Verdicts {
		if vd.Artifact.Kind == artifacts.KindImage {
			byTarget[testworld.ImageRepository(vd.Artifact)] = vd
		} else {
			byTarget[strings.TrimPrefix(vd.Artifact.Location, w.DownloadURL+"/release/"+v.String()+"/")] = vd
		}
	}
	targets := map[string]bool{}
	for _, f := range faults {
		targets[f.Target] = true
		vd, ok := byTarget[f.Target]
		// Only the SBOM's sums bind a binary's name (TestSubstitutions):
		// served with the SBOM here, cross-arch must fail too.
		if !ok || vd.Status == verify.StatusVerified {
			t.Errorf("%s: %s: %s", f, vd.Status, vd.Reason)
		}
		if (f.Kind == testworld.FaultChangelogSum || f.Kind == testworld.FaultPromoterDigest) && vd.FailedCheck != "digest" {
			t.Errorf("%s: %s [%s] %s, want check digest", f, vd.Status, vd.FailedCheck, vd.Reason)
		}
	}
	for target, vd := range byTarget {
		// The foreign referrer's index lists other platform images.
		if !targets[target] && vd.Status != verify.StatusVerified && !strings.HasPrefix(target, "kube-scheduler-") {
			t.Errorf("%s beside the faults: %s: %s", target, vd.Status, vd.Reason)
		}
	}
	t.Logf("%d faults among %d verdicts of %s", len(faults), len(byTarget), v)
}

// Channels pinned to a commit are kept in the cache directory and read
// from it in a later session; channels read at a branch are not kept.
func TestChannelsPinnedAreCached(t *testing.T) {
	v := newestOf(t, "1.34")
	w := amd64World(t, v)
	cache := t.TempDir()
	c := channelsConfig(w)
	c.ChannelCacheDir = cache
	c.PromoterRef = testworld.ChannelCommit // the CHANGELOG at master: not kept
	verifyVersions(t, c, v.String())
	entries, err := os.ReadDir(filepath.Join(cache, "channels"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache: %v, %v; want the promoter's manifest alone", entries, err)
	}
	w.ServeChannels(false) // the host is gone: the pinned document is read from the cache
	res := verifyVersions(t, c, v.String())
	for _, vd := range res[0].Verdicts {
		bound := vd.Status == verify.StatusVerified && len(vd.Artifact.Unbound) == 0
		if vd.Artifact.Kind == artifacts.KindImage && !bound {
			t.Errorf("%s from the cache: %s: %s", vd.Artifact.ID(), vd.Status, vd.Reason)
		}
		if vd.Artifact.Kind == artifacts.KindTarball && !strings.Contains(vd.Reason, "not bound by the changelog") {
			t.Errorf("%s with the CHANGELOG at a branch gone: %s: %s", vd.Artifact.ID(), vd.Status, vd.Reason)
		}
	}
}
