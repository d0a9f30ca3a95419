package testworld_test

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/k8sverify/k8sverify/internal/testworld"
)

const (
	testIdentity = "krel-staging@k8s-releng-prod.iam.gserviceaccount.com"
	testIssuer   = "https://accounts.google.com"
)

// Every kind of bundle the world makes verifies with sigstore-go's own
// verifier and the world's trusted root, after a round trip through JSON
// (bundle and trusted root alike).
func TestBundlesVerifyWithSigstoreGo(t *testing.T) {
	s, tsa, v2 := newInstance(t)
	path := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := s.WriteTrustedRootWith(path, tsa, v2); err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.TimestampingAuthorities()) != 1 || len(tr.RekorLogs()) != 2 {
		t.Fatalf("trusted root: %d TSAs, %d Rekor logs; want 1 and 2", len(tr.TimestampingAuthorities()), len(tr.RekorLogs()))
	}
	digest := sha256.Sum256([]byte("kubectl"))
	id := testworld.CertOptions{Identity: testIdentity, Issuer: testIssuer}
	sign := testworld.SignOptions{CertOptions: id}

	cases := []struct {
		name string
		dsse bool
		o    testworld.BundleOptions
	}{
		{"message v0.1", false, testworld.BundleOptions{SignOptions: sign, MediaType: testworld.BundleV01}},
		{"message v0.2", false, testworld.BundleOptions{SignOptions: sign, MediaType: testworld.BundleV02}},
		{"message v0.3", false, testworld.BundleOptions{SignOptions: sign}},
		{"message v0.3 TSA", false, testworld.BundleOptions{SignOptions: sign, TSA: tsa}},
		{"message v0.3 Rekor v2 TSA", false, testworld.BundleOptions{SignOptions: sign, TSA: tsa, RekorV2: v2}},
		{"dsse v0.1", true, testworld.BundleOptions{SignOptions: sign, MediaType: testworld.BundleV01}},
		{"dsse v0.3", true, testworld.BundleOptions{SignOptions: sign}},
		{"dsse v0.3 intoto entry", true, testworld.BundleOptions{SignOptions: sign, EntryKind: testworld.EntryIntoto}},
		{"dsse v0.3 TSA", true, testworld.BundleOptions{SignOptions: sign, TSA: tsa}},
		{"dsse v0.3 Rekor v2 TSA", true, testworld.BundleOptions{SignOptions: sign, TSA: tsa, RekorV2: v2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b *bundle.Bundle
			if tc.dsse {
				b, err = s.DSSEBundle(digest[:], tc.o)
			} else {
				b, err = s.MessageSignatureBundle(digest[:], tc.o)
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := b.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var parsed bundle.Bundle
			if err := parsed.UnmarshalJSON(data); err != nil {
				t.Fatalf("parse own bundle: %v\n%s", err, data)
			}
			opts := []sgverify.VerifierOption{sgverify.WithTransparencyLog(1), sgverify.WithSignedCertificateTimestamps(1), sgverify.WithObserverTimestamps(1)}
			if tc.o.TSA != nil {
				opts = append(opts, sgverify.WithSignedTimestamps(1))
			}
			v, err := sgverify.NewVerifier(tr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			sid, err := sgverify.NewShortCertificateIdentity(testIssuer, "", testIdentity, "")
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(&parsed, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest[:]), sgverify.WithCertificateIdentity(sid)))
			if err != nil {
				t.Fatalf("sigstore-go rejects the world's bundle: %v", err)
			}
			if tc.dsse && res.Statement == nil {
				t.Error("no statement in the result of a DSSE bundle")
			}
			// A different digest must not verify.
			other := sha256.Sum256([]byte("kubelet"))
			if _, err := v.Verify(&parsed, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", other[:]), sgverify.WithCertificateIdentity(sid))); err == nil {
				t.Error("verified for another digest")
			}
		})
	}
}

// Each forgery yields JSON that sigstore-go either refuses to parse or
// refuses to verify.
func TestBundleForgeriesAreRejectedBySigstoreGo(t *testing.T) {
	s, err := testworld.NewSigstore("http://127.0.0.1:1/rekor")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("kubectl"))
	sign := testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: testIdentity, Issuer: testIssuer}}
	// Fill the log a little, so inclusion proofs have hashes.
	for range 3 {
		if _, err := s.MessageSignatureBundle(digest[:], testworld.BundleOptions{SignOptions: sign}); err != nil {
			t.Fatal(err)
		}
	}
	v02, err := s.MessageSignatureBundle(digest[:], testworld.BundleOptions{SignOptions: sign, MediaType: testworld.BundleV02})
	if err != nil {
		t.Fatal(err)
	}
	v, err := sgverify.NewVerifier(tr, sgverify.WithTransparencyLog(1), sgverify.WithSignedCertificateTimestamps(1), sgverify.WithObserverTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	sid, err := sgverify.NewShortCertificateIdentity(testIssuer, "", testIdentity, "")
	if err != nil {
		t.Fatal(err)
	}
	policy := sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest[:]), sgverify.WithCertificateIdentity(sid))
	if _, err := v.Verify(v02, policy); err != nil {
		t.Fatalf("genuine: %v", err)
	}
	for _, f := range testworld.BundleForgeries {
		t.Run(string(f), func(t *testing.T) {
			data, err := s.ForgeBundle(v02, f)
			if err != nil {
				t.Fatal(err)
			}
			var b bundle.Bundle
			if err := b.UnmarshalJSON(data); err != nil {
				t.Logf("unparseable: %v", err)
				return
			}
			if _, err := v.Verify(&b, policy); err == nil {
				if f == testworld.ForgeRootInChain {
					// sigstore-go ignores a v0.1/v0.2 chain beyond the leaf;
					// pkg/verify rejects it.
					t.Skip("sigstore-go accepts a root in a v0.2 chain")
				}
				t.Fatal("sigstore-go verifies the forgery")
			} else {
				t.Logf("rejected: %v", err)
			}
		})
	}
	// The original is untouched.
	if _, err := v.Verify(v02, policy); err != nil {
		t.Fatalf("genuine after forging: %v", err)
	}
}

func TestTimestampOutsideCertificateValidity(t *testing.T) {
	s, tsa, v2 := newInstance(t)
	tr, err := s.TrustedRootWith(tsa, v2)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("kubectl"))
	b, err := s.MessageSignatureBundle(digest[:], testworld.BundleOptions{
		SignOptions: testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: testIdentity, Issuer: testIssuer}},
		TSA:         tsa, TimestampTime: time.Now().Add(time.Hour), RekorV2: v2,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := sgverify.NewVerifier(tr, sgverify.WithTransparencyLog(1), sgverify.WithSignedCertificateTimestamps(1), sgverify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := sgverify.NewShortCertificateIdentity(testIssuer, "", testIdentity, "")
	if _, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest[:]), sgverify.WithCertificateIdentity(sid))); err == nil {
		t.Fatal("verified a timestamp an hour after the certificate expired")
	} else {
		t.Log(err)
	}
}

// The real cosign CLI accepts the world's bundles (v0.1, v0.3, DSSE,
// Rekor v2 with an RFC 3161 timestamp) with the world's trusted root, and
// rejects a forged one.
func TestBundlesVerifyWithCosignCLI(t *testing.T) {
	cosign := testworld.CosignBinary(t)
	s, tsa, v2 := newInstance(t)
	dir := t.TempDir()
	rootPath := filepath.Join(dir, "trusted_root.json")
	if err := s.WriteTrustedRootWith(rootPath, tsa, v2); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "kubectl")
	if err := os.WriteFile(file, []byte("kubectl"), 0o644); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("kubectl"))
	sign := testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: testIdentity, Issuer: testIssuer}}
	genuine, err := s.MessageSignatureBundle(digest[:], testworld.BundleOptions{SignOptions: sign})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := s.ForgeBundle(genuine, testworld.ForgeSET)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		make  func() ([]byte, error)
		extra []string
		ok    bool
	}{
		{"message v0.3", func() ([]byte, error) { return genuine.MarshalJSON() }, nil, true},
		{"message v0.1", func() ([]byte, error) {
			return marshal(s.MessageSignatureBundle(digest[:], testworld.BundleOptions{SignOptions: sign, MediaType: testworld.BundleV01}))
		}, nil, true},
		{"dsse v0.3", func() ([]byte, error) {
			return marshal(s.DSSEBundle(digest[:], testworld.BundleOptions{SignOptions: sign}))
		}, nil, true},
		{"message Rekor v2 TSA", func() ([]byte, error) {
			return marshal(s.MessageSignatureBundle(digest[:], testworld.BundleOptions{SignOptions: sign, TSA: tsa, RekorV2: v2}))
		}, []string{"--use-signed-timestamps"}, true},
		{"forged SET", func() ([]byte, error) { return forged, nil }, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.make()
			if err != nil {
				t.Fatal(err)
			}
			b := filepath.Join(t.TempDir(), "b.sigstore.json")
			if err := os.WriteFile(b, data, 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"verify-blob", file, "--bundle", b, "--trusted-root", rootPath,
				"--certificate-identity", testIdentity, "--certificate-oidc-issuer", testIssuer}, tc.extra...)
			cmd := exec.Command(cosign, args...)
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TUF_ROOT="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Errorf("cosign %v: err %v, want ok=%v\n%s", args, err, tc.ok, out)
			}
		})
	}
}

func marshal(b *bundle.Bundle, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return b.MarshalJSON()
}

// newInstance makes a virtual Sigstore with a timestamp authority and a
// Rekor v2 log beside it.
func newInstance(t *testing.T) (*testworld.Sigstore, *testworld.TimestampAuthority, *testworld.RekorV2Log) {
	t.Helper()
	s, err := testworld.NewSigstore("http://127.0.0.1:1/rekor")
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := testworld.NewTimestampAuthority()
	if err != nil {
		t.Fatal(err)
	}
	v2, err := testworld.NewRekorV2Log("https://log2025-1.rekor.testworld.local")
	if err != nil {
		t.Fatal(err)
	}
	return s, tsa, v2
}
