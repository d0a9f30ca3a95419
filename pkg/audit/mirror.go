package audit

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/cosign/v2/pkg/oci"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// MirrorRequest asks for a release's images to be copied into a registry
// with their tags and signatures — only what verifies.
type MirrorRequest struct {
	// Version is the release ("v1.24.17", "1.24.17", "latest-1.24"); with
	// Pack it may be empty (the pack's release).
	Version string
	// Platforms restrict the mirror to these platforms' images
	// (name-<arch>:version). An index lists every platform, so copying it
	// would copy platforms not asked for: with Platforms, indexes are left
	// out.
	Platforms []artifacts.Platform
	// To is the destination: a registry host[:port] and an optional
	// prefix (registry.example.com/k8s). Images keep their names below it.
	To string
	// Pack copies from an evidence pack written with images (Fetch with
	// WithImages) instead of the source registry: the signatures are
	// rebuilt from the pack's bundles, and no request leaves the machine
	// but those to the destination.
	Pack string
	// DryRun verifies and says what would be copied, writing nothing.
	DryRun bool
}

// MirrorCounts counts what a mirror wrote, or found already there.
type MirrorCounts struct {
	// Images are manifests written by digest: platform images and indexes.
	Images int
	// Signatures are cosign .sig tags and referrers.
	Signatures int
	// Tags are the images' own tags (name:version, name-<arch>:version).
	Tags int
}

// IsZero reports whether nothing was counted.
func (c MirrorCounts) IsZero() bool { return c == MirrorCounts{} }

// MirrorResult is the outcome of a mirror.
type MirrorResult struct {
	// Release is the release as mirrored (its images at the destination).
	Release *artifacts.Release
	// Verdicts, in release order: for an image copied (or already there),
	// the verdict on it at the destination, verified there as verify does
	// with the destination as registry; for an image not copied, why:
	// its verdict at the source, or the failed write. With DryRun, the
	// verdicts at the source.
	Verdicts []verify.Verdict
	// Copied is what was written; Present what the destination already
	// held (a second mirror of the same release copies nothing).
	Copied, Present MirrorCounts
	// To is the destination as normalised.
	To       string
	Warnings []string
}

// mirrorItem is one image artifact of a mirror.
type mirrorItem struct {
	a       artifacts.Artifact
	ev      verify.Evidence
	v       verify.Verdict // at the source
	repo    string         // source repository (registry/name)
	dst     string         // destination repository
	tag     string
	digest  string
	sigs    []verifiedSignature
	copy    bool   // verified, and (an index) every platform it lists too
	why     string // why not copied
	err     error  // the copy failed
	written bool   // content, signatures and tag are at the destination
}

type verifiedSignature struct {
	se  verify.SignatureEvidence
	res *verify.SignatureResult
}

// mirrorSource reads what a mirror copies: online from the source
// registry, or from an evidence pack.
type mirrorSource interface {
	image(ctx context.Context, it *mirrorItem) (v1.Image, error)
	index(ctx context.Context, it *mirrorItem) (v1.ImageIndex, error)
	// signatures writes the item's verified signatures published in repo
	// (a source repository) into dst.
	signatures(ctx context.Context, w *evidence.RegistryWriter, it *mirrorItem, repo, dst string, c *mirrorCounter) error
}

// Mirror verifies a release's images at the source (the configured
// registry, or an evidence pack), copies every image that verified — a
// platform's image, an index with every image it lists, their layers —
// with its tag and every signature of it that verified, and verifies the
// copies at the destination. Nothing that did not verify is copied: not
// an image, not a signature; an index is copied only when every image it
// lists verified. Content and signatures are written before tags, so an
// interrupted mirror never leaves a tag naming an image without its
// signatures. A destination that refuses a write gives that image an
// error verdict with the registry's message.
func (s *Session) Mirror(ctx context.Context, req MirrorRequest) (*MirrorResult, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	version, offline := req.Version, req.Pack != ""
	if offline && version == "" {
		p, err := evidence.OpenPack(req.Pack)
		if err != nil {
			return nil, classify(ErrLocalInput, err)
		}
		version = p.Manifest.Release
		p.Close()
	}
	if version == "" {
		return nil, classify(ErrRequest, errors.New("no version"))
	}
	var online artifacts.Opener
	if !offline {
		online = s.http
	}
	listing, err := s.listToJudge(ctx, version, Selection{Kinds: []artifacts.Kind{artifacts.KindImage}, Platforms: req.Platforms}, online, online)
	if err != nil {
		return nil, err
	}
	res, err := s.MirrorRelease(ctx, listing.Release, req)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(listing.Warnings, res.Warnings...)
	return res, nil
}

// MirrorRelease mirrors the images of a release already listed, as Mirror
// does (the request's version is not used).
func (s *Session) MirrorRelease(ctx context.Context, rel *artifacts.Release, req MirrorRequest) (*MirrorResult, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	to, err := mirrorDestination(req.To)
	if err != nil {
		return nil, err
	}
	rel = mirrorSelection(rel, req)
	if len(rel.Artifacts) == 0 {
		return nil, classify(ErrRequest, fmt.Errorf("%s: no image selected", rel.Version))
	}
	var (
		judge    *verify.Judge
		src      mirrorSource
		fetcher  = s.fetcher
		warnings []string
		items    = make([]*mirrorItem, len(rel.Artifacts))
	)
	if req.Pack == "" {
		if judge, err = s.judgeOf(ctx, nil); err != nil {
			return nil, err
		}
		cs, err := s.fetcher.ContentSession()
		if err != nil {
			return nil, err
		}
		src = &registrySource{s: cs}
		s.each(len(rel.Artifacts), func(i int) {
			a := rel.Artifacts[i]
			ev := s.fetcher.Image(ctx, a)
			items[i] = &mirrorItem{a: a, ev: ev, v: judge.Judge(rel, a, ev)}
		})
	} else {
		p, err := evidence.OpenPack(req.Pack)
		if err != nil {
			return nil, classify(ErrLocalInput, err)
		}
		defer p.Close()
		if rel.Version.String() != p.Manifest.Release {
			return nil, classify(ErrLocalInput, fmt.Errorf("the evidence pack %s holds %s, not %s", req.Pack, p.Manifest.Release, rel.Version))
		}
		if err := checkDuplicates(p.Manifest); err != nil {
			return nil, classify(ErrLocalInput, err)
		}
		if judge, err = s.judgeOf(ctx, p); err != nil {
			return nil, err
		}
		// Only the destination is reached: no transparency log, no TUF.
		if fetcher, err = evidence.NewFetcher(evidence.FetcherConfig{HTTP: s.http, AllowHTTPRegistry: s.cfg.AllowHTTPRegistry}); err != nil {
			return nil, err
		}
		src = &packMirrorSource{p: p}
		warnings = append(warnings, "copied from the evidence pack "+req.Pack+", fetched "+p.Manifest.Created.UTC().Format("2006-01-02T15:04:05Z"))
		for i, a := range rel.Artifacts {
			ev := verify.Evidence{Unavailable: errors.New("not in the evidence pack: fetch it with the images")}
			if e, ok := p.Lookup(a); ok {
				ev, a.Location = p.Evidence(e), e.Location
			}
			items[i] = &mirrorItem{a: a, ev: ev, v: judge.Judge(rel, a, ev)}
		}
	}
	for _, it := range items {
		if err := it.locate(fetcher, to); err != nil {
			return nil, err
		}
	}
	plan(items)
	res := &MirrorResult{To: to, Warnings: append(warnings, s.takeTrustNotes()...)}
	if req.DryRun {
		res.Release = rel
		for _, it := range items {
			res.Verdicts = append(res.Verdicts, it.dryRunVerdict())
		}
		return res, nil
	}
	w, err := fetcher.RegistryWriter()
	if err != nil {
		return nil, err
	}
	c := &mirrorCounter{}
	s.copyImages(ctx, w, src, items, c)
	res.Copied, res.Present = c.copied, c.present
	return s.mirrorVerdicts(ctx, judge, fetcher, rel, items, res)
}

// mirrorSelection keeps the images, without the indexes when platforms
// were asked for.
func mirrorSelection(rel *artifacts.Release, req MirrorRequest) *artifacts.Release {
	out := *rel
	out.Artifacts = slices.DeleteFunc(slices.Clone(rel.Artifacts), func(a artifacts.Artifact) bool {
		return a.Kind != artifacts.KindImage || (len(req.Platforms) > 0 && a.Platform.IsZero()) ||
			(len(req.Platforms) > 0 && !slices.Contains(req.Platforms, a.Platform))
	})
	return &out
}

// mirrorDestination checks a destination host[:port][/prefix].
func mirrorDestination(to string) (string, error) {
	e := evidence.Endpoints{Registry: to, DownloadURL: evidence.DefaultDownloadURL, SBOMURL: evidence.DefaultSBOMURL}
	if err := e.Validate(); err != nil {
		return "", classify(ErrRequest, fmt.Errorf("destination: %w", err))
	}
	if _, err := evidence.ParseImageReference(e.Registry + "/name:tag"); err != nil {
		return "", classify(ErrRequest, fmt.Errorf("destination %q: %w", to, err))
	}
	return e.Registry, nil
}

// locate names the item's source and destination repositories, tag and
// digest.
func (it *mirrorItem) locate(f *evidence.Fetcher, to string) error {
	r, err := f.ParseImageReference(it.a.Location)
	if err != nil {
		return classify(ErrRequest, err)
	}
	it.repo = r.Context().Name()
	it.dst = to + "/" + path.Base(it.repo)
	if i := strings.LastIndex(it.a.Location, ":"); i > strings.LastIndex(it.a.Location, "/") {
		it.tag, _, _ = strings.Cut(it.a.Location[i+1:], "@")
	}
	it.digest = it.v.Digest
	return nil
}

// plan decides what is copied: every image that verified, an index only
// when every manifest it lists is a platform image of the release that
// verified too; and with each, the signatures that verified.
func plan(items []*mirrorItem) {
	for _, it := range items {
		if it.v.Status != verify.StatusVerified {
			it.why = string(it.v.Status) + " at the source"
			continue
		}
		sigs, ok := verifiedSignatures(it.ev, it.v)
		if !ok || it.tag == "" {
			it.why = "the verdict and its evidence do not match"
			continue
		}
		it.sigs, it.copy = sigs, true
	}
	for _, idx := range items {
		if idx.copy && idx.a.Platform.IsZero() {
			idx.copy, idx.why = indexComplete(idx, items)
		}
	}
}

// verifiedSignatures pairs the signatures of the evidence with the
// judge's results (one per signature that could be fetched, in order) and
// keeps those that verified.
func verifiedSignatures(ev verify.Evidence, v verify.Verdict) ([]verifiedSignature, bool) {
	var out []verifiedSignature
	j := 0
	for _, se := range ev.Signatures {
		if se.Unavailable != nil {
			continue
		}
		if j >= len(v.Signatures) {
			return nil, false
		}
		if res := v.Signatures[j]; res.Verified() {
			out = append(out, verifiedSignature{se: se, res: res})
		}
		j++
	}
	return out, j == len(v.Signatures) && len(out) > 0
}

// indexComplete: every manifest the index lists is one of the release's
// platform images of the same name, verified and to be copied.
func indexComplete(idx *mirrorItem, items []*mirrorItem) (bool, string) {
	im, err := v1.ParseIndexManifest(strings.NewReader(string(idx.ev.Image.Manifest)))
	if err != nil {
		return false, "its manifest cannot be read: " + err.Error()
	}
	var missing []string
	for _, m := range im.Manifests {
		p := "unknown platform"
		if m.Platform != nil {
			p = m.Platform.OS + "/" + m.Platform.Architecture
		}
		i := slices.IndexFunc(items, func(c *mirrorItem) bool {
			return c.a.Name == idx.a.Name && !c.a.Platform.IsZero() && c.a.Platform.String() == p
		})
		switch {
		case i < 0:
			missing = append(missing, fmt.Sprintf("its %s manifest %s is none of the release's images selected", p, m.Digest))
		case items[i].v.Digest != m.Digest.String():
			missing = append(missing, fmt.Sprintf("its %s manifest %s is not the %s image verified (%s)", p, m.Digest, p, orDash(items[i].v.Digest)))
		case !items[i].copy:
			missing = append(missing, fmt.Sprintf("its %s manifest %s is not copied (%s)", p, m.Digest, items[i].why))
		}
	}
	if len(missing) > 0 {
		return false, "an index is copied with every manifest it lists, and " + strings.Join(missing, "; ")
	}
	return true, ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mirrorCounter counts writes.
type mirrorCounter struct {
	mu              sync.Mutex
	copied, present MirrorCounts
}

// What a mirror writes.
const (
	countImage = iota
	countSignature
	countTag
)

// add counts one write of what: copied when wrote, else already there.
func (c *mirrorCounter) add(what int, wrote bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := &c.present
	if wrote {
		m = &c.copied
	}
	switch what {
	case countImage:
		m.Images++
	case countSignature:
		m.Signatures++
	case countTag:
		m.Tags++
	}
}

// copyImages copies each image's group (its platform images, then the
// index) concurrently across groups.
func (s *Session) copyImages(ctx context.Context, w *evidence.RegistryWriter, src mirrorSource, items []*mirrorItem, c *mirrorCounter) {
	var names []string
	for _, it := range items {
		if !slices.Contains(names, it.a.Name) {
			names = append(names, it.a.Name)
		}
	}
	s.each(len(names), func(i int) {
		var platforms []*mirrorItem
		var index *mirrorItem
		for _, it := range items {
			switch {
			case it.a.Name != names[i] || !it.copy:
			case it.a.Platform.IsZero():
				index = it
			default:
				platforms = append(platforms, it)
			}
		}
		copyGroup(ctx, w, src, platforms, index, c)
	})
}

// copyGroup copies the platform images of one name, then its index; the
// tags last.
func copyGroup(ctx context.Context, w *evidence.RegistryWriter, src mirrorSource, platforms []*mirrorItem, index *mirrorItem, c *mirrorCounter) {
	var wg sync.WaitGroup
	for _, it := range platforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it.err = copyContent(ctx, w, src, it, c)
		}()
	}
	wg.Wait()
	if index != nil {
		index.err = copyIndex(ctx, w, src, index, platforms, c)
	}
	for _, it := range append(platforms, index) {
		if it == nil || it.err != nil {
			continue
		}
		wrote, err := w.Tag(ctx, it.dst, it.tag, it.digest)
		if err != nil {
			it.err = err
			continue
		}
		c.add(countTag, wrote)
		it.written = true
	}
}

// copyContent copies a platform image and its signatures.
func copyContent(ctx context.Context, w *evidence.RegistryWriter, src mirrorSource, it *mirrorItem, c *mirrorCounter) error {
	img, err := src.image(ctx, it)
	if err != nil {
		return err
	}
	wrote, err := w.WriteImage(ctx, it.dst, img)
	if err != nil {
		return err
	}
	c.add(countImage, wrote)
	return src.signatures(ctx, w, it, it.repo, it.dst, c)
}

// copyIndex copies an index (its platform images are in its repository
// too: their layers are mounted from their own repositories), its
// signatures, and those of its platform images published in its
// repository. Nothing is written unless every platform image was copied.
func copyIndex(ctx context.Context, w *evidence.RegistryWriter, src mirrorSource, idx *mirrorItem, platforms []*mirrorItem, c *mirrorCounter) error {
	mounts := map[string]string{}
	for _, p := range platforms {
		if p.err != nil {
			return fmt.Errorf("its %s manifest was not copied: %w", p.a.Platform, p.err)
		}
		mounts[p.digest] = p.dst
	}
	ii, err := src.index(ctx, idx)
	if err != nil {
		return err
	}
	wrote, err := w.WriteIndex(ctx, idx.dst, ii, mounts)
	if err != nil {
		return err
	}
	c.add(countImage, wrote)
	if err := src.signatures(ctx, w, idx, idx.repo, idx.dst, c); err != nil {
		return err
	}
	for _, p := range platforms {
		if err := src.signatures(ctx, w, p, idx.repo, idx.dst, c); err != nil {
			return err
		}
	}
	return nil
}

// published returns the repositories a signature was found in (from its
// references; its location when it has none) and, per repository, its
// references there.
func published(se verify.SignatureEvidence) map[string][]string {
	out := map[string][]string{}
	for _, ref := range se.References {
		repo := ref
		if i := strings.Index(ref, "@"); i >= 0 {
			repo = ref[:i]
		} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			repo = ref[:i]
		}
		out[repo] = append(out[repo], ref)
	}
	if len(out) == 0 && se.Location != "" {
		out[se.Location] = nil
	}
	return out
}

// registrySource copies from the source registry: images as they are,
// signatures as they were published (only their verified layers).
type registrySource struct {
	s *evidence.ImageSession
}

func (r *registrySource) image(ctx context.Context, it *mirrorItem) (v1.Image, error) {
	return r.s.Image(ctx, it.repo, it.digest)
}

func (r *registrySource) index(ctx context.Context, it *mirrorItem) (v1.ImageIndex, error) {
	return r.s.Index(ctx, it.repo, it.digest)
}

func (r *registrySource) signatures(ctx context.Context, w *evidence.RegistryWriter, it *mirrorItem, repo, dst string, c *mirrorCounter) error {
	var tagged []verify.SignatureEvidence
	var referrers []string
	for _, vs := range it.sigs {
		refs, ok := published(vs.se)[repo]
		if !ok {
			continue
		}
		switch vs.se.Source {
		case verify.SourceSignatureTag:
			tagged = append(tagged, vs.se)
		case verify.SourceReferrer:
			for _, ref := range refs {
				if _, d, ok := strings.Cut(ref, "@"); ok && !slices.Contains(referrers, d) {
					referrers = append(referrers, d)
				}
			}
		}
	}
	if len(tagged) > 0 {
		n, wrote, err := w.CopySignatures(ctx, r.s, repo, dst, it.digest, tagged)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("the signatures that verified are no longer under %s", evidence.SignatureTag(repo, it.digest))
		}
		c.add(countSignature, wrote)
	}
	for _, d := range referrers {
		wrote, err := w.CopyReferrer(ctx, r.s, repo, dst, d)
		if err != nil {
			return err
		}
		c.add(countSignature, wrote)
	}
	return nil
}

// packMirrorSource copies from an evidence pack: images from its OCI
// layout, signatures rebuilt from its bundles — cosign's .sig form with
// the log entry's signed entry timestamp as its bundle annotation, or a
// referrer for a bundle that came as one.
type packMirrorSource struct {
	p *evidence.Pack
}

func (p *packMirrorSource) image(_ context.Context, it *mirrorItem) (v1.Image, error) {
	return p.p.Image(it.digest)
}

func (p *packMirrorSource) index(_ context.Context, it *mirrorItem) (v1.ImageIndex, error) {
	return p.p.ImageIndex(it.digest)
}

func (p *packMirrorSource) signatures(ctx context.Context, w *evidence.RegistryWriter, it *mirrorItem, repo, dst string, c *mirrorCounter) error {
	var tagged []oci.Signature
	for _, vs := range it.sigs {
		if _, ok := published(vs.se)[repo]; !ok {
			continue
		}
		switch vs.se.Source {
		case verify.SourceSignatureTag:
			sig, err := evidence.CosignSignature(vs.se, vs.res.LogIndex)
			if err != nil {
				return err
			}
			tagged = append(tagged, sig)
		case verify.SourceReferrer:
			h, err := v1.NewHash(it.digest)
			if err != nil {
				return err
			}
			subject := v1.Descriptor{MediaType: types.MediaType(it.ev.Image.MediaType), Digest: h, Size: int64(len(it.ev.Image.Manifest))}
			wrote, err := w.WriteBundleReferrer(ctx, dst, subject, vs.se)
			if err != nil {
				return err
			}
			c.add(countSignature, wrote)
		}
	}
	if len(tagged) > 0 {
		wrote, err := w.WriteSignatures(ctx, dst, it.digest, tagged)
		if err != nil {
			return err
		}
		c.add(countSignature, wrote)
	}
	return nil
}

// dryRunVerdict is the verdict at the source, saying what would be done.
func (it *mirrorItem) dryRunVerdict() verify.Verdict {
	v := it.v
	if it.copy {
		v.Reason = fmt.Sprintf("would copy to %s:%s with %d signature(s): %s", it.dst, it.tag, len(it.sigs), v.Reason)
	} else {
		v.Reason = "would not copy: " + it.why + ": " + v.Reason
	}
	return v
}

// mirrorVerdicts verifies at the destination what was copied, as verify
// does with the destination as registry; an image not copied keeps the
// reason it was not.
func (s *Session) mirrorVerdicts(ctx context.Context, judge *verify.Judge, f *evidence.Fetcher, rel *artifacts.Release, items []*mirrorItem, res *MirrorResult) (*MirrorResult, error) {
	dest := *rel
	dest.Artifacts = nil
	for _, it := range items {
		a := it.a
		a.Location = it.dst + ":" + it.tag
		dest.Artifacts = append(dest.Artifacts, a)
	}
	res.Release = &dest
	var copied []artifacts.Artifact
	for i, it := range items {
		if it.written {
			copied = append(copied, dest.Artifacts[i])
		}
	}
	at := map[string]verify.Verdict{}
	if len(copied) > 0 {
		sub := dest
		sub.Artifacts = copied
		results, err := s.verifyReleases(ctx, []*artifacts.Release{&sub}, VerifyOptions{}, f, nil)
		if err != nil {
			return nil, err
		}
		for _, v := range results[0].Verdicts {
			at[v.Artifact.ID()] = v
		}
	}
	for i, it := range items {
		if v, ok := at[it.a.ID()]; ok {
			res.Verdicts = append(res.Verdicts, v)
			continue
		}
		a := dest.Artifacts[i]
		var v verify.Verdict
		switch {
		case it.err != nil:
			v = judge.Judge(rel, a, verify.Evidence{Unavailable: it.err})
			v.Reason = "not copied: " + it.err.Error()
		case it.v.Status != verify.StatusVerified:
			v = it.v
			v.Reason = "not copied: " + it.why + ": " + v.Reason
		default:
			v = judge.Judge(rel, a, verify.Evidence{Missing: "not copied to " + it.dst})
			v.Reason = "not copied: " + it.why
		}
		res.Verdicts = append(res.Verdicts, v)
	}
	return res, nil
}
