package testworld

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/tle"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1" // register dsse
	"google.golang.org/protobuf/encoding/protojson"
)

// Cosign's newer image signature format: a Sigstore bundle of a DSSE
// envelope of an in-toto statement, attached to the image as an OCI
// referrer (cosign sign --new-bundle-format).
const (
	// CosignSignPredicateType is the statement's predicate type.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// BundleMediaType is the bundle's media type and the referrer's artifactType.
	BundleMediaType   = "application/vnd.dev.sigstore.bundle.v0.3+json"
	inTotoPayloadType = "application/vnd.in-toto+json"
)

// CosignSignStatement is the in-toto statement cosign signs for an image
// digest ("sha256:<hex>") in its bundle format.
func CosignSignStatement(digest v1.Hash, predicateType string) []byte {
	return CosignSignStatementNamed(digest, "", predicateType)
}

// CosignSignStatementNamed is CosignSignStatement whose subject also names
// the image (a repository), as in-toto attestations of images do; cosign's
// sign statement names none.
func CosignSignStatementNamed(digest v1.Hash, name, predicateType string) []byte {
	subject := map[string]any{"digest": map[string]string{digest.Algorithm: digest.Hex}}
	if name != "" {
		subject["name"] = name
	}
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{subject},
		"predicateType": predicateType,
	})
	if err != nil {
		panic(err)
	}
	return st
}

// SignDSSEBundle signs an in-toto statement the way cosign's bundle format
// does: a fresh key and certificate, a DSSE envelope, a dsse entry in the
// log, and a v0.3 Sigstore bundle (JSON) with its inclusion proof.
func (s *Sigstore) SignDSSEBundle(statement []byte, o SignOptions) ([]byte, error) {
	key, cert, certPEM, err := s.ephemeralKey(o.CertOptions)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(dsse.PAE(inTotoPayloadType, statement))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return nil, err
	}
	envJSON, err := json.Marshal(map[string]any{
		"payloadType": inTotoPayloadType,
		"payload":     base64.StdEncoding.EncodeToString(statement),
		"signatures":  []map[string]string{{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return nil, err
	}
	body, err := rekorBody("dsse", "0.0.1", types.ArtifactProperties{
		ArtifactBytes: envJSON, PublicKeyBytes: [][]byte{certPEM}, PKIFormat: string(pki.X509),
	})
	if err != nil {
		return nil, err
	}
	at := o.IntegratedTime
	if at.IsZero() {
		at = time.Now()
	}
	payloadSum := sha256.Sum256(statement)
	e, err := s.Log.Append(body, "sha256:"+hex.EncodeToString(payloadSum[:]), at)
	if err != nil {
		return nil, err
	}
	proof, err := s.Log.InclusionProof(e)
	if err != nil {
		return nil, err
	}
	t, err := tle.GenerateTransparencyLogEntry(s.Log.Anon(e, e.SET, proof))
	if err != nil {
		return nil, err
	}
	pb := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{t},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: statement, PayloadType: inTotoPayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	return protojson.Marshal(pb)
}

// AttachBundle attaches a Sigstore bundle to the image digest of a
// repository as an OCI referrer, as cosign does (through the referrers
// tag schema unless the world serves the referrers API).
func (w *World) AttachBundle(repo string, digest v1.Hash, bundleJSON []byte) error {
	d, err := name.NewDigest(w.Registry + "/" + repo + "@" + digest.String())
	if err != nil {
		return err
	}
	return ociremote.WriteAttestationNewBundleFormat(d, bundleJSON, CosignSignPredicateType,
		ociremote.WithRemoteOptions(remote.WithTransport(w.transport)))
}
