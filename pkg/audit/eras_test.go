package audit_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// verifyAll verifies every release of the world, each as verify selects
// it by default, in one session.
func verifyAll(t *testing.T, w *testworld.World, c audit.Config) map[string][]verify.Verdict {
	t.Helper()
	var rels []*artifacts.Release
	for _, rs := range w.Releases {
		rel, err := audit.Selection{}.Apply(rs.Release)
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
	}
	res, err := sessions.New(t, c).VerifyReleases(context.Background(), rels, audit.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]verify.Verdict{}
	for i, r := range res {
		out[w.Releases[i].Version.String()] = r.Verdicts
	}
	return out
}

// Each era of the line's signing infrastructure verifies: the first Rekor
// shard and the CT test log (v1.24.1), the second shard (v1.24.2), the
// 2022 CT log (v1.24.9), 2023 certificates (v1.24.17).
func TestEachEraVerifies(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.1,v1.24.2,v1.24.9,v1.24.13,v1.24.17", Small: true})
	for v, vs := range verifyAll(t, w, sessions.Config(w)) {
		if len(vs) == 0 {
			t.Errorf("%s: no verdicts", v)
		}
		for _, vd := range vs {
			want := verify.StatusVerified
			if vd.Artifact.Kind != artifacts.KindImage && (v == "v1.24.1" || v == "v1.24.2") {
				want = verify.StatusUnsigned // binaries were signed from v1.24.9 on
			}
			if vd.Status != want {
				t.Errorf("%s %s: %s (%s), want %s", v, vd.Artifact.ID(), vd.Status, vd.Reason, want)
			}
		}
	}
}

// What users of the real infrastructure hit: signatures published days
// after the release (unsigned with a hint, then verified), a signature
// manifest lost in one regional backend (verified through the canonical
// one), a .sha256 served without its binary (missing, never failed).
func TestWhatUsersHit(t *testing.T) {
	const late, lost, binary = "kube-proxy-arm64", "kube-proxy-amd64", "bin/linux/amd64/kubectl"
	w := testworld.StartT(t, testworld.Options{Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultSignedLate, Target: late},
		{Kind: testworld.FaultSigLostInRegion, Target: lost},
		{Kind: testworld.FaultMissing, Target: binary},
	}})
	for _, download := range []bool{false, true} {
		vs := verifyWorld(t, w, audit.VerifyOptions{Download: download})
		for _, v := range vs {
			want, target := verify.StatusVerified, ""
			if v.Artifact.Kind == artifacts.KindImage {
				target = testworld.ImageRepository(v.Artifact)
			} else {
				target = strings.TrimPrefix(v.Artifact.Location, w.DownloadURL+"/release/"+w.Version.String()+"/")
			}
			switch target {
			case late:
				want = verify.StatusUnsigned
				if !strings.HasSuffix(v.Reason, verify.LateSignatureHint) {
					t.Errorf("%s: reason %q lacks the hint that signatures can lag", target, v.Reason)
				}
			case binary:
				want = verify.StatusMissing
			}
			if v.Status != want {
				t.Errorf("download %v: %s: %s (%s), want %s", download, target, v.Status, v.Reason, want)
			}
		}
	}
	if err := w.PublishLateSignatures(); err != nil {
		t.Fatal(err)
	}
	for _, v := range verifyWorld(t, w, audit.VerifyOptions{}) {
		if v.Artifact.Kind == artifacts.KindImage && testworld.ImageRepository(v.Artifact) == late && v.Status != verify.StatusVerified {
			t.Errorf("%s once its signatures are published: %s: %s", late, v.Status, v.Reason)
		}
	}
}

var updateHistory = flag.Bool("update-history", false, "rewrite testdata/line-1.24-history.tsv from the world")

// historyFile is the expected history of the 1.24 line in a world of
// linux/amd64 and linux/s390x (every image, and the files of those
// platforms): one line per release, kind, status, failed check and
// incidents, with its count. scripts/e2e.sh checks the built binary's
// `verify 1.24 --platform linux/amd64 --platform linux/s390x` against it
// too.
const historyFile = "testdata/line-1.24-history.tsv"

// historyMatrix folds verdicts into the lines of historyFile.
func historyMatrix(vs map[string][]verify.Verdict) string {
	count := map[string]int{}
	for v, verdicts := range vs {
		for _, vd := range verdicts {
			var incidents []string
			for _, in := range vd.Incidents {
				incidents = append(incidents, in.ID)
			}
			check := vd.FailedCheck
			if check == "" {
				check = "-"
			}
			count[strings.Join([]string{v, string(vd.Artifact.Kind), string(vd.Status), string(check), strings.Join(incidents, ",")}, "\t")]++
		}
	}
	var lines []string
	for k, n := range count {
		lines = append(lines, fmt.Sprintf("%d\t%s", n, k))
	}
	slices.SortFunc(lines, func(a, b string) int {
		return cmp.Compare(historyKey(a), historyKey(b))
	})
	return strings.Join(lines, "\n") + "\n"
}

// historyKey sorts history lines by release (as versions), then the rest.
func historyKey(line string) string {
	f := strings.SplitN(line, "\t", 3)
	v, err := artifacts.ParseVersion(f[1])
	if err != nil {
		return line
	}
	return fmt.Sprintf("%04d\t%s", v.Patch, f[2])
}

// The whole 1.24 line, every era of its infrastructure in one world,
// gives exactly the documented history: every release verified but for
// the unsigned files before v1.24.9, v1.24.8's images signed by the
// promoter (failed, kubernetes/release#2789), v1.24.11's unsigned
// ppc64le/s390x images (#2962) and v1.24.12's unsigned conformance images
// (#2971).
func TestLineHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole line: 18 releases")
	}
	ps := []artifacts.Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "s390x"}}
	w := testworld.StartT(t, testworld.Options{Version: "1.24", Platforms: ps})
	res, err := sessions.New(t, sessions.Config(w)).Verify(context.Background(), audit.VerifyRequest{Versions: []string{"1.24"}, Selection: audit.Selection{Platforms: ps}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vs := map[string][]verify.Verdict{}
	for _, r := range res {
		vs[r.Release.Version.String()] = r.Verdicts
	}
	got := historyMatrix(vs)
	if *updateHistory {
		must(t, os.WriteFile(historyFile, []byte(got), 0o644))
	}
	want, err := os.ReadFile(historyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the line's history differs from %s:\n%s", historyFile, got)
	}
}

// The carried staging signature is reported beside the one that verifies,
// named for what it is.
func TestCarriedSignatureReported(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.10", Kinds: imageKind, Small: true})
	for _, v := range verifyWorld(t, w, audit.VerifyOptions{}) {
		if v.Status != verify.StatusVerified || len(v.Signatures) != 2 ||
			!strings.Contains(v.Reason, "1 of 2 signatures rejected") || !strings.Contains(v.Reason, "the staging signature the promoter carries over") {
			t.Errorf("%s: %s (%d signatures): %s", v.Artifact.ID(), v.Status, len(v.Signatures), v.Reason)
		}
	}
}
