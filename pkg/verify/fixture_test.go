package verify_test

import (
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// sigstoreFixture is an in-memory Sigstore to sign with and the verifier
// of its trusted root, for the judge's tests.
type sigstoreFixture struct {
	s *testworld.Sigstore
	v *sigverify.Verifier
}

func newSigstore(t testing.TB) *sigstoreFixture {
	t.Helper()
	s, err := testworld.NewSigstore("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	v, err := sigverify.NewVerifier(&sigverify.Trust{Material: tr})
	if err != nil {
		t.Fatal(err)
	}
	return &sigstoreFixture{s: s, v: v}
}

// sign signs payload as id the way the promoter does and returns the
// signature as a bundle with its log entry (and inclusion proof).
func (f *sigstoreFixture) sign(t testing.TB, p []byte, id artifacts.Identity) *bundle.Bundle {
	t.Helper()
	sum := sha256.Sum256(p)
	sig, err := f.s.SignDigest(sum[:], testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: id.SAN, Issuer: id.Issuer}})
	if err != nil {
		t.Fatal(err)
	}
	proof, err := f.s.Log.InclusionProof(sig.Entry)
	if err != nil {
		t.Fatal(err)
	}
	anon := f.s.Log.Anon(sig.Entry, sig.Entry.SET, proof)
	b, err := evidence.MessageSignatureBundle(sum[:], sig.Sig, sig.Cert.Raw, []*models.LogEntryAnon{&anon})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// timestamped is a Sigstore whose trusted root also holds a timestamp
// authority and a Rekor v2 log, with the verifier of that root.
type timestamped struct {
	s   *testworld.Sigstore
	tsa *testworld.TimestampAuthority
	v2  *testworld.RekorV2Log
	v   *sigverify.Verifier
}

func newTimestamped(t *testing.T) *timestamped {
	t.Helper()
	w := &timestamped{}
	var err error
	if w.s, err = testworld.NewSigstore("http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if w.tsa, err = testworld.NewTimestampAuthority(); err != nil {
		t.Fatal(err)
	}
	if w.v2, err = testworld.NewRekorV2Log("https://log2025-1.rekor.testworld.local"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := w.s.WriteTrustedRootWith(path, w.tsa, w.v2); err != nil {
		t.Fatal(err)
	}
	trust, err := sigverify.LoadTrustedRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.v, err = sigverify.NewVerifier(trust); err != nil {
		t.Fatal(err)
	}
	return w
}
