package evidence

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Bundle media types.
const (
	MediaTypeBundle01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	MediaTypeBundle03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// MessageSignatureBundle turns a cosign sign-blob signature (signature
// over a SHA-256 digest, Fulcio certificate) and the Rekor entries that
// record it into a standard Sigstore bundle: v0.3 when every entry carries
// an inclusion proof, else v0.1 (inclusion promise only). Entries are not
// checked here; pkg/sigverify checks everything.
func MessageSignatureBundle(digest, sig, certDER []byte, entries []*models.LogEntryAnon) (*bundle.Bundle, error) {
	tles := make([]*protorekor.TransparencyLogEntry, 0, len(entries))
	for _, e := range entries {
		t, err := logEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%w: rekor entry: %v", verify.ErrEvidenceMalformed, err)
		}
		tles = append(tles, t)
	}
	return messageSignatureBundle(digest, sig, certDER, tles)
}

// logEntry converts a Rekor API entry into the bundle's form, with or
// without inclusion proof: the fields of rekor's tle.GenerateTransparency
// LogEntry, without its parse of the entry's body as a Rekor type (which
// verifies the body's signature): the verifier parses each entry once,
// when it checks the bundle (sigverify.NewBundle checks the rest of its
// form here).
func logEntry(e *models.LogEntryAnon) (*protorekor.TransparencyLogEntry, error) {
	if e.LogID == nil || e.LogIndex == nil || e.IntegratedTime == nil || e.Verification == nil {
		return nil, errors.New("incomplete entry")
	}
	logID, err := hex.DecodeString(*e.LogID)
	if err != nil {
		return nil, fmt.Errorf("log ID: %w", err)
	}
	var body []byte
	switch v := e.Body.(type) {
	case string:
		if body, err = base64.StdEncoding.DecodeString(v); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	case []byte:
		body = v
	default:
		return nil, fmt.Errorf("body of type %T", e.Body)
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kind); err != nil || kind.Kind == "" || kind.APIVersion == "" {
		return nil, fmt.Errorf("body names no kind and API version (%v)", err)
	}
	t := &protorekor.TransparencyLogEntry{
		LogIndex:          *e.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    *e.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: e.Verification.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}
	p := e.Verification.InclusionProof
	if p == nil {
		return t, nil
	}
	if p.LogIndex == nil || p.RootHash == nil || p.TreeSize == nil || p.Checkpoint == nil {
		return nil, errors.New("incomplete inclusion proof")
	}
	root, err := hex.DecodeString(*p.RootHash)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof root hash: %w", err)
	}
	hashes := make([][]byte, len(p.Hashes))
	for i, h := range p.Hashes {
		if hashes[i], err = hex.DecodeString(h); err != nil {
			return nil, fmt.Errorf("inclusion proof hash: %w", err)
		}
	}
	t.InclusionProof = &protorekor.InclusionProof{
		LogIndex: *p.LogIndex, RootHash: root, TreeSize: *p.TreeSize, Hashes: hashes,
		Checkpoint: &protorekor.Checkpoint{Envelope: *p.Checkpoint},
	}
	return t, nil
}

// messageSignatureBundle is MessageSignatureBundle for entries already in
// the bundle's form, with or without inclusion proof: v0.3 when every
// entry has one, else v0.1.
func messageSignatureBundle(digest, sig, certDER []byte, entries []*protorekor.TransparencyLogEntry) (*bundle.Bundle, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("%w: want a SHA-256 digest, got %d bytes", verify.ErrEvidenceMalformed, len(digest))
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: empty signature", verify.ErrEvidenceMalformed)
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
	b, err := sigverify.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", verify.ErrEvidenceMalformed, err)
	}
	return b, nil
}
