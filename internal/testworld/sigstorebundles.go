package testworld

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/digitorus/timestamp"
	"github.com/go-openapi/runtime"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekortilespb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/tle"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"   // register dsse
	_ "github.com/sigstore/rekor/pkg/types/intoto/v0.0.2" // register intoto
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Media types of the Sigstore bundle versions.
const (
	BundleV01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	BundleV02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	BundleV03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// Rekor v1 entry kinds of DSSE envelopes.
const (
	EntryDSSE   = "dsse"   // dsse v0.0.1, what cosign and sigstore-go log today
	EntryIntoto = "intoto" // intoto v0.0.2, what older cosign attest logged
)

// InTotoPayloadType is the DSSE payload type of an in-toto statement.
const InTotoPayloadType = "application/vnd.in-toto+json"

// BundleOptions shape a bundle.
type BundleOptions struct {
	// SignOptions: the signer's identity and issuer, the certificate's
	// NotBefore, the log entry's integrated time, or no log entry at all.
	SignOptions
	// MediaType is BundleV01 (certificate chain, inclusion promise only),
	// BundleV02 (certificate chain, inclusion promise and proof) or
	// BundleV03 (one certificate, promise and proof); default BundleV03.
	MediaType string
	// TSA adds an RFC 3161 timestamp over the signature from this
	// timestamp authority (add it to the trusted root with TrustedRootWith).
	TSA *TimestampAuthority
	// TimestampTime is the time the TSA attests; default now.
	TimestampTime time.Time
	// RekorV2 logs the signature as a hashedrekord v0.0.2 entry in this
	// Rekor v2 log instead of the instance's Rekor v1 log. Rekor v2 entries
	// carry no integrated time: pair them with a TSA.
	RekorV2 *RekorV2Log
	// EntryKind of a DSSE envelope's Rekor v1 entry: EntryDSSE (default)
	// or EntryIntoto.
	EntryKind string
	// PredicateType of a DSSE envelope's in-toto statement; default
	// https://slsa.dev/provenance/v1.
	PredicateType string
	// SubjectName names the statement's subject; default "artifact".
	SubjectName string
	// PayloadType of a DSSE envelope; default InTotoPayloadType.
	PayloadType string
}

func (o BundleOptions) mediaType() string {
	if o.MediaType == "" {
		return BundleV03
	}
	return o.MediaType
}

func (o BundleOptions) integratedTime() time.Time {
	if o.IntegratedTime.IsZero() {
		return time.Now()
	}
	return o.IntegratedTime
}

// MessageSignatureBundle signs a SHA-256 digest the way `cosign sign-blob`
// does (ephemeral key, Fulcio certificate with embedded SCT, hashedrekord
// entry) and returns it as a Sigstore bundle of the requested version.
func (s *Sigstore) MessageSignatureBundle(digest []byte, o BundleOptions) (*bundle.Bundle, error) {
	so := o.SignOptions
	so.NoLog = o.NoLog || o.RekorV2 != nil
	so.IntegratedTime = o.integratedTime()
	sig, err := s.SignDigest(digest, so)
	if err != nil {
		return nil, err
	}
	var tles []*protorekor.TransparencyLogEntry
	switch {
	case o.NoLog:
	case o.RekorV2 != nil:
		t, err := o.RekorV2.AppendHashedRekord(digest, sig.Sig, sig.Cert)
		if err != nil {
			return nil, err
		}
		tles = append(tles, t)
	default:
		t, err := s.Log.BundleEntry(sig.Entry, o.mediaType() != BundleV01)
		if err != nil {
			return nil, err
		}
		tles = append(tles, t)
	}
	content := &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
		MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest},
		Signature:     sig.Sig,
	}}
	return s.assemble(o, sig.Cert, sig.Sig, content, tles)
}

// DSSEBundle signs an in-toto statement whose subject has the SHA-256
// digest, as a DSSE envelope (like `cosign attest-blob`), logs it as a
// Rekor dsse (or intoto) entry built with Rekor's own types, and returns
// the Sigstore bundle.
func (s *Sigstore) DSSEBundle(digest []byte, o BundleOptions) (*bundle.Bundle, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("want a SHA-256 digest, got %d bytes", len(digest))
	}
	payload, err := InTotoStatement(digest, o.SubjectName, o.PredicateType)
	if err != nil {
		return nil, err
	}
	payloadType := o.PayloadType
	if payloadType == "" {
		payloadType = InTotoPayloadType
	}
	env, err := s.signEnvelope(payloadType, payload, o.CertOptions)
	if err != nil {
		return nil, err
	}
	var tles []*protorekor.TransparencyLogEntry
	switch {
	case o.NoLog:
	case o.RekorV2 != nil:
		pae := sha256.Sum256(dsse.PAE(env.payloadType, env.payload))
		t, err := o.RekorV2.AppendHashedRekord(pae[:], env.sig, env.cert)
		if err != nil {
			return nil, err
		}
		tles = append(tles, t)
	default:
		e, err := s.logEnvelope(env, o.EntryKind, "sha256:"+hex.EncodeToString(digest), o.integratedTime())
		if err != nil {
			return nil, err
		}
		t, err := s.Log.BundleEntry(e, o.mediaType() != BundleV01)
		if err != nil {
			return nil, err
		}
		tles = append(tles, t)
	}
	content := &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
		Payload:     env.payload,
		PayloadType: env.payloadType,
		Signatures:  []*protodsse.Signature{{Sig: env.sig}},
	}}
	return s.assemble(o, env.cert, env.sig, content, tles)
}

// InTotoStatement returns an in-toto v1 statement about one subject with
// the SHA-256 digest.
func InTotoStatement(digest []byte, subject, predicateType string) ([]byte, error) {
	if subject == "" {
		subject = "artifact"
	}
	if predicateType == "" {
		predicateType = "https://slsa.dev/provenance/v1"
	}
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": subject, "digest": map[string]string{"sha256": hex.EncodeToString(digest)}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{},
	})
}

// envelope is a DSSE envelope signed with a fresh key and certificate.
type envelope struct {
	payloadType string
	payload     []byte
	sig         []byte
	cert        *x509.Certificate
	certPEM     []byte
}

// json renders the envelope in DSSE's JSON form.
func (e *envelope) json() ([]byte, error) {
	return json.Marshal(dsse.Envelope{
		PayloadType: e.payloadType,
		Payload:     base64.StdEncoding.EncodeToString(e.payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(e.sig)}},
	})
}

func (s *Sigstore) signEnvelope(payloadType string, payload []byte, o CertOptions) (*envelope, error) {
	key, cert, certPEM, err := s.ephemeralKey(o)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(dsse.PAE(payloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, err
	}
	return &envelope{payloadType: payloadType, payload: payload, sig: sig, cert: cert, certPEM: certPEM}, nil
}

// logEnvelope appends a dsse v0.0.1 or intoto v0.0.2 entry of the
// envelope, built (and the envelope's signature checked) by Rekor's types.
func (s *Sigstore) logEnvelope(env *envelope, kind, artifactHash string, at time.Time) (*LogEntry, error) {
	version := "0.0.1"
	switch kind {
	case "", EntryDSSE:
		kind = EntryDSSE
	case EntryIntoto:
		version = "0.0.2"
	default:
		return nil, fmt.Errorf("unknown Rekor entry kind %q for a DSSE envelope", kind)
	}
	envJSON, err := env.json()
	if err != nil {
		return nil, err
	}
	body, err := rekorBody(kind, version, types.ArtifactProperties{
		ArtifactBytes:  envJSON,
		PublicKeyBytes: [][]byte{env.certPEM},
		PKIFormat:      string(pki.X509),
	})
	if err != nil {
		return nil, err
	}
	return s.Log.Append(body, artifactHash, at)
}

// rekorBody builds the canonical body of a Rekor v1 entry as Rekor does.
func rekorBody(kind, version string, props types.ArtifactProperties) ([]byte, error) {
	ctx := context.Background()
	pe, err := types.NewProposedEntry(ctx, kind, version, props)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	impl, err := types.CreateVersionedEntry(pe)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	can, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	// Round-trip as Rekor does, so the body is exactly what the log stores.
	if _, err := models.UnmarshalProposedEntry(bytes.NewReader(can), runtime.JSONConsumer()); err != nil {
		return nil, err
	}
	return can, nil
}

// assemble builds the bundle: verification material as the media type
// wants it, the log entries, and the TSA's timestamp.
func (s *Sigstore) assemble(o BundleOptions, cert *x509.Certificate, sig []byte, content any, tles []*protorekor.TransparencyLogEntry) (*bundle.Bundle, error) {
	mt := o.mediaType()
	vm := &protobundle.VerificationMaterial{TlogEntries: tles}
	switch mt {
	case BundleV01, BundleV02:
		vm.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
			Certificates: []*protocommon.X509Certificate{{RawBytes: cert.Raw}, {RawBytes: s.IntermediateCert.Raw}},
		}}
	case BundleV03:
		vm.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}}
	default:
		return nil, fmt.Errorf("media type %q: want BundleV01, BundleV02 or BundleV03", mt)
	}
	if o.TSA != nil {
		at := o.TimestampTime
		if at.IsZero() {
			at = time.Now()
		}
		ts, err := o.TSA.Timestamp(sig, at)
		if err != nil {
			return nil, err
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: ts}},
		}
	}
	pb := &protobundle.Bundle{MediaType: mt, VerificationMaterial: vm}
	switch c := content.(type) {
	case *protobundle.Bundle_MessageSignature:
		pb.Content = c
	case *protobundle.Bundle_DsseEnvelope:
		pb.Content = c
	default:
		return nil, fmt.Errorf("bundle content %T", content)
	}
	return bundle.NewBundle(pb)
}

// BundleEntry renders an entry of the log as a bundle's transparency-log
// entry: with its signed entry timestamp and, if proof is set, an
// inclusion proof in the current tree with a signed checkpoint. It uses
// Rekor's own conversion (package tle), as the evidence fetcher does.
func (l *RekorLog) BundleEntry(e *LogEntry, proof bool) (*protorekor.TransparencyLogEntry, error) {
	// tle needs an inclusion proof (it dereferences it); drop it after.
	p, err := l.InclusionProof(e)
	if err != nil {
		return nil, err
	}
	t, err := tle.GenerateTransparencyLogEntry(l.Anon(e, e.SET, p))
	if err != nil {
		return nil, err
	}
	if !proof {
		t.InclusionProof = nil
	}
	return t, nil
}

// TimestampAuthority is an RFC 3161 timestamp authority: a root, an
// intermediate and a leaf certificate with the critical timestamping EKU,
// as sigstore's timestamp-authority issues them.
type TimestampAuthority struct {
	Root, Intermediate, Leaf *x509.Certificate
	URI                      string
	key                      *ecdsa.PrivateKey
}

// NewTimestampAuthority creates a timestamp authority whose certificates
// are valid from Epoch for ten years beyond now.
func NewTimestampAuthority() (*TimestampAuthority, error) {
	rootCert, rootKey, err := generateRoot("testworld-tsa-root", "testworld")
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	inter, err := createCert(&x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "testworld-tsa-intermediate", Organization: []string{"testworld"}},
		NotBefore:             rootCert.NotBefore,
		NotAfter:              rootCert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, rootCert, interKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}}) // id-kp-timeStamping
	if err != nil {
		return nil, err
	}
	leaf, err := createCert(&x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "testworld-tsa", Organization: []string{"testworld"}},
		NotBefore:    rootCert.NotBefore,
		NotAfter:     rootCert.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// The timestamping EKU, critical as RFC 3161 requires.
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, inter, leafKey.Public(), interKey)
	if err != nil {
		return nil, err
	}
	return &TimestampAuthority{Root: rootCert, Intermediate: inter, Leaf: leaf, key: leafKey,
		URI: "https://tsa.testworld.local/api/v1/timestamp"}, nil
}

func createCert(t, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Timestamp returns an RFC 3161 timestamp response over sig (the
// signature bytes, which Sigstore timestamps) at time at.
func (t *TimestampAuthority) Timestamp(sig []byte, at time.Time) ([]byte, error) {
	tsq, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return nil, err
	}
	req, err := timestamp.ParseRequest(tsq)
	if err != nil {
		return nil, err
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:   req.HashAlgorithm,
		HashedMessage:   req.HashedMessage,
		Time:            at,
		Policy:          asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2},
		ExtraExtensions: req.Extensions,
	}
	return ts.CreateResponseWithOpts(t.Leaf, t.key, crypto.SHA256)
}

// authority describes the TSA for a trusted root.
func (t *TimestampAuthority) authority(start time.Time) *root.SigstoreTimestampingAuthority {
	return &root.SigstoreTimestampingAuthority{
		Root: t.Root, Intermediates: []*x509.Certificate{t.Intermediate}, Leaf: t.Leaf,
		ValidityPeriodStart: start, URI: t.URI,
	}
}

// RekorV2Log is a Rekor v2 (tile-based) transparency log in memory: its
// entries are hashedrekord v0.0.2 protobuf bodies, proved by inclusion
// proofs with signed-note checkpoints; there are no signed entry
// timestamps and no integrated times. It is modelled on sigstore-go's
// testing/ca (generateTlogEntryHashedRekordV2).
type RekorV2Log struct {
	key     *ecdsa.PrivateKey
	signer  signature.SignerVerifier
	logID   [32]byte
	baseURL string

	mu   sync.Mutex
	tree *testonly.Tree
}

// NewRekorV2Log creates an empty Rekor v2 log served at baseURL; its
// checkpoints name the URL's host name as origin, as Rekor v2's do.
func NewRekorV2Log(baseURL string) (*RekorV2Log, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("rekor v2 base URL %q: need a host name", baseURL)
	}
	key, signer, id, err := newLogKey()
	if err != nil {
		return nil, err
	}
	return &RekorV2Log{key: key, signer: signer, logID: id, baseURL: baseURL, tree: testonly.New(rfc6962.DefaultHasher)}, nil
}

// Origin is the checkpoint origin: the base URL's host name.
func (l *RekorV2Log) Origin() string {
	u, _ := url.Parse(l.baseURL)
	return u.Hostname()
}

// TransparencyLog describes the log for a trusted root.
func (l *RekorV2Log) TransparencyLog(start time.Time) *root.TransparencyLog {
	return transparencyLog(l.baseURL, l.logID, l.key, start)
}

// AppendHashedRekord logs a hashedrekord v0.0.2 entry (digest, signature,
// certificate) and returns it as a bundle's transparency-log entry with an
// inclusion proof and a signed checkpoint of the tree that includes it.
func (l *RekorV2Log) AppendHashedRekord(digest, sig []byte, cert *x509.Certificate) (*protorekor.TransparencyLogEntry, error) {
	alg, err := signature.GetDefaultAlgorithmDetails(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	entry := &rekortilespb.Entry{
		Kind:       "hashedrekord",
		ApiVersion: "0.0.2",
		Spec: &rekortilespb.Spec{Spec: &rekortilespb.Spec_HashedRekordV002{HashedRekordV002: &rekortilespb.HashedRekordLogEntryV002{
			Data: &protocommon.HashOutput{Algorithm: alg.GetProtoHashType(), Digest: digest},
			Signature: &rekortilespb.Signature{
				Content: sig,
				Verifier: &rekortilespb.Verifier{
					KeyDetails: alg.GetSignatureAlgorithm(),
					Verifier:   &rekortilespb.Verifier_X509Certificate{X509Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
				},
			},
		}}},
	}
	raw, err := protojson.Marshal(entry)
	if err != nil {
		return nil, err
	}
	body, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	index := l.tree.Size()
	l.tree.AppendData(body)
	size := l.tree.Size()
	hashes, err := l.tree.InclusionProof(index, size)
	if err != nil {
		return nil, err
	}
	rootHash := l.tree.Hash()
	cp, err := signNoteCheckpoint(l.Origin(), size, rootHash, l.signer)
	if err != nil {
		return nil, err
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:    int64(index),
		LogId:       &protocommon.LogId{KeyId: l.logID[:]},
		KindVersion: &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.2"},
		InclusionProof: &protorekor.InclusionProof{
			LogIndex: int64(index), TreeSize: int64(size), RootHash: rootHash, Hashes: hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: cp},
		},
		CanonicalizedBody: body,
	}, nil
}

// signNoteCheckpoint signs a Rekor v2 checkpoint: a signed note.
func signNoteCheckpoint(origin string, size uint64, rootHash []byte, signer signature.Signer) (string, error) {
	ns, err := rekornote.NewNoteSigner(context.Background(), origin, signer)
	if err != nil {
		return "", err
	}
	text := flog.Checkpoint{Origin: origin, Size: size, Hash: rootHash}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, ns)
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// A Service is added to a trusted root besides the instance's Fulcio CA,
// CT log and Rekor v1 log: a *TimestampAuthority or a *RekorV2Log.
type Service interface {
	service()
}

func (*TimestampAuthority) service() {}
func (*RekorV2Log) service()         {}

// TrustedRootWith returns the instance's trusted root with timestamp
// authorities and Rekor v2 logs added.
func (s *Sigstore) TrustedRootWith(services ...Service) (*root.TrustedRoot, error) {
	base, err := s.TrustedRoot()
	if err != nil {
		return nil, err
	}
	start := Epoch
	var tsas []root.TimestampingAuthority
	logs := base.RekorLogs()
	for _, svc := range services {
		switch v := svc.(type) {
		case *TimestampAuthority:
			tsas = append(tsas, v.authority(start))
		case *RekorV2Log:
			logs[hex.EncodeToString(v.logID[:])] = v.TransparencyLog(start)
		}
	}
	return root.NewTrustedRoot(root.TrustedRootMediaType01, base.FulcioCertificateAuthorities(), base.CTLogs(), tsas, logs)
}

// WriteTrustedRootWith writes trusted_root.json with the services added.
func (s *Sigstore) WriteTrustedRootWith(path string, services ...Service) error {
	tr, err := s.TrustedRootWith(services...)
	if err != nil {
		return err
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// BundleForgery is a way to corrupt a genuine bundle. Each must make
// verification fail.
type BundleForgery string

// The forgeries ForgeBundle applies.
const (
	// ForgeRootInChain adds the root certificate to a v0.1/v0.2 bundle's
	// certificate chain (the bundle specification forbids it).
	ForgeRootInChain BundleForgery = "root-in-chain"
	// ForgeEmptyChain replaces the verification material with an empty
	// certificate chain.
	ForgeEmptyChain BundleForgery = "empty-chain"
	// ForgePublicKey replaces the certificate with a public-key hint.
	ForgePublicKey BundleForgery = "public-key"
	// ForgeInclusionProof flips a byte of the inclusion proof.
	ForgeInclusionProof BundleForgery = "inclusion-proof"
	// ForgeCheckpointKey re-signs the checkpoint with another key.
	ForgeCheckpointKey BundleForgery = "checkpoint-key"
	// ForgeCheckpointRoot replaces the checkpoint by one the log really
	// signed, for another root hash (entries of the instance's Rekor v1 log).
	ForgeCheckpointRoot BundleForgery = "checkpoint-root"
	// ForgeSET replaces the signed entry timestamp by one signed with
	// another key.
	ForgeSET BundleForgery = "forged-set"
	// ForgeEntrySignature replaces the log entry by the genuine entry of
	// another signature of the same digest (or payload) by the same signer.
	ForgeEntrySignature BundleForgery = "entry-signature"
	// ForgeEntryDigest replaces the log entry by the same signer's genuine
	// entry for another artifact (another digest, or another payload).
	ForgeEntryDigest BundleForgery = "entry-digest"
	// ForgeForeignLog replaces the log entry by the same body logged in
	// another Rekor instance, one the trusted root does not know.
	ForgeForeignLog BundleForgery = "foreign-log"
	// ForgeMediaType sets a media type no bundle version has.
	ForgeMediaType BundleForgery = "media-type"
	// ForgeTruncated cuts the bundle's JSON in half.
	ForgeTruncated BundleForgery = "truncated"
	// ForgeGarbage replaces the bundle by bytes that are not JSON.
	ForgeGarbage BundleForgery = "garbage"
)

// BundleForgeries lists every bundle forgery.
var BundleForgeries = []BundleForgery{
	ForgeRootInChain, ForgeEmptyChain, ForgePublicKey, ForgeInclusionProof, ForgeCheckpointKey,
	ForgeCheckpointRoot, ForgeSET, ForgeEntrySignature, ForgeEntryDigest, ForgeForeignLog,
	ForgeMediaType, ForgeTruncated, ForgeGarbage,
}

// ForgeBundle returns the JSON of a forged copy of b (b itself is left
// alone). The JSON is not validated: some forgeries make bundles that
// sigstore-go refuses to parse, which is the point.
func (s *Sigstore) ForgeBundle(b *bundle.Bundle, f BundleForgery) ([]byte, error) {
	if b == nil || b.Bundle == nil {
		return nil, errors.New("forge: no bundle")
	}
	pb := proto.Clone(b.Bundle).(*protobundle.Bundle)
	vm := pb.GetVerificationMaterial()
	var entry *protorekor.TransparencyLogEntry
	if len(vm.GetTlogEntries()) > 0 {
		entry = vm.GetTlogEntries()[0]
	}
	if entry == nil && f != ForgeRootInChain && f != ForgeEmptyChain && f != ForgePublicKey &&
		f != ForgeMediaType && f != ForgeTruncated && f != ForgeGarbage {
		return nil, fmt.Errorf("forge %s: the bundle has no log entry", f)
	}
	switch f {
	case ForgeRootInChain:
		chain := vm.GetX509CertificateChain()
		if chain == nil {
			return nil, fmt.Errorf("forge %s: needs a bundle with a certificate chain (v0.1, v0.2)", f)
		}
		chain.Certificates = append(chain.Certificates, &protocommon.X509Certificate{RawBytes: s.RootCert.Raw})
	case ForgeEmptyChain:
		vm.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{}}
	case ForgePublicKey:
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "testworld-key"}}
	case ForgeInclusionProof:
		p := entry.GetInclusionProof()
		if p == nil {
			return nil, fmt.Errorf("forge %s: the entry has no inclusion proof", f)
		}
		if len(p.Hashes) == 0 {
			p.Hashes = [][]byte{make([]byte, 32)}
		} else {
			p.Hashes[0] = flipped(p.Hashes[0])
		}
	case ForgeCheckpointKey, ForgeCheckpointRoot:
		if err := s.forgeCheckpoint(entry, f); err != nil {
			return nil, err
		}
	case ForgeSET:
		if entry.GetInclusionPromise() == nil {
			return nil, fmt.Errorf("forge %s: the entry has no signed entry timestamp", f)
		}
		foreign, err := newSigner()
		if err != nil {
			return nil, err
		}
		set, err := s.Log.SignSET(&LogEntry{Index: entry.LogIndex, Body: entry.CanonicalizedBody, IntegratedTime: entry.IntegratedTime}, foreign)
		if err != nil {
			return nil, err
		}
		entry.InclusionPromise.SignedEntryTimestamp = set
	case ForgeEntrySignature, ForgeEntryDigest, ForgeForeignLog:
		e, err := s.forgeEntry(b, entry, f)
		if err != nil {
			return nil, err
		}
		vm.TlogEntries[0] = e
	case ForgeMediaType:
		pb.MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.9"
	case ForgeTruncated, ForgeGarbage:
	default:
		return nil, fmt.Errorf("unknown bundle forgery %q", f)
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		return nil, err
	}
	switch f {
	case ForgeTruncated:
		data = data[:len(data)/2]
	case ForgeGarbage:
		data = []byte("\x00\x01 this is not a Sigstore bundle \xff\n")
	}
	return data, nil
}

func flipped(b []byte) []byte {
	c := append([]byte(nil), b...)
	if len(c) > 0 {
		c[0] ^= 0xff
	}
	return c
}

func newSigner() (signature.SignerVerifier, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return signature.LoadECDSASignerVerifier(key, crypto.SHA256)
}

// forgeCheckpoint replaces the entry's checkpoint: signed by another key,
// or signed by the log over another root hash.
func (s *Sigstore) forgeCheckpoint(entry *protorekor.TransparencyLogEntry, f BundleForgery) error {
	p := entry.GetInclusionProof()
	if p.GetCheckpoint() == nil {
		return fmt.Errorf("forge %s: the entry has no checkpoint", f)
	}
	text, _, _ := strings.Cut(p.Checkpoint.Envelope, "\n\n")
	lines := strings.Split(text, "\n")
	if len(lines) < 3 {
		return fmt.Errorf("forge %s: malformed checkpoint", f)
	}
	origin := lines[0]
	var signer signature.Signer = s.Log.signer
	rootHash := p.RootHash
	if f == ForgeCheckpointKey {
		var err error
		if signer, err = newSigner(); err != nil {
			return err
		}
	} else {
		if !bytes.Equal(entry.GetLogId().GetKeyId(), s.Log.logID[:]) {
			return fmt.Errorf("forge %s: the entry is not from the instance's Rekor v1 log", f)
		}
		rootHash = flipped(rootHash)
	}
	host, treeID, v1 := strings.Cut(origin, " - ")
	if !v1 { // a Rekor v2 checkpoint
		cp, err := signNoteCheckpoint(origin, uint64(p.TreeSize), rootHash, signer)
		if err != nil {
			return err
		}
		p.Checkpoint.Envelope = cp
		return nil
	}
	var id int64
	if _, err := fmt.Sscan(treeID, &id); err != nil {
		return fmt.Errorf("forge %s: checkpoint origin %q: %w", f, origin, err)
	}
	cp, err := util.CreateAndSignCheckpoint(context.Background(), host, id, uint64(p.TreeSize), rootHash, signer)
	if err != nil {
		return err
	}
	p.Checkpoint.Envelope = string(cp)
	return nil
}

// forgeEntry builds a genuine log entry that does not belong to b.
func (s *Sigstore) forgeEntry(b *bundle.Bundle, entry *protorekor.TransparencyLogEntry, f BundleForgery) (*protorekor.TransparencyLogEntry, error) {
	if entry.GetKindVersion().GetKind() == "hashedrekord" && entry.GetKindVersion().GetVersion() == "0.0.2" {
		return nil, fmt.Errorf("forge %s: not for Rekor v2 entries", f)
	}
	at := time.Unix(entry.IntegratedTime, 0)
	proof := entry.GetInclusionProof() != nil
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, err
	}
	cert := vc.Certificate()
	if cert == nil {
		return nil, fmt.Errorf("forge %s: the bundle has no certificate", f)
	}
	var e *LogEntry
	switch f {
	case ForgeForeignLog:
		other, err := NewRekorLog(s.Log.baseURL)
		if err != nil {
			return nil, err
		}
		if e, err = other.Append(entry.CanonicalizedBody, "", at); err != nil {
			return nil, err
		}
		return other.BundleEntry(e, proof)
	case ForgeEntrySignature:
		co := certOptionsOf(cert)
		switch {
		case b.GetMessageSignature() != nil:
			sig, err := s.SignDigest(b.GetMessageSignature().GetMessageDigest().GetDigest(), SignOptions{CertOptions: co, IntegratedTime: at})
			if err != nil {
				return nil, err
			}
			e = sig.Entry
		default:
			env, err := s.signEnvelope(b.GetDsseEnvelope().GetPayloadType(), b.GetDsseEnvelope().GetPayload(), co)
			if err != nil {
				return nil, err
			}
			if e, err = s.logEnvelope(env, entry.GetKindVersion().GetKind(), "", at); err != nil {
				return nil, err
			}
		}
	case ForgeEntryDigest:
		// The signer's genuine entry for another artifact. (An entry that
		// records this very signature for another digest cannot exist:
		// Rekor's types check the signature when they parse an entry.)
		co := certOptionsOf(cert)
		switch {
		case b.GetMessageSignature() != nil:
			other := sha256.Sum256(b.GetMessageSignature().GetMessageDigest().GetDigest())
			sig, err := s.SignDigest(other[:], SignOptions{CertOptions: co, IntegratedTime: at})
			if err != nil {
				return nil, err
			}
			e = sig.Entry
		default:
			other := sha256.Sum256(b.GetDsseEnvelope().GetPayload())
			payload, err := InTotoStatement(other[:], "", "")
			if err != nil {
				return nil, err
			}
			env, err := s.signEnvelope(b.GetDsseEnvelope().GetPayloadType(), payload, co)
			if err != nil {
				return nil, err
			}
			if e, err = s.logEnvelope(env, entry.GetKindVersion().GetKind(), "", at); err != nil {
				return nil, err
			}
		}
	}
	return s.Log.BundleEntry(e, proof)
}

// certOptionsOf reads a Fulcio certificate's identity and issuer back.
func certOptionsOf(c *x509.Certificate) CertOptions {
	o := CertOptions{}
	if len(c.EmailAddresses) > 0 {
		o.Identity = c.EmailAddresses[0]
	}
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidIssuerV1) {
			o.Issuer = string(ext.Value)
		}
	}
	return o
}

// SelfSigned is a self-signed P-256 certificate named cn, valid from
// notBefore to notAfter, and its key: for tests that need a certificate
// to carry, parse or compare, not one that chains to the world's CAs.
func SelfSigned(tb testing.TB, cn string, notBefore, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	cert, err := createCert(tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}
