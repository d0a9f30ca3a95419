package verify

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Trust is what verification trusts: the Sigstore trusted material
// (Fulcio CAs, CT logs, Rekor logs, timestamp authorities). Load it once
// per run and share it; it is safe for concurrent use.
type Trust struct {
	Material root.TrustedMaterial
}

// LoadTrustedRoot reads a trusted_root.json.
func LoadTrustedRoot(path string) (*Trust, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	return &Trust{Material: tr}, nil
}

// ParseTrustedRoot parses trusted_root.json content.
func ParseTrustedRoot(data []byte) (*Trust, error) {
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return &Trust{Material: tr}, nil
}

// Bundle verifies one Sigstore bundle against the trust and the policy:
// certificate chain to a trusted Fulcio CA with a valid embedded SCT,
// exact signer identity and OIDC issuer, signature over the policy's
// digest, a transparency-log entry that verifies (SET and/or inclusion
// proof) and records this very signature, certificate and digest, and the
// certificate valid at the entry's integrated time. Every check is
// recorded; sigstore-go's complete verifier must agree before the result
// is verified.
func Bundle(b *bundle.Bundle, trust *Trust, p Policy) *SignatureResult {
	r := &SignatureResult{}
	if trust == nil || trust.Material == nil {
		return r.fail("policy", ErrBundleInvalid, "trusted material", "none", nil)
	}
	if err := p.validate(); err != nil {
		return r.fail("policy", ErrBundleInvalid, "", "", err)
	}
	if b == nil || b.Bundle == nil {
		return r.fail("bundle", ErrBundleInvalid, "a Sigstore bundle", "none", nil)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	leaf := vc.Certificate()
	if leaf == nil {
		return r.fail("bundle", ErrBundleInvalid, "a Fulcio certificate", "a public key", nil)
	}
	sc, err := b.SignatureContent()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	entries, err := b.TlogEntries()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	r.pass("bundle", "", fmt.Sprintf("certificate, signature, %d log entries", len(entries)))

	summary, err := certificate.SummarizeCertificate(leaf)
	if err == nil {
		r.Signer = &artifacts.Identity{SAN: summary.SubjectAlternativeName, Issuer: summary.Extensions.Issuer}
	}

	// Certificate chain, at the start of the certificate's validity; its
	// validity at log time is checked below, by its own name.
	chains, err := sgverify.VerifyLeafCertificate(leaf.NotBefore, copyCert(leaf), trust.Material)
	if err != nil {
		return r.fail("certificate-chain", ErrCertificateUntrusted, "a chain to a trusted Fulcio CA", issuerOf(leaf), err)
	}
	r.pass("certificate-chain", "", issuerOf(leaf))
	if err := sgverify.VerifySignedCertificateTimestamp(chains, 1, trust.Material); err != nil {
		return r.fail("sct", ErrCertificateUntrusted, "an embedded SCT from a trusted CT log", "", err)
	}
	r.pass("sct", "", "embedded SCT verified")

	// Identity: exact SAN and issuer.
	want := identityString(p.Identity)
	if r.Signer == nil {
		return r.fail("identity", ErrIdentityMismatch, want, "no identity", err)
	}
	got := identityString(*r.Signer)
	id, err := sgverify.NewShortCertificateIdentity(p.Identity.Issuer, "", p.Identity.SAN, "")
	if err != nil {
		return r.fail("identity", ErrBundleInvalid, want, got, err)
	}
	if err := id.Verify(summary); err != nil || r.Signer.SAN != p.Identity.SAN || r.Signer.Issuer != p.Identity.Issuer {
		return r.fail("identity", ErrIdentityMismatch, want, got, nil)
	}
	r.pass("identity", want, got)

	// Signature over the digest.
	if md := sc.MessageSignatureContent(); md != nil {
		if !bytes.Equal(md.Digest(), p.Digest.Bytes()) {
			return r.fail("signature", ErrDigestMismatch, p.Digest.String(), SHA256Digest(md.Digest()).String(), errors.New("the bundle's message digest is not the artifact's"))
		}
	}
	if err := sgverify.VerifySignatureWithArtifactDigests(sc, vc, trust.Material, []sgverify.ArtifactDigest{{Algorithm: p.Digest.Algorithm, Digest: p.Digest.Bytes()}}); err != nil {
		return r.fail("signature", ErrSignatureInvalid, "a signature over "+p.Digest.String(), "", err)
	}
	r.pass("signature", p.Digest.String(), "signature verified")

	// Transparency log.
	if len(entries) == 0 {
		return r.fail("transparency-log", ErrNotInLog, "a Rekor entry for this signature", "none", nil)
	}
	for _, e := range entries {
		t := e.IntegratedTime()
		if t.Unix() <= 0 {
			continue // Rekor v2 entries carry no integrated time; timestamps are checked by sigstore-go
		}
		if t.Before(leaf.NotBefore) || t.After(leaf.NotAfter) {
			return r.fail("validity-at-log-time", ErrCertificateExpired,
				fmt.Sprintf("logged within %s … %s", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)),
				"logged at "+t.UTC().Format(time.RFC3339), nil)
		}
	}
	if _, err := sgverify.VerifyArtifactTransparencyLog(b, trust.Material, 1, true); err != nil {
		return r.fail("transparency-log", ErrLogEntryInvalid, "a verified entry recording this signature", "", err)
	}
	e := entries[0]
	idx, it := e.LogIndex(), e.IntegratedTime().UTC()
	r.LogIndex, r.IntegratedTime = &idx, &it
	proof := "signed entry timestamp"
	if e.HasInclusionProof() {
		proof += " and inclusion proof"
	}
	r.pass("transparency-log", "", fmt.Sprintf("log index %d, %s verified", idx, proof))
	r.pass("validity-at-log-time", "", "logged at "+it.Format(time.RFC3339))

	// sigstore-go's complete verifier must agree.
	v, err := sgverify.NewVerifier(trust.Material,
		sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1), sgverify.WithSignedCertificateTimestamps(1))
	if err != nil {
		return r.fail("sigstore-go", ErrBundleInvalid, "", "", err)
	}
	if _, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(p.Digest.Algorithm, p.Digest.Bytes()), sgverify.WithCertificateIdentity(id))); err != nil {
		return r.fail("sigstore-go", ErrBundleInvalid, "", "", err)
	}
	r.pass("sigstore-go", "", "verified")
	return r
}

func identityString(id artifacts.Identity) string {
	return id.SAN + " (issuer " + orNone(id.Issuer) + ")"
}

func issuerOf(c *x509.Certificate) string { return "issued by " + c.Issuer.String() }

// copyCert protects the bundle's certificate from sigstore-go's edits of
// unhandled critical extensions.
func copyCert(c *x509.Certificate) *x509.Certificate {
	cc := *c
	return &cc
}
