package sigverify

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

// ImageNames are the names a signature may give an image: the last path
// element of what it names must be one of them. A nil ImageNames binds no
// name (an image known only by digest, or an explicit opt-out).
type ImageNames []string

// NamesFor returns the names a signature of the image called name may
// use: name itself (the index's repository, where recursive signing signs
// every child), and name-<arch> for a platform image of arch.
func NamesFor(name, arch string) ImageNames {
	base := path.Base(name)
	if arch == "" {
		return ImageNames{base}
	}
	return ImageNames{base, base + "-" + arch}
}

// Match reports whether a reference (registry/path/name[:tag][@digest])
// names one of the names, whatever its registry.
func (n ImageNames) Match(reference string) bool {
	if n == nil {
		return true
	}
	last := path.Base(reference)
	if i := strings.IndexAny(last, ":@"); i >= 0 {
		last = last[:i]
	}
	return slices.Contains(n, last)
}

func (n ImageNames) String() string {
	var s []string
	for _, x := range n {
		s = append(s, "…/"+x)
	}
	return strings.Join(s, " or ")
}

// ImageSignature verifies a cosign image signature (the .sig tag format):
// payload is the signed simple-signing payload and b the signature over it
// normalised into a bundle. The payload must be a cosign container image
// signature of imageDigest whose docker-reference names one of names (its
// registry may be any: real payloads name the backing registry). Then the
// bundle must verify for sha256(payload) under the identity, as Bundle
// checks a blob signature.
func (v *Verifier) ImageSignature(b *bundle.Bundle, pl []byte, imageDigest Digest, names ImageNames, identity artifacts.Identity) *Result {
	r := &Result{}
	if imageDigest.IsZero() {
		return r.Fail(CheckPolicy, ErrBundleInvalid, "", "", errors.New("policy names no image digest"))
	}
	defer claimedUnlessVerified(r, b)
	want := "a cosign container image signature of " + imageDigest.String()
	p, err := parseSimpleSigning(pl)
	if err != nil {
		return r.Fail(CheckPayload, ErrPayloadMismatch, want, "", err)
	}
	r.DockerReference = p.Critical.Identity.DockerReference
	if p.Critical.Type != CosignSignatureType {
		return r.Fail(CheckPayload, ErrPayloadMismatch, want, fmt.Sprintf("%q of %s", p.Critical.Type, orNone(p.Critical.Image.DockerManifestDigest)), nil)
	}
	if signed, err := ParseDigest(p.Critical.Image.DockerManifestDigest); err != nil || signed != imageDigest {
		return r.Fail(CheckPayload, ErrPayloadMismatch, want, "a signature of "+orNone(p.Critical.Image.DockerManifestDigest), nil)
	}
	if !names.Match(r.DockerReference) {
		return r.Fail(CheckPayload, ErrPayloadMismatch, "a signature of the image "+names.String(), "a signature of "+orNone(r.DockerReference), nil)
	}
	r.Pass(CheckPayload, want, "signs "+imageDigest.String()+" as "+orNone(r.DockerReference))
	sum := sha256.Sum256(pl)
	return r.merge(v.Bundle(b, Policy{Identity: identity, Digest: SHA256Digest(sum[:])}))
}

// ImageBundle verifies a Sigstore bundle attached to an image as an OCI
// referrer (cosign's newer format): a DSSE envelope of an in-toto
// statement with cosign's sign predicate whose subject is imageDigest,
// signed by the identity and logged, as Bundle checks it. With names, the
// subject must also name the image: cosign's sign statement binds the
// digest only, and a digest alone cannot tell this image from another
// signed image served under its name.
func (v *Verifier) ImageBundle(b *bundle.Bundle, imageDigest Digest, names ImageNames, identity artifacts.Identity) *Result {
	r := &Result{}
	if imageDigest.IsZero() {
		return r.Fail(CheckPolicy, ErrBundleInvalid, "", "", errors.New("policy names no image digest"))
	}
	if b == nil || b.Bundle == nil {
		return r.Fail(CheckBundle, ErrBundleInvalid, "a Sigstore bundle", "none", nil)
	}
	defer claimedUnlessVerified(r, b)
	if !checkImageStatement(r, b, imageDigest, names) {
		return r
	}
	return r.merge(v.Bundle(b, Policy{Identity: identity, Digest: imageDigest}))
}

func checkImageStatement(r *Result, b *bundle.Bundle, imageDigest Digest, names ImageNames) bool {
	want := "an in-toto statement " + CosignSignPredicateType + " about " + imageDigest.String()
	sc, err := b.SignatureContent()
	if err != nil {
		r.Fail(CheckBundle, ErrBundleInvalid, "", "", err)
		return false
	}
	env := sc.EnvelopeContent()
	if env == nil {
		r.Fail(CheckPayload, ErrPayloadMismatch, want, "a message signature, not a DSSE envelope", nil)
		return false
	}
	if pt := env.RawEnvelope().PayloadType; pt != InTotoPayloadType {
		r.Fail(CheckPayload, ErrPayloadMismatch, want, "DSSE payload type "+orNone(pt), nil)
		return false
	}
	st, err := env.Statement()
	if err != nil {
		r.Fail(CheckPayload, ErrPayloadMismatch, want, "", err)
		return false
	}
	if st.GetPredicateType() != CosignSignPredicateType {
		r.Fail(CheckPayload, ErrPayloadMismatch, want, "predicate type "+orNone(st.GetPredicateType()), nil)
		return false
	}
	var subjectName string
	about := false
	for _, s := range st.GetSubject() {
		if s.GetDigest()[imageDigest.Algorithm] == imageDigest.Hex {
			about, subjectName = true, s.GetName()
		}
	}
	if !about {
		r.Fail(CheckPayload, ErrPayloadMismatch, want, fmt.Sprintf("a statement about %d other subjects", len(st.GetSubject())), nil)
		return false
	}
	if names != nil && subjectName == "" {
		r.Fail(CheckPayload, ErrPayloadMismatch, "a statement naming the image "+names.String(), "a statement about the digest only, naming no image", nil)
		return false
	}
	if !names.Match(subjectName) {
		r.Fail(CheckPayload, ErrPayloadMismatch, "a statement naming the image "+names.String(), "a statement naming "+subjectName, nil)
		return false
	}
	r.DockerReference = subjectName
	r.Pass(CheckPayload, want, "statement about "+imageDigest.String()+" as "+orNone(subjectName))
	return true
}

// MalformedSignature is the result for published signature material that
// cannot even be read as a signature (garbage annotations, no certificate,
// an unparseable bundle): a failed "bundle" check.
func MalformedSignature(what string, cause error) *Result {
	return (&Result{}).Fail(CheckBundle, ErrBundleInvalid, what, "", cause)
}

// merge appends the checks and outcome of a later verification step.
func (r *Result) merge(next *Result) *Result {
	r.Checks = append(r.Checks, next.Checks...)
	if next.Signer != nil {
		r.Signer = next.Signer
	}
	r.LogIndex, r.IntegratedTime, r.SignedAt = next.LogIndex, next.IntegratedTime, next.SignedAt
	r.Notes = append(r.Notes, next.Notes...)
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

// claimedUnlessVerified names in r the signer b's certificate claims when
// verification stopped before the certificate named it (the payload was
// rejected first): reports say whose signature was rejected. The
// certificate is read only then, not twice for every signature.
func claimedUnlessVerified(r *Result, b *bundle.Bundle) {
	if r.Signer == nil {
		r.Signer = ClaimedSigner(b)
	}
}

// ClaimedSigner names the identity a bundle's certificate claims, unverified,
// for reports of signatures rejected before their certificate is checked.
func ClaimedSigner(b *bundle.Bundle) *artifacts.Identity {
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
