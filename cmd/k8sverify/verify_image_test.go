package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

var imageKind = []artifacts.Kind{artifacts.KindImage}

func TestVerifyImagesOfRelease(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind})
	code, out, errOut := runIn(t, w, "verify", "v1.24.17", "--kind", "image")
	if code != ExitOK || !strings.Contains(out, "30 artifacts: 30 verified") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runIn(t, w, "verify", "v1.24.17", "--kind", "image", "-o", "mirror-list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// 30 images, each followed by its signatures: an index's .sig in its
	// repository, a platform image's in its own and in its index's.
	if code != ExitOK || len(lines) != 30+5+2*25 {
		t.Fatalf("mirror-list: exit %d, %d lines:\n%s", code, len(lines), out)
	}
	images := 0
	for _, l := range lines {
		switch {
		case !strings.HasPrefix(l, w.Registry+"/"):
			t.Errorf("not a reference of the registry: %q", l)
		case strings.Contains(l, ":v1.24.17@sha256:"):
			images++
		case !regexp.MustCompile(`:sha256-[0-9a-f]{64}\.sig$`).MatchString(l):
			t.Errorf("neither a digest-pinned image nor a signature tag: %q", l)
		}
	}
	if images != 30 {
		t.Errorf("%d digest-pinned images, want 30", images)
	}
	if !strings.HasPrefix(lines[0], w.Registry+"/") || !strings.Contains(lines[0], "@sha256:") || !strings.HasSuffix(lines[1], ".sig") {
		t.Errorf("an image, then its signatures: %q, %q", lines[0], lines[1])
	}
}

func TestVerifyImageHistory(t *testing.T) {
	for _, tc := range []struct {
		version string
		code    int
		want    []string
	}{
		{"v1.24.6", ExitOK, []string{"(2 signatures found)"}},
		{"v1.24.8", ExitFailed, []string{"got k8s-infra-gcr-promoter@k8s-artifacts-prod.iam.gserviceaccount.com", "known incident: v1.24.8-"}},
		{"v1.24.11", ExitIncomplete, []string{`ppc64le\s+unsigned`, `amd64\s+verified`}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{Version: tc.version, Kinds: imageKind})
			code, out, errOut := runIn(t, w, "verify", tc.version, "--kind", "image")
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			for _, want := range tc.want {
				if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(out) && !regexp.MustCompile(want).MatchString(out) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestVerifyImageRefs(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind,
		Faults: []testworld.Fault{{Kind: testworld.FaultPayloadDigest, Target: "kube-proxy-arm64"}}})
	cases := []struct {
		name string
		args []string
		code int
		want string
		deny string
	}{
		{"index, every platform", []string{"verify-image", "kube-apiserver:v1.24.17"}, ExitOK, "3 artifacts: 3 verified", ""},
		{"full reference", []string{"verify-image", w.Registry + "/kube-apiserver-amd64:v1.24.17"}, ExitOK, "1 artifact: 1 verified", ""},
		{"one platform", []string{"verify-image", "kube-apiserver:v1.24.17", "--platform", "linux/arm64"}, ExitOK, "2 artifacts: 2 verified", ""},
		{"platform not in index", []string{"verify-image", "kube-apiserver:v1.24.17", "--platform", "linux/s390x"}, ExitIncomplete, "lists no linux/s390x manifest", ""},
		{"forged payload digest", []string{"verify-image", "kube-proxy-arm64:v1.24.17"}, ExitFailed, "[check: payload]", ""},
		{"no such tag", []string{"verify-image", "kube-apiserver:v9.9.9"}, ExitIncomplete, "missing", ""},
		{"mirror list leaves out the index with a failed platform", []string{"verify-image", "kube-proxy:v1.24.17", "-o", "mirror-list"}, ExitFailed, "kube-proxy@sha256:", "kube-proxy:v1.24.17@"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIn(t, w, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
			if tc.deny != "" && strings.Contains(out, tc.deny) {
				t.Errorf("output has %q:\n%s", tc.deny, out)
			}
		})
	}
}

// --any-name drops the check of the name a signature gives an image, and
// nothing else: the release tag of a pinned reference still binds the
// platform and digest. A mirror that serves the arm64 image, with its
// genuine signature, in kube-proxy-amd64 fails with or without the flag.
func TestVerifyImageAnyNameKeepsTheTagsBinding(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind})
	arm64 := w.Images["kube-proxy-arm64"].Digest
	amd64 := w.Images["kube-proxy-amd64"].Digest
	sigTag := ":" + strings.Replace(arm64.String(), ":", "-", 1) + ".sig"
	for _, c := range [][2]string{
		{w.Registry + "/kube-proxy-arm64@" + arm64.String(), w.Registry + "/kube-proxy-amd64@" + arm64.String()},
		{w.Registry + "/kube-proxy-arm64" + sigTag, w.Registry + "/kube-proxy-amd64" + sigTag},
	} {
		if err := crane.Copy(c[0], c[1], crane.Insecure); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		ref  string
		code int
		want string
	}{
		{"kube-proxy-amd64:v1.24.17@" + amd64.String(), ExitOK, "verified"},
		{"kube-proxy-amd64:v1.24.17@" + arm64.String(), ExitFailed, "linux/amd64  failed"},
	} {
		for _, anyName := range []bool{false, true} {
			args := []string{"verify-image", tc.ref}
			if anyName {
				args = append(args, "--any-name")
			}
			code, out, errOut := runIn(t, w, args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("%s: exit %d, want %d and %q\n%s\n%s", strings.Join(args, " "), code, tc.code, tc.want, out, errOut)
			}
		}
	}
}

// A release tag of a name's own repository names the release's index: a
// platform's image served at it, or pinned by digest under it, fails
// (check image), though it is a genuine signed image of the release; and
// a platform asked of a platform's repository that is not its platform
// fails (check platform) instead of being ignored.
func TestVerifyImageReleaseTagNamesItsIndex(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind})
	arm64 := w.Images["kube-proxy-arm64"].Digest.String()
	check := func(code int, want string, args ...string) {
		t.Helper()
		got, out, errOut := runIn(t, w, args...)
		if got != code || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s\n%s", strings.Join(args, " "), got, code, want, out, errOut)
		}
	}
	check(ExitOK, "verified", "verify-image", "kube-proxy:v1.24.17")
	check(ExitOK, "verified", "verify-image", "kube-proxy-amd64:v1.24.17", "--platform", "linux/amd64")
	check(ExitFailed, "index     failed", "verify-image", "kube-proxy:v1.24.17@"+arm64)
	check(ExitFailed, "an image for linux/arm64", "verify-image", "kube-proxy-amd64:v1.24.17", "--platform", "linux/arm64")
	if err := crane.Copy(w.Registry+"/kube-proxy-arm64@"+arm64, w.Registry+"/kube-proxy:v1.24.17", crane.Insecure); err != nil {
		t.Fatal(err)
	}
	// The catalog's digest of the tag is the index's: the platform image
	// served there fails that first (check digest).
	check(ExitFailed, "index     failed", "verify-image", "kube-proxy:v1.24.17")
}

// -o mirror-list lists exactly what mirror would copy: with --platform no
// multi-arch index (it lists every platform, and mirror leaves indexes
// out then), even when every image selected verified.
func TestMirrorListOfPlatformsListsNoIndex(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultUnsigned, Target: "kube-proxy-arm64"},
	}})
	// The small world serves kube-apiserver and kube-proxy only: the other
	// images are missing (exit 3).
	code, out, errOut := runIn(t, w, "verify", "v1.24.17", "--kind", "image", "--platform", "linux/amd64", "-o", "mirror-list")
	if code != ExitIncomplete {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	images := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(l, ":v1.24.17@sha256:") {
			continue
		}
		images++
		if !strings.Contains(l, "-amd64:v1.24.17@") {
			t.Errorf("listed, and mirror would not copy it: %s", l)
		}
	}
	if images != 2 {
		t.Errorf("%d images listed, want the 2 amd64 images:\n%s", images, out)
	}
}

// Every verification report carries the run's wall time, whichever
// command made it (a JUnit suite's time is taken from it).
func TestReportsCarryTheirSeconds(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind})
	for _, args := range [][]string{
		{"verify", "v1.24.17", "--kind", "image"},
		{"verify-image", "kube-apiserver:v1.24.17"},
	} {
		code, out, errOut := runIn(t, w, append(args, "-o", "json")...)
		var rep struct {
			Seconds float64 `json:"seconds"`
		}
		// (The small world publishes two of the release's images: the
		// others are missing, exit 3.)
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code == ExitUsage || rep.Seconds <= 0 {
			t.Errorf("%v: exit %d, seconds %v, %v\n%s", args, code, rep.Seconds, err, errOut)
		}
	}
}
