// Package signing is an in-memory Sigstore to sign test material with and
// the verifier of its trusted root: the fixture shared by the tests of
// the packages that verify signatures on hand-made evidence (pkg/sigverify,
// pkg/verify, pkg/report). It is part of the test world: no product code
// imports it.
package signing

import (
	"crypto/sha256"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// Sigstore is an in-memory Sigstore (Fulcio CA, CT log, Rekor log) with
// the trust and verifier of its trusted root.
type Sigstore struct {
	*testworld.Sigstore
	Trust    *sigverify.Trust
	Verifier *sigverify.Verifier
}

// New starts an in-memory Sigstore.
func New(t testing.TB) *Sigstore {
	t.Helper()
	s, err := testworld.NewSigstore("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	trust := &sigverify.Trust{Material: tr}
	v, err := sigverify.NewVerifier(trust)
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{Sigstore: s, Trust: trust, Verifier: v}
}

// Bundle signs a SHA-256 digest as id, as cosign sign-blob does, and
// returns the signature as a bundle with its log entry (and inclusion
// proof).
func (s *Sigstore) Bundle(t testing.TB, digest []byte, id artifacts.Identity) *bundle.Bundle {
	t.Helper()
	sig, err := s.SignDigest(digest, testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: id.SAN, Issuer: id.Issuer}})
	if err != nil {
		t.Fatal(err)
	}
	proof, err := s.Log.InclusionProof(sig.Entry)
	if err != nil {
		t.Fatal(err)
	}
	anon := s.Log.Anon(sig.Entry, sig.Entry.SET, proof)
	b, err := evidence.MessageSignatureBundle(digest, sig.Sig, sig.Cert.Raw, []*models.LogEntryAnon{&anon})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BundleOf signs payload (its SHA-256) as id, the way the promoter signs
// an image's simple-signing payload.
func (s *Sigstore) BundleOf(t testing.TB, payload []byte, id artifacts.Identity) *bundle.Bundle {
	t.Helper()
	sum := sha256.Sum256(payload)
	return s.Bundle(t, sum[:], id)
}

// CosignPayload is cosign's simple-signing payload for the image digest d
// in the repository repo.
func CosignPayload(t testing.TB, repo string, d sigverify.Digest) []byte {
	t.Helper()
	ref, err := name.NewDigest(repo + "@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	p, err := payload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
