package testworld

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1" // register hashedrekord
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Signature is what `cosign sign-blob` produces for one digest: an
// ephemeral key's signature, its Fulcio certificate, and the Rekor entry.
type Signature struct {
	Digest  []byte // the SHA-256 that was signed
	Sig     []byte // ASN.1 DER ECDSA signature
	Cert    *x509.Certificate
	CertPEM []byte
	Entry   *LogEntry // nil when the signature was never logged
}

// SignOptions shape a signature.
type SignOptions struct {
	CertOptions
	// IntegratedTime of the log entry; default now.
	IntegratedTime time.Time
	// NoLog: do not record the signature in the log.
	NoLog bool
}

// SignDigest signs a SHA-256 digest the way cosign's keyless signing does:
// a fresh key, a certificate for it, a signature over the digest, and a
// hashedrekord entry in the log.
func (s *Sigstore) SignDigest(digest []byte, o SignOptions) (*Signature, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("want a SHA-256 digest, got %d bytes", len(digest))
	}
	key, cert, certPEM, err := s.ephemeralKey(o.CertOptions)
	if err != nil {
		return nil, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		return nil, err
	}
	out := &Signature{Digest: digest, Sig: sig, Cert: cert, CertPEM: certPEM}
	if o.NoLog {
		return out, nil
	}
	body, err := HashedRekordBody(digest, sig, certPEM)
	if err != nil {
		return nil, err
	}
	at := o.IntegratedTime
	if at.IsZero() {
		at = time.Now()
	}
	out.Entry, err = s.Log.Append(body, "sha256:"+hex.EncodeToString(digest), at)
	if err != nil {
		return nil, fmt.Errorf("log entry: %w", err)
	}
	return out, nil
}

// HashedRekordBody builds the canonical hashedrekord v0.0.1 entry body with
// Rekor's own types.
func HashedRekordBody(digest, sig, certPEM []byte) ([]byte, error) {
	return rekorBody("hashedrekord", "0.0.1", types.ArtifactProperties{
		ArtifactHash:   "sha256:" + hex.EncodeToString(digest),
		SignatureBytes: sig,
		PublicKeyBytes: [][]byte{certPEM},
		PKIFormat:      string(pki.X509),
	})
}

// ephemeralKey is keyless signing's first step: a fresh key and a
// Fulcio-style certificate (with embedded SCT) for it, also PEM encoded.
func (s *Sigstore) ephemeralKey(o CertOptions) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := s.IssueCertificate(key.Public(), o)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, certPEM, nil
}
