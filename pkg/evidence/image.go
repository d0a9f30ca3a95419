package evidence

import (
	"bytes"
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
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/bundle"

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
	// LogLookupError says why no entry from Rekor is used (the lookup
	// failed, or Rekor has no entry recording the signature) when the
	// annotation's signed entry timestamp stands in.
	LogLookupError error
	// Malformed says why the published signature cannot be read; Bundle
	// is nil then. It wraps ErrMalformedEvidence.
	Malformed error
	// Err says why the signature could not be fetched (network, registry,
	// Rekor): it could not be checked, which is not a rejection.
	Err error
}

// ImageSession reads images and their signatures from registries. It
// reuses authentication and connections across calls; a Fetcher keeps one
// for the whole run. It is safe for concurrent use.
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
	f.imageOnce.Do(func() {
		p, err := remote.NewPuller(f.registryOptions(context.Background())...)
		f.image, f.imageErr = &ImageSession{f: f, puller: p}, err
	})
	return f.image, f.imageErr
}

func (f *Fetcher) httpClient() *HTTPClient {
	if f.HTTP == nil {
		return NewHTTPClient()
	}
	return f.HTTP
}

// ContentSession is an ImageSession for copying image content (layers of
// any size, streamed, each read bounded by the request timeout).
func (f *Fetcher) ContentSession() (*ImageSession, error) {
	f.contentOnce.Do(func() {
		opts := f.registryOptions(context.Background())
		h := f.httpClient()
		inner := h.Client().Transport
		if inner == nil {
			inner = http.DefaultTransport
		}
		opts = append(opts, remote.WithTransport(&registryTransport{inner: inner, timeout: h.Client().Timeout, stream: true}))
		p, err := remote.NewPuller(opts...)
		f.content, f.contentErr = &ImageSession{f: f, puller: p}, err
	})
	return f.content, f.contentErr
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
		remote.WithRetryBackoff(remote.Backoff{Duration: h.backoff, Factor: 2, Jitter: 0.1, Steps: h.attempts}),
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
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
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
	if rb != nil {
		if entry, err = annotationEntry(rb); err != nil {
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
		found, err := s.f.lookupEntries(ctx, digest[:], sigBytes, cert.Raw)
		switch {
		case err != nil && entry != nil:
			is.LogLookupError = err // the annotation's signed entry timestamp stands on its own
		case err != nil:
			is.Err = err
			return is
		case len(found) > 0:
			entries, is.LogSource = found, LogFromRekor
		case entry != nil:
			is.LogLookupError = errors.New("Rekor returned no entry recording this signature")
		}
	}
	if is.Bundle, err = messageSignatureBundle(digest[:], sigBytes, cert.Raw, entries); err != nil {
		is.Malformed = err
	}
	return is
}

// lookupEntries finds the Rekor entries that record exactly this
// signature (RekorClient.FindEntries), in the bundle's form.
func (f *Fetcher) lookupEntries(ctx context.Context, digest, sig, certDER []byte) ([]*protorekor.TransparencyLogEntry, error) {
	entries, err := f.Rekor.FindEntries(ctx, hex.EncodeToString(digest), sig, certDER)
	if err != nil {
		return nil, err
	}
	var out []*protorekor.TransparencyLogEntry
	for _, e := range entries {
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
	// No artifactType filter: some registries report a referrer's config
	// media type as its artifactType, and filtering would hide it.
	idx, err := ociremote.Referrers(d, "", opts...)
	if err != nil {
		return []*ImageSignature{{Source: SourceReferrer, Err: registryError("referrers of "+d.String(), err)}}
	}
	var found []v1.Descriptor
	for _, m := range idx.Manifests {
		if isBundleReferrer(m) {
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

// isBundleReferrer selects the referrers that are Sigstore bundles: by
// artifactType, or by the annotation cosign writes beside it where a
// registry reports the config media type instead.
func isBundleReferrer(d v1.Descriptor) bool {
	if d.ArtifactType == MediaTypeBundle03 {
		return true
	}
	_, annotated := d.Annotations["dev.sigstore.bundle.content"]
	return annotated && (d.ArtifactType == "" || d.ArtifactType == emptyConfigMediaType)
}

const emptyConfigMediaType = "application/vnd.oci.empty.v1+json"

// annotationEntry turns cosign's bundle annotation (a Rekor signed entry
// timestamp and the entry it signs) into a log entry without inclusion
// proof; it returns the entry's body, base64.
func annotationEntry(rb *cbundle.RekorBundle) (*protorekor.TransparencyLogEntry, error) {
	body, ok := rb.Payload.Body.(string)
	if !ok || body == "" {
		return nil, errors.New("entry body is not a base64 string")
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, errors.New("no signed entry timestamp")
	}
	it, idx, logID := rb.Payload.IntegratedTime, rb.Payload.LogIndex, rb.Payload.LogID
	t, err := logEntry(&models.LogEntryAnon{
		Body: body, IntegratedTime: &it, LogIndex: &idx, LogID: &logID,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: strfmt.Base64(rb.SignedEntryTimestamp)},
	})
	return t, err
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
// signature blobs at 1 MiB. It reads each answer whole (all are small), so
// a body cut short is a transport error that go-containerregistry retries.
type registryTransport struct {
	inner   http.RoundTripper
	timeout time.Duration
	// stream passes image content (layers, configs) through as it arrives,
	// bounded by an idle timeout instead of a size: for copying images.
	// Manifests are still bounded and buffered.
	stream bool
}

func (t *registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !IsLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("%s: %w", Redact(req.URL.String()), ErrInsecureURL)
	}
	if p := req.URL.Path; t.stream && !strings.Contains(p, "/manifests/") && !strings.Contains(p, "/referrers/") {
		ctx, cancel := context.WithCancelCause(req.Context())
		resp, err := t.inner.RoundTrip(req.WithContext(ctx))
		if err != nil {
			cancel(nil)
			return nil, err
		}
		resp.Body = newIdleBody(resp.Body, t.timeout, cancel)
		return resp, nil
	}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if t.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
	}
	defer cancel()
	resp, err := t.inner.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit, tooLarge := int64(maxRegistryResponse), ErrBodyTooLarge
	switch p := req.URL.Path; {
	case strings.Contains(p, "/manifests/"), strings.Contains(p, "/referrers/"):
		limit, tooLarge = MaxManifestSize, ErrManifestTooLarge
	case strings.Contains(p, "/blobs/"):
		limit = maxSignatureBlob
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, at most %d are read", tooLarge, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", tooLarge, limit)
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	return resp, nil
}
