package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	gcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
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
// the registry does not know is transport.ErrNotFound.
var (
	// ErrManifestTooLarge: a manifest exceeds MaxManifestSize.
	ErrManifestTooLarge = errors.New("manifest exceeds the size limit")
	// ErrIndexTooLarge: an index lists more than MaxIndexChildren manifests.
	ErrIndexTooLarge = errors.New("index lists too many manifests")
	// ErrTooManySignatures: a digest has more than MaxImageSignatures signatures.
	ErrTooManySignatures = errors.New("too many signatures")
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
	// Raw is the manifest as served.
	Raw []byte
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

// ImageSession reads images and their signatures from registries. It
// reuses authentication and connections across calls; a Fetcher keeps one
// for the whole run. It is safe for concurrent use.
type ImageSession struct {
	f      *Fetcher
	puller *remote.Puller

	mu       sync.Mutex
	resolved map[string]*resolution // by reference, for the run
}

// resolution is one reference resolved once per run.
type resolution struct {
	once sync.Once
	m    *ImageManifest
	err  error
}

// resolveCached resolves ref once per session: a release's index is read
// once for itself and for each of its platform images.
func (s *ImageSession) resolveCached(ctx context.Context, ref string) (*ImageManifest, error) {
	s.mu.Lock()
	if s.resolved == nil {
		s.resolved = map[string]*resolution{}
	}
	r, ok := s.resolved[ref]
	if !ok {
		r = &resolution{}
		s.resolved[ref] = r
	}
	s.mu.Unlock()
	r.once.Do(func() { r.m, r.err = s.Resolve(ctx, ref) })
	return r.m, r.err
}

// ImageSession starts a session of registry reads with the fetcher's HTTP
// settings: its transport (connection reuse, the per-request timeout,
// hosts given up on after repeated failures) and its backoff
// (go-containerregistry retries 408, 429, 500, 502, 503, 504 and
// transient network errors, never a host failure: see transport.IsHostFailure).
// Credentials come from the default keychain (docker config, credential
// helpers).
func (f *Fetcher) ImageSession() (*ImageSession, error) {
	f.imageOnce.Do(func() {
		p, err := remote.NewPuller(f.RegistryOptions(context.Background())...)
		f.image, f.imageErr = &ImageSession{f: f, puller: p}, err
	})
	return f.image, f.imageErr
}

// ContentSession is an ImageSession for copying image content (layers of
// any size, streamed at transport.MinTransferRate or faster).
func (f *Fetcher) ContentSession() (*ImageSession, error) {
	f.contentOnce.Do(func() {
		opts := f.RegistryOptions(context.Background())
		opts = append(opts, remote.WithTransport(&registryTransport{inner: f.http.Guarded(), memo: &f.registryMemo, routes: &f.registryRoutes, stream: true, allowHTTP: f.allowHTTP}))
		p, err := remote.NewPuller(opts...)
		f.content, f.contentErr = &ImageSession{f: f, puller: p}, err
	})
	return f.content, f.contentErr
}

// RegistryOptions are the options of every registry request of the
// fetcher: its HTTP client (guarded, retried as the client says),
// credentials from the default keychain, and its plain-http rule. A
// registry writer uses them too.
func (f *Fetcher) RegistryOptions(ctx context.Context) []remote.Option {
	h := f.http
	attempts, backoff := h.Retries()
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(&registryTransport{inner: h.Guarded(), memo: &f.registryMemo, routes: &f.registryRoutes, allowHTTP: f.allowHTTP}),
		remote.WithUserAgent(h.UserAgent()),
		remote.WithRetryBackoff(remote.Backoff{Duration: backoff, Factor: 2, Jitter: 0.1, Steps: attempts}),
		remote.WithRetryPredicate(registryRetryable),
		// go-containerregistry fetches 4 blobs at once by default; the
		// session's artifacts run in parallel, so does the registry.
		remote.WithJobs(h.Parallel()),
	}
}

// registryRetryable is go-containerregistry's default retry predicate
// (temporary network errors, a connection cut short) except that a host
// failure is never retried: the HTTP client's transport has given the
// request its time, and gives up on hosts that keep failing.
func registryRetryable(err error) bool {
	if err == nil || transport.IsHostFailure(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

func (s *ImageSession) options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.Reuse(s.puller), remote.WithContext(ctx)}
}

// ParseImageReference parses an image reference, a tag or a digest;
// a reference without registry is below transport.DefaultRegistry.
func ParseImageReference(ref string) (name.Reference, error) {
	return parseImageReference(ref)
}

// ParseImageReference parses an image reference as the fetcher reaches
// it: with AllowHTTPRegistry, a registry that answers only plain http is
// reached over http.
func (f *Fetcher) ParseImageReference(ref string) (name.Reference, error) {
	return parseImageReference(ref, f.NameOptions()...)
}

func parseImageReference(ref string, opts ...name.Option) (name.Reference, error) {
	r, err := name.ParseReference(ref, append([]name.Option{name.WithDefaultRegistry(transport.DefaultRegistry)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

// NameOptions are the options of every registry name the fetcher parses:
// name.Insecure lets go-containerregistry fall back to plain http (which
// the registry transport then allows) when AllowHTTPRegistry is set.
func (f *Fetcher) NameOptions() []name.Option {
	if f.allowHTTP {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Resolve fetches the manifest ref names. A tag or digest the registry
// does not know is transport.ErrNotFound; a manifest larger than MaxManifestSize is
// ErrManifestTooLarge and an index of more than MaxIndexChildren manifests
// ErrIndexTooLarge; registry failures (after retries) name the answer.
func (s *ImageSession) Resolve(ctx context.Context, ref string) (*ImageManifest, error) {
	r, err := s.f.ParseImageReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, s.options(ctx)...)
	if err != nil {
		return nil, registryError("resolve "+r.String(), err)
	}
	m := &ImageManifest{Repository: r.Context().Name(), Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: desc.Size, Raw: desc.Manifest}
	if t, ok := r.(name.Tag); ok {
		m.Tag = t.TagStr()
	}
	if !desc.MediaType.IsIndex() {
		return m, nil
	}
	m.Index = true
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w: index: %v", r, verify.ErrEvidenceMalformed, err)
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

// registryError names what failed; a 404 wraps transport.ErrNotFound.
func registryError(what string, err error) error {
	err = redactedError{err}
	var te *gcrtransport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusGone) {
		return fmt.Errorf("%s: %w: %v", what, transport.ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// redactedError is an error of go-containerregistry whose text names URLs
// with their queries (a signed storage URL's signature among them): its
// text drops the queries, as transport.Redact does; errors.Is and As see
// the error as it was.
type redactedError struct{ err error }

var urlQuery = regexp.MustCompile(`(https?://[^\s"?]+)\?[^\s"]*`)

func (e redactedError) Error() string {
	return urlQuery.ReplaceAllString(e.err.Error(), "${1}?REDACTED")
}
func (e redactedError) Unwrap() error { return e.err }

func isNetworkError(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) || transport.IsHostFailure(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// registryTransport applies k8sverify's rules to registry requests: plain
// http only to loopback hosts (any host with allowHTTP), and bounded
// answers: manifests and referrers lists at MaxManifestSize, signature
// blobs at 1 MiB. It reads each answer whole (all are small), within the
// request timeout of the inner transport (the HTTP client's), so a body
// cut short is a transport error that go-containerregistry retries.
// Uploads are bounded by their progress (see guardTransport).
type registryTransport struct {
	inner http.RoundTripper
	// stream passes image content (layers, configs) through as it arrives,
	// bounded by the minimum transfer rate instead of a size: for copying
	// images. Manifests are still bounded and buffered.
	stream bool
	// allowHTTP allows plain http to any registry (AllowHTTPRegistry).
	allowHTTP bool
	// memo answers what a registry answers the same every time.
	memo   *registryMemo
	routes *transport.RegistryRoutes // where a registry front sends each kind
}

func (t *registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !transport.IsLoopback(req.URL.Hostname()) && !t.allowHTTP {
		return nil, fmt.Errorf("%s: %w", transport.Redact(req.URL.String()), transport.ErrInsecureURL)
	}
	// go-containerregistry's client follows redirects without a limit:
	// the hops are counted here, as the HTTP client's are.
	if hops, origin := transport.RedirectOf(req); hops > 0 {
		if err := transport.CheckRedirect(req.URL, origin, hops); err != nil {
			return nil, fmt.Errorf("%s: %w", transport.Redact(origin.String()), err)
		}
	}
	if p := req.URL.Path; t.stream && !strings.Contains(p, "/manifests/") && !strings.Contains(p, "/referrers/") {
		return t.routes.RoundTrip(req, t.inner.RoundTrip)
	}
	send := func(req *http.Request) (*http.Response, error) {
		return t.inner.RoundTrip(req.WithContext(transport.Bounded(req.Context())))
	}
	var resp *http.Response
	var err error
	switch {
	case t.memo != nil && isPing(req):
		resp, err = t.memo.ping(req, send)
	case t.memo != nil && isReferrers(req):
		resp, err = t.memo.referrers(req, send)
	default:
		resp, err = t.routes.RoundTrip(req, send)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit, tooLarge := int64(maxRegistryResponse), transport.ErrBodyTooLarge
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

// Image returns the image repository@digest; its layers are read from the
// registry as they are used (a ContentSession streams them).
func (s *ImageSession) Image(ctx context.Context, repo, digest string) (v1.Image, error) {
	d, err := name.NewDigest(repo+"@"+digest, s.f.NameOptions()...)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(d, s.options(ctx)...)
	if err != nil {
		return nil, registryError("read "+d.String(), err)
	}
	return img, nil
}

// Index returns the index repository@digest and the images it lists.
func (s *ImageSession) Index(ctx context.Context, repo, digest string) (v1.ImageIndex, error) {
	d, err := name.NewDigest(repo+"@"+digest, s.f.NameOptions()...)
	if err != nil {
		return nil, err
	}
	idx, err := remote.Index(d, s.options(ctx)...)
	if err != nil {
		return nil, registryError("read "+d.String(), err)
	}
	return idx, nil
}

// SignatureTag is cosign's tag of the signatures of digest in repository:
// repository:sha256-<hex>.sig.
func SignatureTag(repo, digest string) string {
	return repo + ":" + strings.Replace(digest, ":", "-", 1) + ".sig"
}

// SignatureImage reads the cosign signature image of digest in repository
// (its .sig tag), for copying the signatures that verified.
func (s *ImageSession) SignatureImage(ctx context.Context, repo, digest string) (oci.Signatures, error) {
	tag, err := name.NewTag(SignatureTag(repo, digest), s.f.NameOptions()...)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(tag, ociremote.WithRemoteOptions(s.options(ctx)...))
	if err != nil {
		return nil, registryError("signatures "+tag.String(), err)
	}
	return sigs, nil
}

// Referrer reads the referrer repository@digest (a manifest whose subject
// names an image, and its blobs) as an image, for copying.
func (s *ImageSession) Referrer(ctx context.Context, repo, digest string) (v1.Image, error) {
	d, err := name.NewDigest(repo+"@"+digest, s.f.NameOptions()...)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(d, s.options(ctx)...)
	if err != nil {
		return nil, registryError("referrer "+d.String(), err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w: %v", d, verify.ErrEvidenceMalformed, err)
	}
	return img, nil
}
