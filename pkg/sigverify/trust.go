package sigverify

import (
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/k8sverify/k8sverify/pkg/localfile"
)

// Trust is what verification trusts: the Sigstore trusted material
// (Fulcio CAs, CT logs, Rekor logs, timestamp authorities). Load it once
// per run and share it; it is safe for concurrent use.
type Trust struct {
	Material root.TrustedMaterial
	// Notes say how the trust was had when the reports should say it (a
	// cache discarded and fetched again; metadata verified as of a past
	// time).
	Notes []string
}

// LoadTrustedRoot reads a trusted_root.json.
//
// Only a regular file of at most maxTrustedRoot bytes is read, opened
// without blocking (a FIFO or a device named by mistake is refused, never
// waited on).
func LoadTrustedRoot(path string) (*Trust, error) {
	data, err := localfile.Read(path, maxTrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	return &Trust{Material: tr}, nil
}

// maxTrustedRoot bounds a trusted_root.json (the public-good one is a few
// tens of KiB).
const maxTrustedRoot = 16 << 20

// Verifier verifies Sigstore bundles against one trust. What depends only
// on the trust (the transparency logs' verifiers, the Fulcio roots) is
// prepared once; build one Verifier per run and share it. It is safe for
// concurrent use.
type Verifier struct {
	trust *Trust
	logs  map[string]*root.TransparencyLog

	mu        sync.Mutex
	verifiers map[string]signature.Verifier // by log ID (hex)
	roots     []*x509.Certificate
	fulcio    []*root.FulcioCertificateAuthority // the trust's Fulcio CAs of sigstore-go's own type
}

// NewVerifier returns a verifier of trust. Trust without material is an
// error wrapping ErrNoTrust.
func NewVerifier(trust *Trust) (*Verifier, error) {
	if trust == nil || trust.Material == nil {
		return nil, ErrNoTrust
	}
	v := &Verifier{trust: trust, logs: trust.Material.RekorLogs(), verifiers: map[string]signature.Verifier{}}
	for _, ca := range trust.Material.FulcioCertificateAuthorities() {
		if f, ok := ca.(*root.FulcioCertificateAuthority); ok && f.Root != nil {
			v.roots = append(v.roots, f.Root)
			v.fulcio = append(v.fulcio, f)
		}
	}
	return v, nil
}

// logVerifier returns the signature verifier of a transparency log of the
// trust, built once.
func (v *Verifier) logVerifier(logID string, tl *root.TransparencyLog) (signature.Verifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if sv, ok := v.verifiers[logID]; ok {
		return sv, nil
	}
	sv, err := signature.LoadVerifier(tl.PublicKey, tl.SignatureHashFunc)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	mv := rememberVerified(sv) // a checkpoint repeats across a run's entries
	v.verifiers[logID] = mv
	return mv, nil
}
