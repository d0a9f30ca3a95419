package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

var blobKinds = []artifacts.Kind{artifacts.KindBinary, artifacts.KindTarball}

// faultConfig is sessions.Config(w): the slow fault never answers, so the
// generous timeout is the time it costs, and no other request of a loaded
// machine races a shorter one.
func faultConfig(w *testworld.World, _ testworld.FaultKind) audit.Config {
	return sessions.Config(w)
}

// verifyWorld verifies the world's release as a session of c does.
func verifyWith(t testing.TB, w *testworld.World, c audit.Config, o audit.VerifyOptions) []verify.Verdict {
	t.Helper()
	res, err := sessions.New(t, c).VerifyReleases(context.Background(), []*artifacts.Release{sessions.Selected(t, w)}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Verdicts
}

func verifyWorld(t testing.TB, w *testworld.World, o audit.VerifyOptions) []verify.Verdict {
	t.Helper()
	return verifyWith(t, w, sessions.Config(w), o)
}

func byPath(t *testing.T, w *testworld.World, vs []verify.Verdict) map[string]verify.Verdict {
	t.Helper()
	m := map[string]verify.Verdict{}
	for _, v := range vs {
		p := strings.TrimPrefix(v.Artifact.Location, w.DownloadURL+"/release/"+w.Version.String()+"/")
		m[p] = v
	}
	return m
}

func TestBlobsOfFullReleaseVerifyWithoutDownloading(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds})
	vs := verifyWorld(t, w, audit.VerifyOptions{})
	if len(vs) < 100 {
		t.Fatalf("only %d blob verdicts", len(vs))
	}
	for _, v := range vs {
		if v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
		if v.DigestSource != "published .sha256" {
			t.Errorf("%s: digest from %q", v.Artifact.ID(), v.DigestSource)
		}
	}
}

func TestV1240BinariesUnsigned(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.0", Kinds: blobKinds, Small: true})
	vs := verifyWorld(t, w, audit.VerifyOptions{})
	// linux/amd64 and linux/arm64: 16 binaries (kube-apiserver.tar and
	// the like included) and 4 tarballs each, and the source tarball.
	wantVerdicts(t, vs, 2*16+2*4+1)
	for _, v := range vs {
		if v.Status != verify.StatusUnsigned || !strings.Contains(v.Reason, "not signed in this release") {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// Each forgery: exactly that artifact fails, for the right reason; the
// others still verify.
func TestBlobForgeries(t *testing.T) {
	const target = "bin/linux/amd64/kubectl"
	cases := []struct {
		fault    testworld.FaultKind
		download bool
		status   verify.Status
		sentinel error
	}{
		{testworld.FaultBadSHA256, false, verify.StatusFailed, sigverify.ErrSignatureInvalid},
		{testworld.FaultBadSHA256, true, verify.StatusFailed, sigverify.ErrDigestMismatch},
		{testworld.FaultFlipByte, true, verify.StatusFailed, sigverify.ErrDigestMismatch},
		{testworld.FaultForeignIdentity, false, verify.StatusFailed, sigverify.ErrIdentityMismatch},
		{testworld.FaultForeignIssuer, false, verify.StatusFailed, sigverify.ErrIdentityMismatch},
		{testworld.FaultForeignCA, false, verify.StatusFailed, sigverify.ErrCertificateUntrusted},
		{testworld.FaultReplay, false, verify.StatusFailed, sigverify.ErrSignatureInvalid},
		{testworld.FaultExpiredCert, false, verify.StatusFailed, sigverify.ErrCertificateExpired},
		{testworld.FaultForgedSET, false, verify.StatusFailed, sigverify.ErrLogEntryInvalid},
		{testworld.FaultNotInLog, false, verify.StatusFailed, sigverify.ErrNotInLog},
		{testworld.FaultGarbageSignature, false, verify.StatusFailed, sigverify.ErrBundleInvalid},
		{testworld.FaultUnsigned, false, verify.StatusUnsigned, nil},
		{testworld.FaultMissing, true, verify.StatusMissing, nil},
		{testworld.FaultMissing, false, verify.StatusMissing, nil}, // its .sha256 and signature served, kubernetes#121509
		{testworld.FaultHTTP500, false, verify.StatusError, nil},
		{testworld.FaultHTTP429, false, verify.StatusError, nil},
		{testworld.FaultReset, false, verify.StatusError, nil},
		{testworld.FaultTruncate, true, verify.StatusError, nil},
		{testworld.FaultSlow, false, verify.StatusError, nil},
	}
	// In the newest release's world and in v1.24.9's, the first with
	// signed files: .1.1-only certificates of 2022.
	for _, version := range []string{"v1.24.17", "v1.24.9"} {
		for _, tc := range cases {
			name := version + "/" + string(tc.fault)
			if tc.download {
				name += "/download"
			}
			runBlobForgery(t, name, version, target, tc.fault, tc.download, tc.status, tc.sentinel)
		}
	}
}

// runBlobForgery runs one case of the blob forgery table in a world of
// version.
func runBlobForgery(t *testing.T, name, version, target string, fault testworld.FaultKind, download bool, status verify.Status, sentinel error) {
	t.Run(name, func(t *testing.T) {
		t.Parallel() // the slow fault waits out the timeout, twice
		w := testworld.StartT(t, testworld.Options{Version: version, Kinds: blobKinds, Small: true,
			Faults: []testworld.Fault{{Kind: fault, Target: target}}})
		vs := byPath(t, w, verifyWith(t, w, faultConfig(w, fault), audit.VerifyOptions{Download: download}))
		got := vs[target]
		if got.Status != status {
			t.Fatalf("%s: got %s (%s), want %s", target, got.Status, got.Reason, status)
		}
		if sentinel != nil && !errors.Is(got.Err, sentinel) {
			t.Errorf("reason %q (check %s) does not name %v", got.Reason, got.FailedCheck, sentinel)
		}
		if errors.Is(sentinel, sigverify.ErrSignatureInvalid) && !strings.Contains(got.Reason, "got a signature that does not verify over it") {
			t.Errorf("reason %q: a signature was there, and did not verify", got.Reason)
		}
		t.Logf("%s: %s", got.Status, got.Reason)
		for p, v := range vs {
			if p != target && v.Status != verify.StatusVerified {
				t.Errorf("%s beside the fault: %s: %s", p, v.Status, v.Reason)
			}
		}
	})
}

func TestTransientFaultsAreRetried(t *testing.T) {
	const target = "bin/linux/amd64/kubectl"
	for _, kind := range []testworld.FaultKind{testworld.FaultHTTP500, testworld.FaultHTTP429, testworld.FaultReset, testworld.FaultTruncate} {
		t.Run(string(kind), func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true,
				Faults: []testworld.Fault{{Kind: kind, Target: target, Times: 1}}})
			vs := byPath(t, w, verifyWorld(t, w, audit.VerifyOptions{Download: true}))
			if v := vs[target]; v.Status != verify.StatusVerified {
				t.Errorf("one transient %s: %s: %s", kind, v.Status, v.Reason)
			}
		})
	}
}

func TestDownloadKeepsOnlyVerifiedFiles(t *testing.T) {
	const bad = "bin/linux/amd64/kubectl"
	w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true,
		Faults: []testworld.Fault{{Kind: testworld.FaultFlipByte, Target: bad}}})
	out := t.TempDir()
	vs := byPath(t, w, verifyWorld(t, w, audit.VerifyOptions{Download: true, OutDir: out}))
	if len(vs) < 2 {
		t.Fatalf("%d verdicts, want the tampered file and the others", len(vs))
	}
	for p, v := range vs {
		switch {
		case p == bad && (v.Status != verify.StatusFailed || !errors.Is(v.Err, sigverify.ErrDigestMismatch)):
			t.Errorf("tampered %s: %s (%v): %s", p, v.Status, v.Err, v.Reason)
		case p != bad && v.Status != verify.StatusVerified:
			t.Errorf("%s: %s: %s", p, v.Status, v.Reason)
		}
	}
	if _, ok := vs[bad]; !ok {
		t.Fatalf("no verdict on the tampered %s", bad)
	}
	good := filepath.Join(out, w.Version.String(), "bin", "linux", "arm64", "kubectl")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatalf("verified file not kept: %v", err)
	}
	if f := w.Files["bin/linux/arm64/kubectl"]; string(data) != string(f.Content) {
		t.Error("kept file differs from the genuine one")
	}
	if _, err := os.Stat(filepath.Join(out, w.Version.String(), bad)); !os.IsNotExist(err) {
		t.Errorf("tampered file kept: %v", err)
	}
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(d.Name(), "partial") {
			t.Errorf("partial download left behind: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
