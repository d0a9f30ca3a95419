package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// runIn runs the command line in process with the world's K8SVERIFY_*
// environment, as a user who sourced DIR/env would.
func runIn(t *testing.T, w *testworld.World, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env := map[string]string{"K8SVERIFY_NO_PROGRESS": "1", "K8SVERIFY_TIMEOUT": "10s"}
	for _, kv := range w.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

var blobKinds = []artifacts.Kind{artifacts.KindBinary, artifacts.KindTarball}

func TestVerifyWholeReleaseOfBlobs(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds})
	code, out, errOut := runIn(t, w, "verify", "v1.24.17", "--kind", "binary,tarball")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "130 artifacts: 130 verified, 0 failed") {
		t.Errorf("summary missing:\n%s", out)
	}
	// The 20 .docker_tag files are never signed: selected explicitly, they
	// are unsigned, for that reason.
	code, out, _ = runIn(t, w, "verify", "v1.24.17", "--kind", "binary,tarball", "--include-never-signed")
	if code != ExitIncomplete || !strings.Contains(out, "150 artifacts: 130 verified, 0 failed, 20 unsigned") || !strings.Contains(out, "never signed: krel sign blobs skips .docker_tag files") {
		t.Errorf("with the never-signed files: exit %d\n%s", code, out)
	}
}

func TestVerifyForgeriesExit1(t *testing.T) {
	for _, tc := range []struct {
		fault testworld.FaultKind
		check string
	}{
		{testworld.FaultForgedSET, "[check: transparency-log]"},
		{testworld.FaultForeignIdentity, "got attacker@evil-project.iam.gserviceaccount.com"},
		{testworld.FaultBadSHA256, "[check: digest]"},
		{testworld.FaultExpiredCert, "[check: validity-at-log-time]"},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true,
				Faults: []testworld.Fault{{Kind: tc.fault, Target: "bin/linux/amd64/kubectl"}}})
			code, out, _ := runIn(t, w, "verify", "v1.24.17", "--kind", "binary,tarball")
			if code != ExitFailed {
				t.Errorf("exit %d, want %d", code, ExitFailed)
			}
			var failed []string
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, " failed ") {
					failed = append(failed, line)
				}
			}
			if len(failed) != 1 || !strings.Contains(failed[0], "kubectl ") || !strings.Contains(failed[0], "linux/amd64") || !strings.Contains(failed[0], tc.check) {
				t.Errorf("want exactly kubectl linux/amd64 failed with %q, got:\n%s", tc.check, strings.Join(failed, "\n"))
			}
		})
	}
}

func TestVerifyV1240BinariesUnsignedExit3(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.0", Kinds: blobKinds, Small: true})
	code, out, _ := runIn(t, w, "verify", "v1.24.0", "--kind", "binary", "--platform", "linux/amd64")
	if code != ExitIncomplete {
		t.Errorf("exit %d, want %d", code, ExitIncomplete)
	}
	// Expected by the release's history: one line, unless --all.
	if !strings.Contains(out, "(16 binaries)  -         unsigned  -       not signed in this release (expected: this release predates signing of binaries) [--all lists each]") ||
		strings.Contains(out, "kubectl") {
		t.Errorf("want one line of 16 unsigned binaries (not signed in this release):\n%s", out)
	}
	code, out, _ = runIn(t, w, "verify", "v1.24.0", "--kind", "binary", "--platform", "linux/amd64", "--all")
	if code != ExitIncomplete || strings.Count(out, "unsigned  -       not signed in this release") != 16 {
		t.Errorf("--all: exit %d\n%s", code, out)
	}
}

func TestVerifyDownloadOut(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true})
	dir := t.TempDir()
	code, out, errOut := runIn(t, w, "verify", "v1.24.17", "--kind", "binary", "--platform", "linux/arm64", "--download", "--out", dir, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `"digestSource": "download"`) {
		t.Error("JSON does not say the digest came from the download")
	}
	got, err := os.ReadFile(filepath.Join(dir, "v1.24.17", "bin", "linux", "arm64", "kubectl"))
	if err != nil || !bytes.Equal(got, w.Files["bin/linux/arm64/kubectl"].Content) {
		t.Errorf("verified kubectl not kept intact: %v", err)
	}
}

func TestVerifyFile(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	genuine := write("kubectl", w.Files["bin/linux/amd64/kubectl"].Content)
	tampered := append([]byte(nil), w.Files["bin/linux/amd64/kubectl"].Content...)
	tampered[0] ^= 1
	bad := write("kubectl-tampered", tampered)
	empty := write("empty", nil)

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"with version", []string{"verify-file", genuine, "--version", "v1.24.17"}, ExitOK, "kubectl v1.24.17 linux/amd64: signed by krel-staging@k8s-releng-prod.iam.gserviceaccount.com, Rekor log index"},
		{"from the log", []string{"verify-file", genuine}, ExitOK, genuine + ": kubectl linux/amd64 v1.24.17 verified: signed by krel-staging"},
		{"tampered with version", []string{"verify-file", bad, "--version", "v1.24.17"}, ExitFailed, "not a file of v1.24.17"},
		{"tampered from the log", []string{"verify-file", bad}, ExitIncomplete, "returns no signature of sha256:"},
		{"empty file", []string{"verify-file", empty, "--version", "v1.24.17"}, ExitFailed, "not a file of v1.24.17"},
		{"directory", []string{"verify-file", dir}, ExitUsage, "is not a regular file"},
		{"missing file", []string{"verify-file", filepath.Join(dir, "nope")}, ExitUsage, "no such file"},
		{"one bad among good", []string{"verify-file", genuine, bad, "--version", "v1.24.17"}, ExitFailed, "1 verified, 1 failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIn(t, w, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

var portRE = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

func TestVerifyUsageErrors(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	var b strings.Builder
	for _, args := range [][]string{
		{"verify"},
		{"verify", "banana"},
		{"verify", "v1.24.17", "--kind", "firmware"},
		{"verify", "v1.24.17", "--platform", "linux"},
		{"verify", "v1.24.17", "-o", "yaml"},
		{"verify", "v1.24.17", "-o", "json=/nonexistent/dir/report.json"},
		{"verify", "v1.24.17", "--out", "/tmp/x"},
		{"verify", "v1.24.17", "--evidence", "/nonexistent/pack"},
		{"verify", "v1.24.17", "--offline"},
		{"verify", "latest-1.24", "--offline", "--evidence", "/nonexistent/pack"},
		{"verify", "v1.24.17", "--offline", "--evidence", "/nonexistent/pack", "--download"},
		{"fetch", "v1.24.17"},
		{"verify", "v1.24.17", "--trusted-root", "/nonexistent/trusted_root.json"},
		{"verify", "v1.24.17", "--rekor-url", "http://rekor.example.com"},
		{"verify", "v1.24.17", "--concurrency", "0"},
		{"verify-file"},
		{"verify-blob", "kubectl"},
		{"verify-blob", "sha256:xyz", "--bundle", "b.json"},
		{"verify", "v1.24.17", "--quiet", "-v"},
		{"verify", "v1.24.17", "--platfrom", "linux/amd64"},
		{"verify", "v1.24.17", "--dowload"},
		{"verfy", "v1.24.17"},
	} {
		code, out, errOut := runIn(t, w, args...)
		fmt.Fprintf(&b, "$ k8sverify %s\nexit %d\n%s%s\n", strings.Join(args, " "), code, out, portRE.ReplaceAllString(errOut, "127.0.0.1:PORT"))
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
	golden(t, "verify-usage-errors.txt", b.String())
}

// A release asked for by an alias is named with what it resolved to, and
// a release asked for twice (as v1.24.17 and 1.24.17, or through its
// alias) is judged once.
func TestVerifyResolvesAndDeduplicatesVersions(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: blobKinds})
	sel := []string{"--kind", "binary", "--platform", "linux/arm64"}
	_, once, _ := runIn(t, w, append([]string{"verify", "v1.24.17"}, sel...)...)
	summary := regexp.MustCompile(`(?m)^\d+ artifacts: .*$`).FindString(once)
	if summary == "" {
		t.Fatalf("no summary:\n%s", once)
	}
	for _, tc := range []struct {
		versions []string
		resolved string
	}{
		{[]string{"v1.24.17", "1.24.17"}, ""},
		{[]string{"latest-1.24"}, "Resolved: latest-1.24 = v1.24.17.\n"},
		{[]string{"latest-1.24", "v1.24.17"}, "Resolved: latest-1.24 = v1.24.17.\n"},
		// The alias is resolved whichever comes first.
		{[]string{"v1.24.17", "latest-1.24"}, "Resolved: latest-1.24 = v1.24.17.\n"},
	} {
		t.Run(strings.Join(tc.versions, " "), func(t *testing.T) {
			code, out, errOut := runIn(t, w, append(append([]string{"verify"}, tc.versions...), sel...)...)
			if code != ExitOK || !strings.Contains(out, summary+"\n") || strings.Contains(out, "RELEASE") {
				t.Errorf("exit %d, want %d and v1.24.17 judged once (%s)\n%s\n%s", code, ExitOK, summary, out, errOut)
			}
			if tc.resolved != "" && !strings.Contains(out, tc.resolved+summary) {
				t.Errorf("want %q before the summary:\n%s", tc.resolved, out)
			}
			if tc.resolved == "" && strings.Contains(out, "Resolved:") {
				t.Errorf("nothing to resolve, yet:\n%s", out)
			}
		})
	}
	// The JSON report says it too.
	code, out, _ := runIn(t, w, append([]string{"verify", "latest-1.24", "-o", "json"}, sel...)...)
	if code != ExitOK || !strings.Contains(out, `"version": "v1.24.17",
      "requested": "latest-1.24",`) {
		t.Errorf("JSON: exit %d\n%s", code, out)
	}
}

// A linux/amd64 kubectl that cannot be checked is an error (exit 3), never
// failed nor verified, and the reason says why; the files beside it still
// verify:
//   - a release SBOM that does not list it (served cut short at a line's
//     end, it still parses) binds it to nothing: another signed file of the
//     release served in its place would pass as it;
//   - its .cert published without its .sig is half a signature.
func TestKubectlThatCannotBeCheckedIsAnError(t *testing.T) {
	for _, tc := range []struct {
		fault  testworld.FaultKind
		reason string
	}{
		{testworld.FaultSBOMOmits, "nothing independent of the download site binds this file to its name and platform: the release SBOM does not list it"},
		{testworld.FaultCertOnly, "its .cert is published without its .sig"},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{Small: true, Kinds: blobKinds,
				Faults: []testworld.Fault{{Kind: tc.fault, Target: "bin/linux/amd64/kubectl"}}})
			code, out, errOut := runIn(t, w, "verify", "v1.24.17", "--kind", "binary", "--platform", "linux/amd64", "-o", "json")
			var rep struct {
				Artifacts []struct{ Name, Status, Reason string }
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitIncomplete {
				t.Fatalf("exit %d (want 3), %v\n%s\n%s", code, err, out, errOut)
			}
			for _, a := range rep.Artifacts {
				switch {
				case a.Name == "kubectl" && (a.Status != "error" || !strings.Contains(a.Reason, tc.reason)):
					t.Errorf("kubectl: %s: %s", a.Status, a.Reason)
				case a.Name != "kubectl" && a.Status != "verified":
					t.Errorf("%s beside it: %s: %s", a.Name, a.Status, a.Reason)
				}
			}
		})
	}
}
