package report

import (
	"strings"
	"testing"
)

// Artifacts in a state the release's history documents (unsigned before
// signing began) are one line per release and kind, unless All; a
// problem beside them is listed on its own, its reason whole.
func TestTableCollapsesExpectedStates(t *testing.T) {
	r := &Report{Kind: KindVerification, Summary: &Summary{}}
	for _, p := range []string{"linux/amd64", "linux/arm64", "darwin/amd64"} {
		r.Artifacts = append(r.Artifacts, Artifact{Release: "v1.24.3", Kind: "binary", Name: "kubectl", Platform: p,
			Signing: "not-expected", Status: "unsigned", Reason: "not signed in this release (expected: this release predates signing of binaries)"})
	}
	r.Artifacts = append(r.Artifacts, Artifact{Release: "v1.24.3", Kind: "image", Name: "kube-proxy", Platform: "linux/amd64",
		Signing: "expected", Status: "unsigned", Reason: "no signature published, although this release signs its images"})
	r.recount()
	var b strings.Builder
	if err := WriteTable(&b, r, TableOptions{Width: 80, ExpandHint: "ALL lists each"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "kubectl") != 0 || !strings.Contains(out, "(3 binaries)") || !strings.Contains(out, "[ALL lists each]") ||
		!strings.Contains(out, "kube-proxy") {
		t.Errorf("collapsed:\n%s", out)
	}
	b.Reset()
	if err := WriteTable(&b, r, TableOptions{Width: 80, All: true}); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Count(out, "kubectl") != 3 || strings.Contains(out, "(3 binaries)") {
		t.Errorf("All:\n%s", out)
	}
}

// A word longer than the line (an identity, a URL) is never broken.
func TestWrapWordsKeepsLongWords(t *testing.T) {
	long := "attacker@evil-project.iam.gserviceaccount.com"
	lines := wrapWords("got "+long+" (issuer https://accounts.google.com)", 20)
	if len(lines) != 4 || lines[1] != long || lines[0] != "got" {
		t.Errorf("%q", lines)
	}
}

// A JUnit suite's time is the run's wall time, not the sum of its
// artifacts' times, which overlap (checked concurrently).
func TestJUnitSuiteTimeIsWallTime(t *testing.T) {
	r := &Report{Kind: KindVerification, Summary: &Summary{}, Seconds: 0.5}
	for _, n := range []string{"kubectl", "kubeadm"} {
		r.Artifacts = append(r.Artifacts, Artifact{Release: "v1.24.17", Kind: "binary", Name: n, Status: "verified", Seconds: 0.4})
	}
	var b strings.Builder
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Count(out, `time="0.500"`) != 2 || strings.Contains(out, `time="0.800"`) {
		t.Errorf("%s", out)
	}
}
