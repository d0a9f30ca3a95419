package sigverify

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Digest is an artifact digest, e.g. sha256 and 64 hex characters.
type Digest struct {
	Algorithm string `json:"algorithm"`
	Hex       string `json:"hex"`
}

// ParseDigest parses "sha256:<64 hex>" or "sha512:<128 hex>".
func ParseDigest(s string) (Digest, error) {
	alg, h, ok := strings.Cut(s, ":")
	size := map[string]int{"sha256": 32, "sha512": 64}[alg]
	b, err := hex.DecodeString(h)
	if !ok || size == 0 || err != nil || len(b) != size {
		return Digest{}, fmt.Errorf("digest %q: want sha256:<64 hex> or sha512:<128 hex>", s)
	}
	return Digest{Algorithm: alg, Hex: strings.ToLower(h)}, nil
}

// SHA256Digest wraps raw SHA-256 bytes.
func SHA256Digest(b []byte) Digest { return Digest{Algorithm: "sha256", Hex: hex.EncodeToString(b)} }

// String returns "sha256:<hex>".
func (d Digest) String() string {
	if d.Hex == "" {
		return ""
	}
	return d.Algorithm + ":" + d.Hex
}

// Bytes returns the raw digest.
func (d Digest) Bytes() []byte {
	b, _ := hex.DecodeString(d.Hex)
	return b
}

// IsZero reports whether no digest is set.
func (d Digest) IsZero() bool { return d.Hex == "" }

// Policy is what an artifact's signature must satisfy. Its zero value
// rejects everything: the identity is mandatory.
type Policy struct {
	// Identity is who must have signed: the certificate's subject
	// alternative name and OIDC issuer, matched exactly. It comes from the
	// release catalog, never from the evidence.
	Identity artifacts.Identity
	// Digest is the digest that must have been signed (for images: the
	// digest of the signed payload; ImageDigest is then checked in it).
	Digest Digest
	// AllowTrustedRootInChain accepts a v0.1/v0.2 bundle whose certificate
	// chain ends with one of the trusted Fulcio roots, as old signers wrote
	// them (the bundle specification forbids it; the root is never used).
	// Any other root in a chain is always rejected.
	AllowTrustedRootInChain bool
}

func (p Policy) validate() error {
	if p.Identity.SAN == "" || p.Identity.Issuer == "" {
		return fmt.Errorf("%w: policy names no signer identity and issuer", ErrBundleInvalid)
	}
	if p.Digest.IsZero() {
		return fmt.Errorf("%w: policy names no artifact digest", ErrBundleInvalid)
	}
	return nil
}
