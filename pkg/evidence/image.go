package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/tle"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Limits of what is read from an image registry. Image signatures and
// their manifests are small; anything larger is refused, never read whole.
const (
	// MaxManifestSize bounds a manifest, an index or a referrers list.
	MaxManifestSize = 4 << 20
	// MaxIndexChildren bounds the manifests one index may list.
	MaxIndexChildren = 256
	// MaxImageSignatures bounds the signatures of one digest: layers of
	// its .sig manifest, and Sigstore bundles among its referrers.
	MaxImageSignatures = 64
	// maxSignatureBlob bounds a signature payload or a Sigstore bundle.
	maxSignatureBlob = 1 << 20
	// maxRegistryResponse bounds any other registry answer (tokens, errors).
	maxRegistryResponse = 1 << 20
	// signatureFetchers bounds the signatures of one image fetched at once.
	signatureFetchers = 8
)

// Errors of image resolution; test them with errors.Is. A tag or digest
// the registry does not know is ErrNotFound.
var (
	// ErrManifestTooLarge: a manifest exceeds MaxManifestSize.
	ErrManifestTooLarge = errors.New("manifest exceeds the size limit")
	// ErrIndexTooLarge: an index lists more than MaxIndexChildren manifests.
	ErrIndexTooLarge = errors.New("index lists too many manifests")
	// ErrTooManySignatures: a digest has more than MaxImageSignatures signatures.
	ErrTooManySignatures = errors.New("too many signatures")
)

// Where an image signature was found.
const (
	// SourceSignatureTag: a layer of cosign's sha256-<digest>.sig manifest.
	SourceSignatureTag = "cosign .sig tag"
	// SourceReferrer: a Sigstore bundle attached as an OCI 1.1 referrer.
	SourceReferrer = "OCI referrer"
)

// Where the transparency-log entry of a cosign signature came from.
const (
	// LogFromAnnotation: the dev.sigstore.cosign/bundle annotation (signed
	// entry timestamp, no inclusion proof).
	LogFromAnnotation = "annotation"
	// LogFromRekor: looked up in Rekor, with an inclusion proof.
	LogFromRekor = "rekor"
)

// ImageManifest is what a registry serves for an image reference.
type ImageManifest struct {
	// Repository is registry/repository, e.g. registry.k8s.io/kube-apiserver.
	Repository string
	// Tag is the tag resolved, "" when the reference was a digest.
	Tag string
	// Digest of the manifest served ("sha256:…"), MediaType and Size.
	Digest    string
	MediaType string
	Size      int64
	// Index reports a multi-platform index (OCI index or Docker manifest list).
	Index bool
	// Children are the manifests an index lists, in its order.
	Children []ImageChild
}

// PinnedReference is the digest-pinned reference: repository:tag@digest,
// or repository@digest.
func (m *ImageManifest) PinnedReference() string {
	if m.Tag != "" {
		return m.Repository + ":" + m.Tag + "@" + m.Digest
	}
	return m.Repository + "@" + m.Digest
}

// ImageChild is one manifest an index lists.
type ImageChild struct {
	Digest    string
	MediaType string
	Size      int64
	// Platform is zero when the index names none (e.g. attestations).
	Platform artifacts.Platform
	Variant  string
}

// ImageSignature is one signature published for an image digest,
// normalised into a Sigstore bundle. It says nothing about whether it is
// genuine.
type ImageSignature struct {
	// Source says where it was found: SourceSignatureTag or SourceReferrer.
	Source string
	// Descriptor is the digest of the .sig layer or of the referrer manifest.
	Descriptor string
	// Payload is the signed simple-signing payload (SourceSignatureTag);
	// a referrer's bundle carries its statement itself.
	Payload []byte
	// Bundle is the signature, its certificate and its log entries.
	Bundle *bundle.Bundle
	// LogSource says where the log entry came from: LogFromRekor,
	// LogFromAnnotation, or "" when none was found.
	LogSource string
	// LogLookupError says why Rekor could not be asked, when the
	// annotation's signed entry timestamp was used instead.
	LogLookupError error
	// Malformed says why the published signature cannot be read; Bundle
	// is nil then. It wraps ErrMalformedEvidence.
	Malformed error
	// Err says why the signature could not be fetched (network, registry,
	// Rekor): it could not be checked, which is not a rejection.
	Err error
}

// ImageSession reads images and their signatures from registries. It
// reuses authentication and connections across calls: use one per image
// (or per index and its children). It is safe for concurrent use.
type ImageSession struct {
	f      *Fetcher
	puller *remote.Puller
}

// ImageSession starts a session of registry reads with the fetcher's HTTP
// settings: its transport (connection reuse), its per-request timeout and
// its retries (go-containerregistry retries 408, 429, 500, 502, 503, 504
// and transient network errors with the client's backoff). Credentials
// come from the default keychain (docker config, credential helpers).
func (f *Fetcher) ImageSession() (*ImageSession, error) {
	p, err := remote.NewPuller(f.registryOptions(context.Background())...)
	if err != nil {
		return nil, err
	}
	return &ImageSession{f: f, puller: p}, nil
}

func (f *Fetcher) httpClient() *HTTPClient {
	if f.HTTP == nil {
		return NewHTTPClient()
	}
	return f.HTTP
}

func (f *Fetcher) registryOptions(ctx context.Context) []remote.Option {
	h := f.httpClient()
	inner := h.Client().Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(&registryTransport{inner: inner, timeout: h.Client().Timeout}),
		remote.WithUserAgent(h.userAgent),
		remote.WithRetryBackoff(remote.Backoff{Duration: h.backoff, Factor: 2, Jitter: 0.1, Steps: h.attempts, Cap: h.maxBackoff}),
	}
}

func (s *ImageSession) options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.Reuse(s.puller), remote.WithContext(ctx)}
}

// ParseImageReference parses an image reference, a tag or a digest;
// a reference without registry is below DefaultRegistry.
func ParseImageReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref, name.WithDefaultRegistry(DefaultRegistry))
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

// Resolve fetches the manifest ref names. A tag or digest the registry
// does not know is ErrNotFound; a manifest larger than MaxManifestSize is
// ErrManifestTooLarge and an index of more than MaxIndexChildren manifests
// ErrIndexTooLarge; registry failures (after retries) name the answer.
func (s *ImageSession) Resolve(ctx context.Context, ref string) (*ImageManifest, error) {
	r, err := ParseImageReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, s.options(ctx)...)
	if err != nil {
		return nil, registryError("resolve "+r.String(), err)
	}
	m := &ImageManifest{Repository: r.Context().Name(), Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: desc.Size}
	if t, ok := r.(name.Tag); ok {
		m.Tag = t.TagStr()
	}
	if !desc.MediaType.IsIndex() {
		return m, nil
	}
	m.Index = true
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(desc.Manifest)))
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w: index: %v", r, ErrMalformedEvidence, err)
	}
	if n := len(idx.Manifests); n > MaxIndexChildren {
		return nil, fmt.Errorf("resolve %s: %w: %d manifests, at most %d are read", r, ErrIndexTooLarge, n, MaxIndexChildren)
	}
	for _, d := range idx.Manifests {
		c := ImageChild{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size}
		if d.Platform != nil {
			c.Platform = artifacts.Platform{OS: d.Platform.OS, Arch: d.Platform.Architecture}
			c.Variant = d.Platform.Variant
		}
		m.Children = append(m.Children, c)
	}
	return m, nil
}

// Signatures fetches every signature published for digest in repository
// (registry/repository): cosign's sha256-<hex>.sig tag, and Sigstore
// bundles attached as OCI referrers (the referrers API, or its tag schema
// where the registry lacks it). No signature is no error: an unsigned
// image has none. A failure to read the .sig tag is an error; a
// signature that cannot be fetched or read is recorded in it (Err,
// Malformed). When the fetcher has a Rekor client, each cosign
// signature's log entry is looked up there with its inclusion proof.
func (s *ImageSession) Signatures(ctx context.Context, repository, digest string) ([]*ImageSignature, error) {
	repo, err := name.NewRepository(repository)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repository, err)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, fmt.Errorf("digest %q: %w", digest, err)
	}
	d := repo.Digest(h.String())
	var (
		wg               sync.WaitGroup
		tagged, referred []*ImageSignature
		tagErr           error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		tagged, tagErr = s.cosignSignatures(ctx, d)
	}()
	go func() {
		defer wg.Done()
		referred = s.referrerBundles(ctx, d)
	}()
	wg.Wait()
	if tagErr != nil {
		return nil, tagErr
	}
	return append(tagged, referred...), nil
}

// cosignSignatures reads the sha256-<hex>.sig manifest with cosign's own
// reader and normalises each layer.
func (s *ImageSession) cosignSignatures(ctx context.Context, d name.Digest) ([]*ImageSignature, error) {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(s.options(ctx)...)}
	tag, err := ociremote.SignatureTag(d, opts...)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(tag, opts...)
	if err != nil {
		return nil, registryError("signatures "+tag.String(), err)
	}
	m, err := sigs.Manifest()
	if err != nil {
		return nil, registryError("signatures "+tag.String(), err)
	}
	if n := len(m.Layers); n > MaxImageSignatures {
		return nil, fmt.Errorf("signatures %s: %w: %d layers, at most %d are read", tag, ErrTooManySignatures, n, MaxImageSignatures)
	}
	list, err := sigs.Get()
	if err != nil {
		return nil, registryError("signatures "+tag.String(), err)
	}
	out := make([]*ImageSignature, len(list))
	sem := make(chan struct{}, signatureFetchers)
	var wg sync.WaitGroup
	for i, sig := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = s.cosignSignature(ctx, sig)
		}()
	}
	wg.Wait()
	return out, nil
}

// cosignSignature normalises one layer of a .sig manifest: payload,
// signature and certificate annotations, and the log entry (from Rekor
// when online, else from the bundle annotation).
func (s *ImageSession) cosignSignature(ctx context.Context, sig oci.Signature) *ImageSignature {
	is := &ImageSignature{Source: SourceSignatureTag}
	malformed := func(format string, a ...any) *ImageSignature {
		is.Malformed = fmt.Errorf("%w: %s", ErrMalformedEvidence, fmt.Sprintf(format, a...))
		return is
	}
	if h, err := sig.Digest(); err == nil {
		is.Descriptor = h.String()
	}
	if size, err := sig.Size(); err == nil && size > maxSignatureBlob {
		return malformed("payload of %d bytes exceeds %d", size, maxSignatureBlob)
	}
	payload, err := sig.Payload()
	if err != nil {
		is.Err = registryError("signature payload "+is.Descriptor, err)
		return is
	}
	is.Payload = payload
	b64, err := sig.Base64Signature()
	if err != nil {
		return malformed("%v", err)
	}
	sigBytes, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sigBytes) == 0 {
		return malformed("signature annotation is not base64: %q", shorten(b64))
	}
	cert, err := sig.Cert()
	if err != nil {
		return malformed("certificate annotation: %v", err)
	}
	if cert == nil {
		return malformed("no certificate annotation: not a keyless signature")
	}
	rb, err := sig.Bundle()
	if err != nil {
		return malformed("bundle annotation: %v", err)
	}
	var entry *protorekor.TransparencyLogEntry
	var body string
	if rb != nil {
		if entry, body, err = annotationEntry(rb); err != nil {
			return malformed("bundle annotation: %v", err)
		}
		is.LogSource = LogFromAnnotation
	}
	digest := sha256.Sum256(payload)
	entries := []*protorekor.TransparencyLogEntry{}
	if entry != nil {
		entries = append(entries, entry)
	}
	if s.f.Rekor != nil {
		found, err := s.f.lookupEntries(ctx, digest[:], sigBytes, cert.Raw, body)
		switch {
		case err != nil && entry != nil:
			is.LogLookupError = err // the annotation's signed entry timestamp stands on its own
		case err != nil:
			is.Err = err
			return is
		case len(found) > 0:
			entries, is.LogSource = found, LogFromRekor
		}
	}
	if is.Bundle, err = messageSignatureBundle(digest[:], sigBytes, cert.Raw, entries); err != nil {
		is.Malformed = err
	}
	return is
}

// lookupEntries asks Rekor for the entries of a signature over digest,
// with their inclusion proofs. When the annotation named the entry's body,
// only that entry is fetched.
func (f *Fetcher) lookupEntries(ctx context.Context, digest, sig, certDER []byte, body string) ([]*protorekor.TransparencyLogEntry, error) {
	uuids, err := f.Rekor.SearchHash(ctx, "sha256:"+hex.EncodeToString(digest))
	if err != nil {
		return nil, err
	}
	if raw, err := base64.StdEncoding.DecodeString(body); err == nil && body != "" {
		leaf := hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(raw))
		var named []string
		for _, u := range uuids {
			if strings.HasSuffix(u, leaf) {
				named = append(named, u)
			}
		}
		if len(named) > 0 {
			uuids = named
		}
	}
	var out []*protorekor.TransparencyLogEntry
	for _, u := range uuids {
		e, err := f.Rekor.Entry(ctx, u)
		if err != nil {
			return nil, err
		}
		if !RecordsSignature(e, sig, certDER) {
			continue
		}
		t, err := logEntry(e)
		if err != nil {
			continue // not usable; pkg/verify would reject it anyway
		}
		out = append(out, t)
	}
	return out, nil
}

// referrerBundles finds Sigstore bundles attached to d as OCI referrers
// and reads each with cosign's reader. Failures are recorded as signatures
// that could not be fetched or read.
func (s *ImageSession) referrerBundles(ctx context.Context, d name.Digest) []*ImageSignature {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(s.options(ctx)...)}
	idx, err := ociremote.Referrers(d, MediaTypeBundle03, opts...)
	if err != nil {
		return []*ImageSignature{{Source: SourceReferrer, Err: registryError("referrers of "+d.String(), err)}}
	}
	var found []v1.Descriptor
	for _, m := range idx.Manifests {
		if m.ArtifactType == MediaTypeBundle03 { // the registry's filter is advisory
			found = append(found, m)
		}
	}
	if len(found) > MaxImageSignatures {
		err := fmt.Errorf("referrers of %s: %w: %d bundles, at most %d are read", d, ErrTooManySignatures, len(found), MaxImageSignatures)
		return []*ImageSignature{{Source: SourceReferrer, Err: err}}
	}
	out := make([]*ImageSignature, len(found))
	var wg sync.WaitGroup
	sem := make(chan struct{}, signatureFetchers)
	for i, m := range found {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			is := &ImageSignature{Source: SourceReferrer, Descriptor: m.Digest.String()}
			b, err := ociremote.Bundle(d.Context().Digest(m.Digest.String()), opts...)
			var te *transport.Error
			switch {
			case errors.As(err, &te), isNetworkError(err):
				is.Err = registryError("referrer "+m.Digest.String(), err)
			case err != nil:
				is.Malformed = fmt.Errorf("%w: referrer %s: %v", ErrMalformedEvidence, m.Digest, err)
			default:
				is.Bundle = b
			}
			out[i] = is
		}()
	}
	wg.Wait()
	return out
}

// annotationEntry turns cosign's bundle annotation (a Rekor signed entry
// timestamp and the entry it signs) into a log entry without inclusion
// proof; it returns the entry's body, base64.
func annotationEntry(rb *cbundle.RekorBundle) (*protorekor.TransparencyLogEntry, string, error) {
	body, ok := rb.Payload.Body.(string)
	if !ok || body == "" {
		return nil, "", errors.New("entry body is not a base64 string")
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, "", errors.New("no signed entry timestamp")
	}
	it, idx, logID := rb.Payload.IntegratedTime, rb.Payload.LogIndex, rb.Payload.LogID
	t, err := logEntry(&models.LogEntryAnon{
		Body: body, IntegratedTime: &it, LogIndex: &idx, LogID: &logID,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: strfmt.Base64(rb.SignedEntryTimestamp)},
	})
	return t, body, err
}

// logEntry converts a Rekor API entry into the bundle's form, with or
// without inclusion proof (tle.GenerateTransparencyLogEntry requires one).
func logEntry(e *models.LogEntryAnon) (*protorekor.TransparencyLogEntry, error) {
	if e.LogID == nil || e.LogIndex == nil || e.IntegratedTime == nil || e.Verification == nil {
		return nil, errors.New("incomplete entry")
	}
	if e.Verification.InclusionProof != nil {
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

// registryError names what failed; a 404 wraps ErrNotFound.
func registryError(what string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusGone) {
		return fmt.Errorf("%s: %w: %v", what, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isNetworkError(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// registryTransport applies k8sverify's rules to registry requests: plain
// http only to loopback hosts, a timeout per request (body included), and
// bounded answers: manifests and referrers lists at MaxManifestSize,
// signature blobs at 1 MiB.
type registryTransport struct {
	inner   http.RoundTripper
	timeout time.Duration
}

func (t *registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !IsLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("%s: %w", Redact(req.URL.String()), ErrInsecureURL)
	}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if t.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
	}
	resp, err := t.inner.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	limit, tooLarge := int64(maxRegistryResponse), ErrBodyTooLarge
	switch p := req.URL.Path; {
	case strings.Contains(p, "/manifests/"), strings.Contains(p, "/referrers/"):
		limit, tooLarge = MaxManifestSize, ErrManifestTooLarge
	case strings.Contains(p, "/blobs/"):
		limit = maxSignatureBlob
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s %s: %w: %d bytes, at most %d are read", req.Method, Redact(req.URL.String()), tooLarge, resp.ContentLength, limit)
	}
	resp.Body = &boundedBody{rc: resp.Body, left: limit, cancel: cancel,
		err: fmt.Errorf("%s %s: %w: more than %d bytes", req.Method, Redact(req.URL.String()), tooLarge, limit)}
	return resp, nil
}

// boundedBody fails a read past its limit instead of cutting silently,
// and ends the request's timeout when closed.
type boundedBody struct {
	rc     io.ReadCloser
	left   int64
	err    error
	cancel context.CancelFunc
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n > 0 {
			return 0, b.err
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}
