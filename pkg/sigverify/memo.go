package sigverify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"

	"github.com/sigstore/sigstore/pkg/signature"
)

// maxMemo bounds each memo: past it, the memo starts afresh.
const maxMemo = 4096

// verifiedSignatures is a transparency log's signature verifier that
// remembers the signatures it verified. A log signs a checkpoint once, and
// every inclusion proof made against the same tree head carries it: a run
// checks the same checkpoint for most of its entries. A verification is
// remembered only when it succeeded, keyed on the exact bytes verified —
// the signature, the message and the digest and hash the caller gave —
// and a repeat of exactly those bytes is answered from the memo. The log's
// key is the verifier's own (one memo per log of the trust); anything
// else is verified. It is safe for concurrent use.
type verifiedSignatures struct {
	signature.Verifier

	mu       sync.Mutex
	verified map[[sha256.Size]byte]struct{}
}

func rememberVerified(v signature.Verifier) *verifiedSignatures {
	return &verifiedSignatures{Verifier: v, verified: map[[sha256.Size]byte]struct{}{}}
}

// VerifySignature verifies sig over message as the log's verifier does,
// unless these very bytes verified before.
func (v *verifiedSignatures) VerifySignature(sig, message io.Reader, opts ...signature.VerifyOption) error {
	s, err := io.ReadAll(sig)
	if err != nil {
		return err
	}
	m, err := io.ReadAll(message)
	if err != nil {
		return err
	}
	key := memoKey(s, m, opts)
	v.mu.Lock()
	_, ok := v.verified[key]
	v.mu.Unlock()
	if ok {
		return nil
	}
	if err := v.Verifier.VerifySignature(bytes.NewReader(s), bytes.NewReader(m), opts...); err != nil {
		return err
	}
	v.mu.Lock()
	if len(v.verified) >= maxMemo {
		clear(v.verified)
	}
	v.verified[key] = struct{}{}
	v.mu.Unlock()
	return nil
}

// memoKey is the SHA-256 of everything a local verification's outcome
// depends on, each part length-prefixed: the signature, the message, and
// the digest and hash function the options give.
func memoKey(sig, message []byte, opts []signature.VerifyOption) [sha256.Size]byte {
	var digest []byte
	var signerOpts crypto.SignerOpts
	for _, o := range opts {
		o.ApplyDigest(&digest)
		o.ApplyCryptoSignerOpts(&signerOpts)
	}
	var hash crypto.Hash
	if signerOpts != nil {
		hash = signerOpts.HashFunc()
	}
	h := sha256.New()
	for _, part := range [][]byte{sig, message, digest, binary.BigEndian.AppendUint64(nil, uint64(hash))} {
		_ = binary.Write(h, binary.BigEndian, uint64(len(part)))
		h.Write(part)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}
