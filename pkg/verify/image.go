package verify

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// What image signatures sign.
const (
	// CosignSignatureType is critical.type of a cosign simple-signing payload.
	CosignSignatureType = payload.CosignSignatureType
	// CosignSignPredicateType is the predicate type of the in-toto
	// statement that cosign's Sigstore-bundle format signs for an image.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
)

// maxPayload bounds the simple-signing payload parsed here.
const maxPayload = 64 << 10

// ImageSignature verifies a cosign image signature (the .sig tag format):
// payload is the signed simple-signing payload and b the signature over it
// normalised into a bundle. The payload must be a cosign container image
// signature of imageDigest; its docker-reference is recorded in the
// result, not required to match anything (real payloads name the backing
// registry). Then the bundle must verify for sha256(payload) under the
// identity, exactly as Bundle checks a blob signature.
func ImageSignature(b *bundle.Bundle, payload []byte, imageDigest Digest, trust *Trust, identity artifacts.Identity) *SignatureResult {
	return ImageSignatureOf(b, payload, imageDigest, "", trust, identity)
}

// NamesImage reports whether a docker-reference names the image called
// name: its last path element is name, or name-<arch> (the per-arch
// images of a release), whatever registry it names.
func NamesImage(dockerReference, name string) bool {
	last := path.Base(dockerReference)
	if i := strings.IndexAny(last, ":@"); i >= 0 {
		last = last[:i]
	}
	want := path.Base(name)
	if last == want {
		return true
	}
	arch, ok := strings.CutPrefix(last, want+"-")
	return ok && slices.Contains(artifacts.ImageArches, arch)
}

// ImageSignatureOf is ImageSignature for an image known by name, e.g.
// "kube-apiserver" of a release: the payload's docker-reference must also
// name that image (its registry may be any), so that a signed image of
// another name served under this one is rejected. An empty name skips
// that check (an image given only by reference).
func ImageSignatureOf(b *bundle.Bundle, payload []byte, imageDigest Digest, name string, trust *Trust, identity artifacts.Identity) *SignatureResult {
	r := &SignatureResult{}
	if imageDigest.IsZero() {
		return r.fail("policy", ErrBundleInvalid, "", "", errors.New("policy names no image digest"))
	}
	want := "a cosign container image signature of " + imageDigest.String()
	p, err := parseSimpleSigning(payload)
	if err != nil {
		r.Signer = signerOf(b)
		return r.fail("payload", ErrPayloadMismatch, want, "", err)
	}
	r.DockerReference = p.Critical.Identity.DockerReference
	got := fmt.Sprintf("%q of %s", p.Critical.Type, orNone(p.Critical.Image.DockerManifestDigest))
	if p.Critical.Type != CosignSignatureType {
		r.Signer = signerOf(b)
		return r.fail("payload", ErrPayloadMismatch, want, got, nil)
	}
	if signed, err := ParseDigest(p.Critical.Image.DockerManifestDigest); err != nil || signed != imageDigest {
		r.Signer = signerOf(b)
		return r.fail("payload", ErrPayloadMismatch, want, "a signature of "+orNone(p.Critical.Image.DockerManifestDigest), nil)
	}
	if name != "" && !NamesImage(r.DockerReference, name) {
		r.Signer = signerOf(b)
		return r.fail("payload", ErrPayloadMismatch, "a signature of the image "+name+" (…/"+path.Base(name)+" or …/"+path.Base(name)+"-<arch>)", "a signature of "+orNone(r.DockerReference), nil)
	}
	r.pass("payload", want, "signs "+imageDigest.String()+" as "+orNone(r.DockerReference))
	sum := sha256.Sum256(payload)
	return r.merge(Bundle(b, trust, Policy{Identity: identity, Digest: SHA256Digest(sum[:])}))
}

// ImageBundle verifies a Sigstore bundle attached to an image as an OCI
// referrer (cosign's newer format): a DSSE envelope of an in-toto
// statement with cosign's sign predicate whose subject is imageDigest,
// signed by the identity and logged, as Bundle checks it.
func ImageBundle(b *bundle.Bundle, imageDigest Digest, trust *Trust, identity artifacts.Identity) *SignatureResult {
	r := &SignatureResult{}
	if imageDigest.IsZero() {
		return r.fail("policy", ErrBundleInvalid, "", "", errors.New("policy names no image digest"))
	}
	want := "an in-toto statement " + CosignSignPredicateType + " about " + imageDigest.String()
	if b == nil || b.Bundle == nil {
		return r.fail("bundle", ErrBundleInvalid, "a Sigstore bundle", "none", nil)
	}
	r.Signer = signerOf(b)
	sc, err := b.SignatureContent()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	env := sc.EnvelopeContent()
	if env == nil {
		return r.fail("payload", ErrPayloadMismatch, want, "a message signature, not a DSSE envelope", nil)
	}
	if pt := env.RawEnvelope().PayloadType; pt != InTotoPayloadType {
		return r.fail("payload", ErrPayloadMismatch, want, "DSSE payload type "+orNone(pt), nil)
	}
	st, err := env.Statement()
	if err != nil {
		return r.fail("payload", ErrPayloadMismatch, want, "", err)
	}
	if st.GetPredicateType() != CosignSignPredicateType {
		return r.fail("payload", ErrPayloadMismatch, want, "predicate type "+orNone(st.GetPredicateType()), nil)
	}
	about := false
	for _, s := range st.GetSubject() {
		if s.GetDigest()[imageDigest.Algorithm] == imageDigest.Hex {
			about = true
		}
	}
	if !about {
		return r.fail("payload", ErrPayloadMismatch, want, fmt.Sprintf("a statement about %d other subjects", len(st.GetSubject())), nil)
	}
	r.pass("payload", want, "statement about "+imageDigest.String())
	return r.merge(Bundle(b, trust, Policy{Identity: identity, Digest: imageDigest}))
}

// MalformedSignature is the result for published signature material that
// cannot even be read as a signature (garbage annotations, no certificate,
// an unparseable bundle): a failed "bundle" check.
func MalformedSignature(what string, cause error) *SignatureResult {
	return (&SignatureResult{}).fail("bundle", ErrBundleInvalid, what, "", cause)
}

// merge appends the checks and outcome of a later verification step.
func (r *SignatureResult) merge(next *SignatureResult) *SignatureResult {
	r.Checks = append(r.Checks, next.Checks...)
	if next.Signer != nil {
		r.Signer = next.Signer
	}
	r.LogIndex, r.IntegratedTime = next.LogIndex, next.IntegratedTime
	r.Err, r.Error = next.Err, next.Error
	return r
}

func parseSimpleSigning(data []byte) (*payload.SimpleContainerImage, error) {
	if len(data) == 0 {
		return nil, errors.New("empty payload")
	}
	if len(data) > maxPayload {
		return nil, fmt.Errorf("payload of %d bytes exceeds %d", len(data), maxPayload)
	}
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("payload is not simple-signing JSON: %w", err)
	}
	return &p, nil
}

// signerOf names the identity a bundle's certificate claims, unverified,
// for reports of signatures rejected before their certificate is checked.
func signerOf(b *bundle.Bundle) *artifacts.Identity {
	if b == nil || b.Bundle == nil {
		return nil
	}
	vc, err := b.VerificationContent()
	if err != nil || vc.Certificate() == nil {
		return nil
	}
	s, err := certificate.SummarizeCertificate(vc.Certificate())
	if err != nil {
		return nil
	}
	return &artifacts.Identity{SAN: s.SubjectAlternativeName, Issuer: s.Extensions.Issuer}
}
