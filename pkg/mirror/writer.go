package mirror

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	gcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ggcrstatic "github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/empty"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Writer writes images and their signatures into a registry (a
// mirror), with the fetcher's HTTP settings and credentials from the
// default keychain (docker config, credential helpers), as reads do. It
// never decides what to write: callers copy what the judge verified.
// Every write first asks whether the registry already holds it, so a
// second copy writes nothing; each call says whether it wrote. It is safe
// for concurrent use.
type Writer struct {
	names  []name.Option
	puller *remote.Puller
	pusher *remote.Pusher
	// http is the fetcher's guarded transport, for CheckPush.
	http http.RoundTripper
}

// NewWriter returns a writer to the registries the fetcher reaches, with
// its HTTP client, credentials and plain-http rule.
func NewWriter(f *evidence.Fetcher) (*Writer, error) {
	opts := f.RegistryOptions(context.Background())
	w := &Writer{names: f.NameOptions(), http: f.HTTP().Guarded()}
	var err error
	if w.puller, err = remote.NewPuller(opts...); err == nil {
		w.pusher, err = remote.NewPusher(opts...)
	}
	return w, err
}

func (w *Writer) readOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.Reuse(w.puller), remote.WithContext(ctx)}
}

func (w *Writer) writeOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.Reuse(w.pusher), remote.WithContext(ctx)}
}

// ErrRegistryWrite: the destination registry refused or failed a write
// (or a look-up before one); the error carries the registry's own message.
var ErrRegistryWrite = errors.New("destination registry")

func writeError(what string, err error) error {
	return fmt.Errorf("%s: %w: %w", what, ErrRegistryWrite, err)
}

// digestRef parses repository@digest.
func (w *Writer) digestRef(repo, digest string) (name.Digest, error) {
	d, err := name.NewDigest(repo+"@"+digest, w.names...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("reference %s@%s: %w", repo, digest, err)
	}
	return d, nil
}

// head returns the digest ref names in the registry ("" when it has none).
func (w *Writer) head(ctx context.Context, ref name.Reference) (string, error) {
	desc, err := remote.Head(ref, w.readOptions(ctx)...)
	var te *gcrtransport.Error
	switch {
	case errors.As(err, &te) && (te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusGone):
		return "", nil
	case err != nil:
		return "", writeError("look up "+ref.String(), err)
	}
	return desc.Digest.String(), nil
}

// missing returns the reference of manifest m by its digest in
// repository, and whether the registry lacks it (false: already there).
func (w *Writer) missing(ctx context.Context, repo string, m interface{ Digest() (v1.Hash, error) }) (name.Digest, bool, error) {
	h, err := m.Digest()
	if err != nil {
		return name.Digest{}, false, err
	}
	d, err := w.digestRef(repo, h.String())
	if err != nil {
		return name.Digest{}, false, err
	}
	got, err := w.head(ctx, d)
	return d, err == nil && got != h.String(), err
}

// WriteImage writes an image (manifest, configuration, layers) into
// repository by its digest, untagged; false when it was already there.
func (w *Writer) WriteImage(ctx context.Context, repo string, img v1.Image) (bool, error) {
	d, missing, err := w.missing(ctx, repo, img)
	if !missing || err != nil {
		return false, err
	}
	if err := remote.Write(d, img, w.writeOptions(ctx)...); err != nil {
		return false, writeError("write "+d.String(), err)
	}
	return true, nil
}

// WriteIndex writes an index and every manifest it lists into repository
// by its digest, untagged; false when it was already there. mountFrom maps
// a listed manifest's digest to a repository of the same registry that
// already holds it: its layers are mounted from there (cross-repository
// blob mount) where the registry allows, else uploaded.
func (w *Writer) WriteIndex(ctx context.Context, repo string, idx v1.ImageIndex, mountFrom map[string]string) (bool, error) {
	d, missing, err := w.missing(ctx, repo, idx)
	if !missing || err != nil {
		return false, err
	}
	if len(mountFrom) > 0 {
		idx = &mountingIndex{idx: idx, w: w, from: mountFrom}
	}
	if err := remote.WriteIndex(d, idx, w.writeOptions(ctx)...); err != nil {
		return false, writeError("write "+d.String(), err)
	}
	return true, nil
}

// mountingIndex serves an index's images with layers the destination may
// mount from another of its repositories.
type mountingIndex struct {
	idx  v1.ImageIndex
	w    *Writer
	from map[string]string
}

func (m *mountingIndex) MediaType() (types.MediaType, error)       { return m.idx.MediaType() }
func (m *mountingIndex) Digest() (v1.Hash, error)                  { return m.idx.Digest() }
func (m *mountingIndex) Size() (int64, error)                      { return m.idx.Size() }
func (m *mountingIndex) IndexManifest() (*v1.IndexManifest, error) { return m.idx.IndexManifest() }
func (m *mountingIndex) RawManifest() ([]byte, error)              { return m.idx.RawManifest() }
func (m *mountingIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return m.idx.ImageIndex(h)
}

func (m *mountingIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := m.idx.Image(h)
	if err != nil {
		return nil, err
	}
	repo, ok := m.from[h.String()]
	if !ok {
		return img, nil
	}
	ref, err := m.w.digestRef(repo, h.String())
	if err != nil {
		return img, nil
	}
	return &mountingImage{Image: img, ref: ref}, nil
}

type mountingImage struct {
	v1.Image
	ref name.Reference
}

func (m *mountingImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &remote.MountableLayer{Layer: l, Reference: m.ref}
	}
	return out, nil
}

func (m *mountingImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := m.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &remote.MountableLayer{Layer: l, Reference: m.ref}, nil
}

// Tag points repository:tag at the manifest of digest, which the
// repository must hold; wrote is false when the tag already pointed
// there, and previous is the digest the tag named before it was moved
// ("" when it named nothing). Tags are written last: a tag never names an
// image whose signatures are not there yet.
func (w *Writer) Tag(ctx context.Context, repo, tag, digest string) (previous string, wrote bool, err error) {
	t, err := name.NewTag(repo+":"+tag, w.names...)
	if err != nil {
		return "", false, fmt.Errorf("tag %s:%s: %w", repo, tag, err)
	}
	got, err := w.head(ctx, t)
	if err != nil || got == digest {
		return "", false, err
	}
	d, err := w.digestRef(repo, digest)
	if err != nil {
		return "", false, err
	}
	desc, err := remote.Get(d, w.readOptions(ctx)...)
	if err != nil {
		return "", false, writeError("read back "+d.String(), err)
	}
	if err := remote.Tag(t, desc, w.writeOptions(ctx)...); err != nil {
		return "", false, writeError("tag "+t.String(), err)
	}
	return got, true, nil
}

// CopySignatures copies the cosign signatures of digest, as read from
// the source's .sig tag (evidence.ImageSession.SignatureImage), into dest's
// .sig tag — only the layers that are one of keep (the signatures that
// verified: the same payload, signature, certificate and log entry). When
// every layer is kept the .sig manifest is copied as it is; else the kept
// layers alone are written. It returns how many layers were kept and
// whether anything was written.
func (w *Writer) CopySignatures(ctx context.Context, sigs oci.Signatures, dest, digest string, keep []verify.SignatureEvidence) (int, bool, error) {
	list, err := sigs.Get()
	if err != nil {
		return 0, false, fmt.Errorf("signatures of %s: %w", digest, err)
	}
	var kept []oci.Signature
	for _, s := range list {
		if slices.ContainsFunc(keep, func(se verify.SignatureEvidence) bool { return sameSignature(s, se) }) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return 0, false, nil
	}
	var img v1.Image = sigs
	if len(kept) < len(list) {
		if img, err = mutate.AppendSignatures(empty.Signatures(), false, kept...); err != nil {
			return 0, false, err
		}
	}
	wrote, err := w.writeTagged(ctx, evidence.SignatureTag(dest, digest), img)
	return len(kept), wrote, err
}

// WriteSignatures writes cosign signatures rebuilt from evidence (see
// CosignSignature) as dest's .sig tag of digest.
func (w *Writer) WriteSignatures(ctx context.Context, dest, digest string, sigs []oci.Signature) (bool, error) {
	if len(sigs) == 0 {
		return false, nil
	}
	img, err := mutate.AppendSignatures(empty.Signatures(), false, sigs...)
	if err != nil {
		return false, err
	}
	return w.writeTagged(ctx, evidence.SignatureTag(dest, digest), img)
}

// WriteRebuiltSignatures writes signatures rebuilt from their bundles
// (see CosignSignature, at the log entry the judge found decisive) as
// dest's .sig tag of digest.
func (w *Writer) WriteRebuiltSignatures(ctx context.Context, dest, digest string, sigs []audit.VerifiedSignature) (bool, error) {
	var rebuilt []oci.Signature
	for _, vs := range sigs {
		sig, err := CosignSignature(vs.Evidence, vs.Result.LogIndex)
		if err != nil {
			return false, err
		}
		rebuilt = append(rebuilt, sig)
	}
	return w.WriteSignatures(ctx, dest, digest, rebuilt)
}

// writeTagged writes img (a small artifact: signatures) under ref, a tag;
// false when the tag already named it.
func (w *Writer) writeTagged(ctx context.Context, ref string, img v1.Image) (bool, error) {
	t, err := name.NewTag(ref, w.names...)
	if err != nil {
		return false, err
	}
	h, err := img.Digest()
	if err != nil {
		return false, err
	}
	if got, err := w.head(ctx, t); err != nil || got == h.String() {
		return false, err
	}
	if err := remote.Write(t, img, w.writeOptions(ctx)...); err != nil {
		return false, writeError("write "+t.String(), err)
	}
	return true, nil
}

// WriteBundleReferrer attaches a Sigstore bundle to the manifest subject
// (in dest) as an OCI referrer, in the form cosign writes (an empty
// configuration, the bundle as the only layer, artifactType the bundle's
// media type), with no time of its own: the same bundle always makes the
// same referrer, so writing it again writes nothing.
func (w *Writer) WriteBundleReferrer(ctx context.Context, dest string, subject v1.Descriptor, se verify.SignatureEvidence) (bool, error) {
	if se.Bundle == nil {
		return false, fmt.Errorf("%w: no bundle to attach", verify.ErrEvidenceMalformed)
	}
	data, err := protojson.Marshal(se.Bundle.Bundle)
	if err != nil {
		return false, err
	}
	ann := map[string]string{}
	if env := se.Bundle.GetDsseEnvelope(); env != nil {
		ann["dev.sigstore.bundle.content"] = "dsse-envelope"
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if json.Unmarshal(env.GetPayload(), &st) == nil && st.PredicateType != "" {
			ann["dev.sigstore.bundle.predicateType"] = st.PredicateType
		}
	} else {
		ann["dev.sigstore.bundle.content"] = "message-signature"
	}
	ref := &bundleReferrer{
		layer:   ggcrstatic.NewLayer(data, types.MediaType(se.Bundle.GetMediaType())),
		config:  ggcrstatic.NewLayer([]byte("{}"), evidence.MediaTypeEmptyConfig),
		subject: subject,
		ann:     ann,
	}
	if ref.bundleType = se.Bundle.GetMediaType(); ref.bundleType == "" {
		ref.bundleType = evidence.MediaTypeBundle03
	}
	img, err := partial.CompressedToImage(ref)
	if err != nil {
		return false, err
	}
	return w.WriteImage(ctx, dest, img)
}

// CosignSignature rebuilds a cosign .sig layer from a signature's
// evidence as an evidence pack keeps it: the signed payload, the
// signature and the certificate of its bundle, and cosign's bundle
// annotation made of the log entry at logIndex (the one the judge found
// decisive; any entry with a signed entry timestamp if none is named) with
// its signed entry timestamp. The layer then carries its own log proof:
// it verifies with no transparency-log service.
func CosignSignature(se verify.SignatureEvidence, logIndex *int64) (oci.Signature, error) {
	if se.Bundle == nil || len(se.Payload) == 0 {
		return nil, fmt.Errorf("%w: a cosign signature needs its bundle and payload", verify.ErrEvidenceMalformed)
	}
	ms := se.Bundle.GetMessageSignature()
	if ms == nil || len(ms.GetSignature()) == 0 {
		return nil, fmt.Errorf("%w: the bundle holds no message signature", verify.ErrEvidenceMalformed)
	}
	cert := certificateOf(se)
	if cert == nil {
		return nil, fmt.Errorf("%w: the bundle holds no certificate", verify.ErrEvidenceMalformed)
	}
	entry := annotationSource(se.Bundle.GetVerificationMaterial().GetTlogEntries(), logIndex)
	if entry == nil {
		return nil, fmt.Errorf("%w: the bundle holds no log entry with a signed entry timestamp", verify.ErrEvidenceMalformed)
	}
	rb := &cbundle.RekorBundle{
		SignedEntryTimestamp: entry.GetInclusionPromise().GetSignedEntryTimestamp(),
		Payload: cbundle.RekorPayload{
			Body:           base64.StdEncoding.EncodeToString(entry.GetCanonicalizedBody()),
			IntegratedTime: entry.GetIntegratedTime(),
			LogIndex:       entry.GetLogIndex(),
			LogID:          hex.EncodeToString(entry.GetLogId().GetKeyId()),
		},
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})
	return static.NewSignature(se.Payload, base64.StdEncoding.EncodeToString(ms.GetSignature()),
		static.WithCertChain(certPEM, nil), static.WithBundle(rb))
}

// annotationSource picks the log entry for cosign's bundle annotation.
func annotationSource(entries []*protorekor.TransparencyLogEntry, logIndex *int64) *protorekor.TransparencyLogEntry {
	var first *protorekor.TransparencyLogEntry
	for _, e := range entries {
		if len(e.GetInclusionPromise().GetSignedEntryTimestamp()) == 0 || len(e.GetCanonicalizedBody()) == 0 {
			continue
		}
		if logIndex != nil && e.GetLogIndex() == *logIndex {
			return e
		}
		if first == nil || e.GetIntegratedTime() < first.GetIntegratedTime() {
			first = e
		}
	}
	return first
}

// sameSignature reports whether a layer of a .sig manifest is the
// signature whose evidence is se: the same payload, signature and
// certificate, and a log entry (its bundle annotation) that se holds.
func sameSignature(s oci.Signature, se verify.SignatureEvidence) bool {
	if se.Source != verify.SourceSignatureTag || se.Bundle == nil {
		return false
	}
	payload, err := s.Payload()
	if err != nil || !bytes.Equal(payload, se.Payload) {
		return false
	}
	b64, err := s.Base64Signature()
	if err != nil {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !bytes.Equal(sig, se.Bundle.GetMessageSignature().GetSignature()) {
		return false
	}
	cert, err := s.Cert()
	if err != nil || cert == nil {
		return false
	}
	own := certificateOf(se)
	if own == nil || !bytes.Equal(cert.Raw, own) {
		return false
	}
	rb, err := s.Bundle()
	if err != nil {
		return false
	}
	if rb == nil {
		return true
	}
	for _, e := range se.Bundle.GetVerificationMaterial().GetTlogEntries() {
		if e.GetLogIndex() == rb.Payload.LogIndex && e.GetIntegratedTime() == rb.Payload.IntegratedTime &&
			bytes.Equal(e.GetInclusionPromise().GetSignedEntryTimestamp(), rb.SignedEntryTimestamp) {
			return true
		}
	}
	return false
}

// certificateOf returns the DER leaf certificate of a signature's bundle.
func certificateOf(se verify.SignatureEvidence) []byte {
	vm := se.Bundle.GetVerificationMaterial()
	if c := vm.GetCertificate(); c != nil {
		return c.GetRawBytes()
	}
	if chain := vm.GetX509CertificateChain().GetCertificates(); len(chain) > 0 {
		return chain[0].GetRawBytes()
	}
	return nil
}

// bundleReferrer is a referrer manifest carrying one Sigstore bundle,
// as a partial.CompressedImageCore.
type bundleReferrer struct {
	layer, config v1.Layer
	subject       v1.Descriptor
	ann           map[string]string
	bundleType    string
}

func (r *bundleReferrer) RawConfigFile() ([]byte, error) { return []byte("{}"), nil }
func (r *bundleReferrer) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}

func (r *bundleReferrer) RawManifest() ([]byte, error) {
	ld, err := partial.Descriptor(r.layer)
	if err != nil {
		return nil, err
	}
	cd, err := partial.Descriptor(r.config)
	if err != nil {
		return nil, err
	}
	subject := v1.Descriptor{MediaType: r.subject.MediaType, Digest: r.subject.Digest, Size: r.subject.Size}
	return json.Marshal(struct {
		SchemaVersion int64             `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        v1.Descriptor     `json:"config"`
		Layers        []v1.Descriptor   `json:"layers"`
		Subject       *v1.Descriptor    `json:"subject"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}{2, types.OCIManifestSchema1, r.bundleType, *cd, []v1.Descriptor{*ld}, &subject, r.ann})
}

func (r *bundleReferrer) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range []v1.Layer{r.layer, r.config} {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("referrer: no blob %s", h)
}
