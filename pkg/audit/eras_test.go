package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
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
	res, err := newSession(t, c).VerifyReleases(context.Background(), rels, audit.VerifyOptions{}, nil)
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
	for v, vs := range verifyAll(t, w, config(w)) {
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
