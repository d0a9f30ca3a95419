package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// maxConfig bounds an image configuration.
const maxConfig = 1 << 20

// Image fetches the evidence of a release image, an index or a
// platform's image: the manifest its reference resolves to (with, for a
// platform image, its configuration and the release's index of the same
// name and tag), and every signature of its digest — in its own
// repository and, for a platform image, in the index's repository too:
// before promo-tools signed index children recursively (May 2023) the
// promoter signed a platform digest only in <name>-<arch>, after it in
// <name> as well.
func (f *Fetcher) Image(ctx context.Context, a artifacts.Artifact) verify.Evidence {
	s, err := f.ImageSession()
	if err != nil {
		return verify.Evidence{Unavailable: err}
	}
	early := s.startEarly(ctx, a)
	m, err := s.resolveCached(ctx, a.Location)
	if ev, done := resolveFailure(a.Location, err); done {
		early.stop()
		return ev
	}
	ev := manifestEvidence(m)
	if a.Platform.IsZero() {
		ev.Signatures, ev.Unavailable = s.signaturesOf(ctx, early, []string{m.Repository}, m.Digest)
		return ev
	}
	indexRef, indexRepo, hasIndex := releaseIndex(a, m)
	repos := []string{m.Repository}
	if hasIndex {
		repos = append(repos, indexRepo)
	} else {
		indexRef = ""
	}
	p := s.platformParts(ctx, m, indexRef, repos, early)
	if p.configErr != nil {
		return verify.Evidence{Unavailable: p.configErr}
	}
	ev.Image.Config = p.config
	switch {
	case indexRef == "", errors.Is(p.indexErr, transport.ErrNotFound):
		// No index of this name and tag: nothing to bind to.
	case p.indexErr != nil:
		return verify.Evidence{Unavailable: p.indexErr}
	default:
		ev.Image.Index, ev.Image.IndexRef = p.index.Raw, p.index.PinnedReference()
	}
	ev.Signatures, ev.Unavailable = p.signatures, p.signaturesErr
	return ev
}

// imageParts is what a platform image's evidence needs besides its
// manifest, each with its error.
type imageParts struct {
	config        []byte
	configErr     error
	index         *ImageManifest
	indexErr      error
	signatures    []verify.SignatureEvidence
	signaturesErr error
}

// platformParts fetches at once what needs nothing but the manifest m:
// its configuration (none for an index served where an image was asked
// for: the judge rejects that), the index indexRef ("": none) and the
// signatures of m's digest in repos. Each answer is taken as if it had
// been fetched alone, in the order the caller decides on them; one that
// turns out not to be needed (an earlier one failed) costs a request,
// nothing else.
func (s *ImageSession) platformParts(ctx context.Context, m *ImageManifest, indexRef string, repos []string, early *earlySignatures) imageParts {
	var p imageParts
	var wg sync.WaitGroup
	if !m.Index {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.config, p.configErr = s.config(ctx, m)
		}()
	}
	if indexRef != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.index, p.indexErr = s.resolveCached(ctx, indexRef)
		}()
	}
	p.signatures, p.signaturesErr = s.signaturesOf(ctx, early, repos, m.Digest)
	wg.Wait()
	return p
}

// earlySignatures is the look-up of an image's signatures started before
// its manifest is read, for the digest the release's own documents give
// its tag (the catalog's, the promoter's manifest's): the registry should
// serve that digest, and the signatures of a digest need nothing else,
// so the two are fetched at once rather than one after the other. Its
// answer is taken only for the very digest and repositories the manifest
// read then calls for, as if fetched then; otherwise it is cancelled and
// those are looked up, as without it.
type earlySignatures struct {
	repos  []string
	digest string
	cancel context.CancelFunc
	done   chan struct{}
	sigs   []verify.SignatureEvidence
	err    error
}

// startEarly starts the look-up for image a when its location is a tag
// and the release's documents agree on one digest for it; nil otherwise.
func (s *ImageSession) startEarly(ctx context.Context, a artifacts.Artifact) *earlySignatures {
	digest := documentedDigest(a)
	r, err := s.f.ParseImageReference(a.Location)
	if digest == "" || err != nil {
		return nil
	}
	if _, ok := r.(name.Tag); !ok {
		return nil
	}
	repos := []string{r.Context().Name()}
	if index, ok := strings.CutSuffix(repos[0], "-"+a.Platform.Arch); ok && !a.Platform.IsZero() {
		repos = append(repos, index)
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &earlySignatures{repos: repos, digest: digest, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.sigs, e.err = s.signaturesIn(ctx, repos, digest)
	}()
	return e
}

// signaturesOf returns the signatures of digest in repos: the early
// look-up's answer when it was for them, else a look-up now.
func (s *ImageSession) signaturesOf(ctx context.Context, e *earlySignatures, repos []string, digest string) ([]verify.SignatureEvidence, error) {
	if e != nil && e.digest == digest && slices.Equal(e.repos, repos) {
		<-e.done
		e.cancel()
		return e.sigs, e.err
	}
	e.stop()
	return s.signaturesIn(ctx, repos, digest)
}

// stop cancels the look-up and waits for it; nil is nothing.
func (e *earlySignatures) stop() {
	if e == nil {
		return
	}
	e.cancel()
	<-e.done
}

// documentedDigest is the sha256 digest that the independent documents
// of a's release (the catalog, the promoter's manifest) give a's tag, when
// they give one and agree; "" otherwise.
func documentedDigest(a artifacts.Artifact) string {
	digest := ""
	for _, sum := range a.Sums {
		if sum.Algorithm != "sha256" || !sum.Independent() {
			continue
		}
		if digest != "" && digest != "sha256:"+sum.Hex {
			return ""
		}
		digest = "sha256:" + sum.Hex
	}
	return digest
}

// resolveFailure turns a failed resolution into evidence.
func resolveFailure(ref string, err error) (verify.Evidence, bool) {
	switch {
	case errors.Is(err, transport.ErrNotFound):
		return verify.Evidence{Missing: "the registry does not know " + ref}, true
	case err != nil:
		return verify.Evidence{Unavailable: err}, true
	}
	return verify.Evidence{}, false
}

func manifestEvidence(m *ImageManifest) verify.Evidence {
	d, _ := sigverify.ParseDigest(m.Digest)
	return verify.Evidence{
		Digests: []verify.DigestClaim{{Digest: d, Channel: verify.ChannelRegistry}},
		Image:   &verify.ImageEvidence{MediaType: m.MediaType, Manifest: m.Raw},
	}
}

// config fetches the configuration blob the image manifest names (the
// manifest already read: one request). The judge checks it against the
// manifest's digest of it.
func (s *ImageSession) config(ctx context.Context, m *ImageManifest) ([]byte, error) {
	man, err := v1.ParseManifest(bytes.NewReader(m.Raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s@%s: %w: %v", m.Repository, m.Digest, verify.ErrEvidenceMalformed, err)
	}
	d, err := name.NewDigest(m.Repository+"@"+man.Config.Digest.String(), s.f.NameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("configuration of %s@%s: %w: %v", m.Repository, m.Digest, verify.ErrEvidenceMalformed, err)
	}
	if man.Config.Size > maxConfig {
		return nil, fmt.Errorf("configuration %s: %w (%d bytes)", d, transport.ErrBodyTooLarge, man.Config.Size)
	}
	l, err := remote.Layer(d, s.options(ctx)...)
	if err != nil {
		return nil, registryError("configuration "+d.String(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, registryError("configuration "+d.String(), err)
	}
	defer rc.Close()
	cfg, err := io.ReadAll(io.LimitReader(rc, maxConfig+1))
	if err != nil {
		return nil, registryError("configuration "+d.String(), err)
	}
	if len(cfg) > maxConfig {
		return nil, fmt.Errorf("configuration %s: %w", d, transport.ErrBodyTooLarge)
	}
	return cfg, nil
}

// releaseIndex names the release's index of a platform image
// (registry/name:tag for registry/name-<arch>:tag) and its repository.
func releaseIndex(a artifacts.Artifact, m *ImageManifest) (ref, repo string, ok bool) {
	repo, found := strings.CutSuffix(m.Repository, "-"+a.Platform.Arch)
	if !found || m.Tag == "" {
		return "", "", false
	}
	return repo + ":" + m.Tag, repo, true
}

// signaturesIn fetches the signatures of digest in each repository,
// dropping a signature found twice (the same signature copied). A
// repository that cannot be read makes the whole answer unavailable.
func (s *ImageSession) signaturesIn(ctx context.Context, repos []string, digest string) ([]verify.SignatureEvidence, error) {
	found := make([][]verify.SignatureEvidence, len(repos))
	errs := make([]error, len(repos))
	var wg sync.WaitGroup
	for i, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i], errs[i] = s.Signatures(ctx, repo, digest)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []verify.SignatureEvidence
	seen := map[string]int{}
	for _, sigs := range found {
		for _, se := range sigs {
			if k := signatureKey(se); k != "" {
				if i, dup := seen[k]; dup {
					// The same signature in another repository: one
					// signature, published in several places.
					out[i].References = append(out[i].References, se.References...)
					continue
				}
				seen[k] = len(out)
			}
			out = append(out, se)
		}
	}
	return out, nil
}

// signatureKey identifies a signature by its bytes ("" when unreadable).
func signatureKey(se verify.SignatureEvidence) string {
	if se.Bundle == nil {
		return ""
	}
	sc, err := se.Bundle.SignatureContent()
	if err != nil {
		return ""
	}
	return string(se.Source) + string(sc.Signature())
}

// ImageRefEvidence is one manifest verify-image checks, with its evidence.
type ImageRefEvidence struct {
	Artifact artifacts.Artifact
	Evidence verify.Evidence
}

// ImageRef fetches the evidence of an image by reference, a tag or a
// digest, as verify-image checks it: for an index, the index and every
// platform manifest it lists (only platform's when given; a platform it
// lacks is missing), each signed in the index's repository or in
// <repository>-<arch>; for an image manifest, the image. Each artifact is
// named by the last element of the repository, located by its
// digest-pinned reference, and expected to be signed by signer.
func (f *Fetcher) ImageRef(ctx context.Context, ref string, platform *artifacts.Platform, signer artifacts.Identity) []ImageRefEvidence {
	base := artifacts.Artifact{Kind: artifacts.KindImage, Name: ref, Location: ref, Signer: signer, Signing: artifacts.SigningProbe}
	r, err := f.ParseImageReference(ref)
	if err != nil {
		return []ImageRefEvidence{{Artifact: base, Evidence: verify.Evidence{Unavailable: err}}}
	}
	base.Name = lastElement(r.Context().RepositoryStr())
	s, err := f.ImageSession()
	if err != nil {
		return []ImageRefEvidence{{Artifact: base, Evidence: verify.Evidence{Unavailable: err}}}
	}
	m, err := s.resolveCached(ctx, ref)
	if ev, done := resolveFailure(r.String(), err); done {
		return []ImageRefEvidence{{Artifact: base, Evidence: ev}}
	}
	base.Location = m.PinnedReference()
	if !m.Index {
		return []ImageRefEvidence{s.refImage(ctx, base, m, platform)}
	}
	out := []ImageRefEvidence{{Artifact: base, Evidence: manifestEvidence(m)}}
	var children []ImageChild
	for _, c := range m.Children {
		if c.Platform.OS == "" || c.Platform.OS == "unknown" { // attestations, not images
			continue
		}
		if platform == nil || c.Platform == *platform {
			children = append(children, c)
		}
	}
	if platform != nil && len(children) == 0 {
		a := base
		a.Platform = *platform
		out = append(out, ImageRefEvidence{Artifact: a, Evidence: verify.Evidence{Missing: fmt.Sprintf("the index %s lists no %s manifest", m.PinnedReference(), platform)}})
	}
	out = append(out, s.refChildren(ctx, base, m, children)...)
	out[0].Evidence.Signatures, out[0].Evidence.Unavailable = s.signaturesIn(ctx, []string{m.Repository}, m.Digest)
	return out
}

// refImage is the evidence of an image manifest known by reference; its
// platform is what its configuration says (the judge checks it against
// platform when one was asked for).
func (s *ImageSession) refImage(ctx context.Context, a artifacts.Artifact, m *ImageManifest, platform *artifacts.Platform) ImageRefEvidence {
	ev := manifestEvidence(m)
	p := s.platformParts(ctx, m, "", []string{m.Repository}, nil)
	if p.configErr != nil {
		return ImageRefEvidence{Artifact: a, Evidence: verify.Evidence{Unavailable: p.configErr}}
	}
	ev.Image.Config = p.config
	a.Platform = configPlatform(p.config)
	if platform != nil {
		a.Platform = *platform
	}
	ev.Signatures, ev.Unavailable = p.signatures, p.signaturesErr
	return ImageRefEvidence{Artifact: a, Evidence: ev}
}

// refChildren fetches the evidence of an index's platform manifests.
func (s *ImageSession) refChildren(ctx context.Context, base artifacts.Artifact, idx *ImageManifest, children []ImageChild) []ImageRefEvidence {
	out := make([]ImageRefEvidence, len(children))
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := base
			a.Platform = c.Platform
			a.Location = idx.Repository + "@" + c.Digest
			m, err := s.resolveCached(ctx, a.Location)
			if ev, done := resolveFailure(a.Location, err); done {
				out[i] = ImageRefEvidence{Artifact: a, Evidence: ev}
				return
			}
			ev := manifestEvidence(m)
			p := s.platformParts(ctx, m, "", []string{idx.Repository, idx.Repository + "-" + c.Platform.Arch}, nil)
			if p.configErr != nil {
				out[i] = ImageRefEvidence{Artifact: a, Evidence: verify.Evidence{Unavailable: p.configErr}}
				return
			}
			ev.Image.Config = p.config
			ev.Signatures, ev.Unavailable = p.signatures, p.signaturesErr
			out[i] = ImageRefEvidence{Artifact: a, Evidence: ev}
		}()
	}
	wg.Wait()
	return out
}

func lastElement(repo string) string {
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		return repo[i+1:]
	}
	return repo
}

// configPlatform reads the platform an image configuration names
// (unverified: the judge checks it against the manifest).
func configPlatform(cfg []byte) artifacts.Platform {
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return artifacts.Platform{}
	}
	return artifacts.Platform{OS: cf.OS, Arch: cf.Architecture}
}
