package evidence

import (
	"encoding/pem"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/tle"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Bundle media types.
const (
	MediaTypeBundle01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	MediaTypeBundle03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// ErrMalformedEvidence: published evidence that cannot be parsed.
var ErrMalformedEvidence = errors.New("malformed evidence")

// certDERFromPEM returns the DER of the single certificate in PEM data.
func certDERFromPEM(data []byte) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrMalformedEvidence)
	}
	if len(block.Bytes) == 0 {
		return nil, fmt.Errorf("%w: an empty PEM certificate", ErrMalformedEvidence)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: more than one PEM block where one certificate is expected", ErrMalformedEvidence)
	}
	return block.Bytes, nil
}

// MessageSignatureBundle turns a cosign sign-blob signature (signature
// over a SHA-256 digest, Fulcio certificate) and the Rekor entries that
// record it into a standard Sigstore bundle: v0.3 when every entry carries
// an inclusion proof, else v0.1 (inclusion promise only). Entries are not
// checked here; pkg/verify checks everything.
func MessageSignatureBundle(digest, sig, certDER []byte, entries []*models.LogEntryAnon) (*bundle.Bundle, error) {
	tles := make([]*protorekor.TransparencyLogEntry, 0, len(entries))
	for _, e := range entries {
		t, err := logEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%w: rekor entry: %v", ErrMalformedEvidence, err)
		}
		tles = append(tles, t)
	}
	return messageSignatureBundle(digest, sig, certDER, tles)
}

// logEntry converts a Rekor API entry into the bundle's form, with or
// without inclusion proof (tle.GenerateTransparencyLogEntry requires one).
func logEntry(e *models.LogEntryAnon) (*protorekor.TransparencyLogEntry, error) {
	if e.LogID == nil || e.LogIndex == nil || e.IntegratedTime == nil || e.Verification == nil {
		return nil, errors.New("incomplete entry")
	}
	if p := e.Verification.InclusionProof; p != nil {
		// tle dereferences every field of the proof.
		if p.LogIndex == nil || p.RootHash == nil || p.TreeSize == nil || p.Checkpoint == nil {
			return nil, errors.New("incomplete inclusion proof")
		}
		return tle.GenerateTransparencyLogEntry(*e)
	}
	// Build it as with a proof, from a copy with an empty one, then drop it.
	zero, empty := int64(0), ""
	c := *e
	v := *e.Verification
	v.InclusionProof = &models.InclusionProof{LogIndex: &zero, TreeSize: &zero, RootHash: &empty, Checkpoint: &empty}
	c.Verification = &v
	t, err := tle.GenerateTransparencyLogEntry(c)
	if err != nil {
		return nil, err
	}
	t.InclusionProof = nil
	return t, nil
}

// messageSignatureBundle is MessageSignatureBundle for entries already in
// the bundle's form, with or without inclusion proof: v0.3 when every
// entry has one, else v0.1.
func messageSignatureBundle(digest, sig, certDER []byte, entries []*protorekor.TransparencyLogEntry) (*bundle.Bundle, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("%w: want a SHA-256 digest, got %d bytes", ErrMalformedEvidence, len(digest))
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrMalformedEvidence)
	}
	mediaType := MediaTypeBundle03
	for _, t := range entries {
		if t.InclusionProof == nil {
			mediaType = MediaTypeBundle01
		}
	}
	pb := &protobundle.Bundle{
		MediaType: mediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: certDER}},
			TlogEntries: entries,
		},
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest},
			Signature:     sig,
		}},
	}
	if mediaType == MediaTypeBundle01 {
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{
			X509CertificateChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: certDER}}},
		}
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedEvidence, err)
	}
	return b, nil
}
