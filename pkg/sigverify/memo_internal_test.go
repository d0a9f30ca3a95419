package sigverify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// counting counts the verifications that reach the log's verifier.
type counting struct {
	signature.Verifier
	mu sync.Mutex
	n  int
}

func (c *counting) VerifySignature(sig, message io.Reader, opts ...signature.VerifyOption) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Verifier.VerifySignature(sig, message, opts...)
}

// A remembered verification answers only for the very bytes verified:
// another signature, another message or another digest is verified (and
// refused), and a refusal is never remembered.
func TestVerifiedSignaturesMemo(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("rekor.example - 1\n42\nroot hash\n")
	sig, err := signer.SignMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	other := append(bytes.Clone(msg), '!')
	otherSig, err := signer.SignMessage(bytes.NewReader(other))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	otherDigest := sha256.Sum256(other)
	inner := &counting{Verifier: signer}
	v := rememberVerified(inner)
	verify := func(s, m []byte, opts ...signature.VerifyOption) error {
		return v.VerifySignature(bytes.NewReader(s), bytes.NewReader(m), opts...)
	}
	if err := verify(sig, msg, options.WithDigest(digest[:])); err != nil {
		t.Fatalf("the genuine checkpoint: %v", err)
	}
	var wg sync.WaitGroup
	for range 4 { // concurrent repeats, for the race detector
		wg.Go(func() {
			if err := verify(sig, msg, options.WithDigest(digest[:])); err != nil {
				t.Errorf("the genuine checkpoint again: %v", err)
			}
		})
	}
	wg.Wait()
	if inner.n != 1 {
		t.Errorf("the same checkpoint verified %d times, want once", inner.n)
	}
	for name, err := range map[string]error{
		"another message, the signature of the first": verify(sig, other, options.WithDigest(otherDigest[:])),
		"the first message, another's signature":      verify(otherSig, msg, options.WithDigest(digest[:])),
		"the first message, another digest":           verify(sig, msg, options.WithDigest(otherDigest[:])),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	before := inner.n
	if err := verify(otherSig, msg, options.WithDigest(digest[:])); err == nil || inner.n != before+1 {
		t.Errorf("a refused signature was remembered (%v, %d verifications)", err, inner.n-before)
	}
}
