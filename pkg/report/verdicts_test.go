package report_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

func image(name, arch string, status verify.Status, digest string) verify.Verdict {
	a := artifacts.Artifact{Kind: artifacts.KindImage, Name: name, Location: "registry.k8s.io/" + name + ":v1.24.17"}
	if arch != "" {
		a.Platform = artifacts.Platform{OS: "linux", Arch: arch}
		a.Location = "registry.k8s.io/" + name + "-" + arch + ":v1.24.17"
	}
	return verify.Verdict{Artifact: a, Status: status, Digest: digest, Reason: string(status)}
}

// verification is a report of verdicts on release version ("" : none).
func verification(version string, vs []verify.Verdict) *report.Report {
	var rel *artifacts.Release
	if version != "" {
		v, _ := artifacts.ParseVersion(version)
		rel = &artifacts.Release{Version: v}
	}
	return report.NewVerification(report.Tool{Name: "k8sverify", Version: "test"}, time.Unix(0, 0), []report.Section{{Release: rel, Verdicts: vs}}, nil)
}

func TestMirrorList(t *testing.T) {
	rep := verification("v1.24.17", []verify.Verdict{
		image("kube-apiserver", "", verify.StatusVerified, "sha256:aa"),
		image("kube-apiserver", "amd64", verify.StatusVerified, "sha256:bb"),
		image("kube-proxy", "", verify.StatusVerified, "sha256:cc"),
		image("kube-proxy", "amd64", verify.StatusVerified, "sha256:dd"),
		image("kube-proxy", "arm64", verify.StatusFailed, "sha256:ee"),
		image("kube-scheduler", "amd64", verify.StatusUnsigned, "sha256:ff"),
		{Artifact: artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl"}, Status: verify.StatusVerified, Digest: "sha256:11"},
	})
	var b bytes.Buffer
	if err := report.WriteMirrorList(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `registry.k8s.io/kube-apiserver:v1.24.17@sha256:aa
registry.k8s.io/kube-apiserver-amd64:v1.24.17@sha256:bb
registry.k8s.io/kube-proxy-amd64:v1.24.17@sha256:dd
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWorstAndSummary(t *testing.T) {
	for _, tc := range []struct {
		statuses []verify.Status
		worst    verify.Status
	}{
		{[]verify.Status{verify.StatusVerified}, verify.StatusVerified},
		{[]verify.Status{verify.StatusVerified, verify.StatusUnsigned}, verify.StatusUnsigned},
		{[]verify.Status{verify.StatusError, verify.StatusFailed, verify.StatusMissing}, verify.StatusFailed},
	} {
		var vs []verify.Verdict
		for _, s := range tc.statuses {
			vs = append(vs, image("x", "", s, ""))
		}
		rep := verification("", vs)
		if got := rep.Worst(); verify.Rank(got) != verify.Rank(tc.worst) {
			t.Errorf("%v: worst %s, want %s", tc.statuses, got, tc.worst)
		}
		if rep.Summary.Total != len(vs) {
			t.Errorf("summary %+v", rep.Summary)
		}
	}
}

func TestJUnit(t *testing.T) {
	rep := verification("v1.24.17", []verify.Verdict{
		image("a", "", verify.StatusVerified, ""), image("b", "", verify.StatusFailed, ""),
		image("c", "", verify.StatusError, ""), image("d", "", verify.StatusUnsigned, ""),
	})
	var b bytes.Buffer
	if err := report.WriteJUnit(&b, rep); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Errors   int `xml:"errors,attr"`
			Skipped  int `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	s := parsed.Suites[0]
	if s.Tests != 4 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 1 {
		t.Errorf("got %+v\n%s", s, b.String())
	}
	if !strings.Contains(b.String(), `<failure message="failed" type="failed">failed`) || !strings.Contains(b.String(), `time="`) {
		t.Error(b.String())
	}
}

// Each image listed is followed by the references of its signatures that
// verified; a signature in a repository no listed image lives in (a
// platform's, in its index's repository, the index not listed) is left
// out, and so is one that did not verify.
func TestMirrorListSignatures(t *testing.T) {
	signed := func(v verify.Verdict, refs ...string) verify.Verdict {
		v.Signatures = []*verify.SignatureResult{{Source: verify.SourceSignatureTag, References: refs}}
		return v
	}
	rejected := &verify.SignatureResult{Source: verify.SourceReferrer, References: []string{"registry.k8s.io/kube-apiserver-amd64@sha256:99"}, Result: sigverify.Result{Err: sigverify.ErrIdentityMismatch}}
	apiAmd64 := signed(image("kube-apiserver", "amd64", verify.StatusVerified, "sha256:bb"),
		"registry.k8s.io/kube-apiserver-amd64:sha256-bb.sig", "registry.k8s.io/kube-apiserver:sha256-bb.sig")
	apiAmd64.Signatures = append(apiAmd64.Signatures, rejected)
	rep := verification("v1.24.17", []verify.Verdict{
		signed(image("kube-apiserver", "", verify.StatusVerified, "sha256:aa"), "registry.k8s.io/kube-apiserver:sha256-aa.sig"),
		apiAmd64,
		image("kube-proxy", "", verify.StatusVerified, "sha256:cc"),
		signed(image("kube-proxy", "amd64", verify.StatusVerified, "sha256:dd"),
			"registry.k8s.io/kube-proxy-amd64:sha256-dd.sig", "registry.k8s.io/kube-proxy:sha256-dd.sig"),
		image("kube-proxy", "arm64", verify.StatusFailed, "sha256:ee"),
	})
	var b bytes.Buffer
	if err := report.WriteMirrorList(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `registry.k8s.io/kube-apiserver:v1.24.17@sha256:aa
registry.k8s.io/kube-apiserver:sha256-aa.sig
registry.k8s.io/kube-apiserver-amd64:v1.24.17@sha256:bb
registry.k8s.io/kube-apiserver-amd64:sha256-bb.sig
registry.k8s.io/kube-apiserver:sha256-bb.sig
registry.k8s.io/kube-proxy-amd64:v1.24.17@sha256:dd
registry.k8s.io/kube-proxy-amd64:sha256-dd.sig
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// A run over several releases shows their history first: one row per
// release, one column per kind (binaries, tarballs, images), each cell
// counting the statuses, with the known incidents that concern what did
// not verify.
func TestHistoryMatrix(t *testing.T) {
	section := func(version string, vs ...verify.Verdict) report.Section {
		v, _ := artifacts.ParseVersion(version)
		return report.Section{Release: &artifacts.Release{Version: v}, Verdicts: vs}
	}
	bin := func(status verify.Status) verify.Verdict {
		return verify.Verdict{Artifact: artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"}}, Status: status}
	}
	incident := artifacts.Incident{ID: "v1.24.8-wrong-identity"}
	failed := image("kube-proxy", "amd64", verify.StatusFailed, "")
	failed.Incidents = []artifacts.Incident{incident}
	rep := report.NewVerification(report.Tool{Name: "k8sverify", Version: "test"}, time.Unix(0, 0), []report.Section{
		section("v1.24.8", bin(verify.StatusUnsigned), bin(verify.StatusUnsigned), failed, image("kube-proxy", "", verify.StatusFailed, "")),
		section("v1.24.17", bin(verify.StatusVerified), image("kube-proxy", "amd64", verify.StatusVerified, "sha256:00")),
	}, nil)
	var out bytes.Buffer
	if err := report.WriteTable(&out, rep, report.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "RELEASE   BINARIES    IMAGES\n" +
		"v1.24.8   2 unsigned  2 failed (incident v1.24.8-wrong-identity)\n" +
		"v1.24.17  1 verified  1 verified\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("matrix:\n%s\nwant it to begin with:\n%s", out.String(), want)
	}
}

// Under the table, each incident that may explain a problem is listed
// once, naming the releases it concerns in a report of several.
func TestIncidentsListedOnce(t *testing.T) {
	region := artifacts.Incident{ID: "signatures-by-region", Summary: "regional signatures differ", Source: "https://example.com/187"}
	section := func(version string) report.Section {
		v, _ := artifacts.ParseVersion(version)
		unsigned := image("kube-proxy", "arm64", verify.StatusUnsigned, "sha256:ee")
		unsigned.Incidents = []artifacts.Incident{region}
		return report.Section{Release: &artifacts.Release{Version: v, Incidents: []artifacts.Incident{region}}, Verdicts: []verify.Verdict{unsigned}}
	}
	rep := report.NewVerification(report.Tool{Name: "k8sverify", Version: "test"}, time.Unix(0, 0), []report.Section{section("v1.24.11"), section("v1.24.12")}, nil)
	var b bytes.Buffer
	if err := report.WriteTable(&b, rep, report.TableOptions{AcceptHint: "accept it with ACCEPT %s"}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "regional signatures differ"); n != 1 {
		t.Errorf("the incident is listed %d times:\n%s", n, b.String())
	}
	if !strings.Contains(b.String(), "signatures-by-region (v1.24.11, v1.24.12): regional signatures differ") {
		t.Errorf("the incident does not name its releases:\n%s", b.String())
	}
}

// How to accept an incident is said only where accepting it would change
// a verdict: an artifact failed on the signer's identity, under an
// incident that documents the identities that signed instead. Accepting
// any other incident (one explaining unsigned images, or a second
// signature by another identity) changes nothing.
func TestAcceptHintOnlyWhereItChangesAVerdict(t *testing.T) {
	promoter := artifacts.Identity{SAN: "promoter@example.iam.gserviceaccount.com", Issuer: "https://accounts.google.com"}
	for _, tc := range []struct {
		name     string
		status   verify.Status
		check    sigverify.CheckName
		incident artifacts.Incident
		hint     bool
	}{
		{"unsigned, incident explains unsigned", verify.StatusUnsigned, "", artifacts.Incident{ID: "partly-unsigned", Explains: []string{"unsigned"}}, false},
		{"identity failed, incident documents identities", verify.StatusFailed, sigverify.CheckIdentity, artifacts.Incident{ID: "wrong-identity", Explains: []string{"identity"}, Identities: []artifacts.Identity{promoter}}, true},
		{"identity failed, incident documents none", verify.StatusFailed, sigverify.CheckIdentity, artifacts.Incident{ID: "double-signature", Explains: []string{"identity"}}, false},
		{"digest failed, incident documents identities", verify.StatusFailed, verify.CheckDigest, artifacts.Incident{ID: "wrong-identity", Identities: []artifacts.Identity{promoter}}, false},
		{"missing, incident documents identities", verify.StatusMissing, "", artifacts.Incident{ID: "wrong-identity", Identities: []artifacts.Identity{promoter}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.incident.Summary, tc.incident.Source = "what happened", "https://example.com/2789"
			v := image("kube-proxy", "amd64", tc.status, "sha256:ee")
			v.FailedCheck, v.Incidents = tc.check, []artifacts.Incident{tc.incident}
			rel := &artifacts.Release{Version: artifacts.Version{Major: 1, Minor: 24, Patch: 8}, Incidents: []artifacts.Incident{tc.incident}}
			rep := report.NewVerification(report.Tool{Name: "k8sverify", Version: "test"}, time.Unix(0, 0), []report.Section{{Release: rel, Verdicts: []verify.Verdict{v}}}, nil)
			var b bytes.Buffer
			if err := report.WriteTable(&b, rep, report.TableOptions{AcceptHint: "accept it with ACCEPT %s"}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tc.incident.ID+": what happened") {
				t.Errorf("the incident is not listed:\n%s", b.String())
			}
			if got := strings.Contains(b.String(), "accept it with ACCEPT "+tc.incident.ID+"\n"); got != tc.hint {
				t.Errorf("hint shown: %v, want %v:\n%s", got, tc.hint, b.String())
			}
		})
	}
}
