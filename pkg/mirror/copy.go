package mirror

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Request asks for a release's images to be copied into a registry
// with their tags and signatures — only what verifies.
type Request struct {
	// Version is the release ("v1.24.17", "1.24.17", "latest-1.24"); from
	// a session's evidence pack it may be empty (the pack's release).
	Version string
	// Platforms restrict the mirror to these platforms' images
	// (name-<arch>:version). An index lists every platform, so copying it
	// would copy platforms not asked for: with Platforms, indexes are left
	// out.
	Platforms []artifacts.Platform
	// To is the destination: a registry host[:port] and an optional
	// prefix (registry.example.com/k8s). Images keep their names below it.
	To string
	// DryRun verifies and says what would be copied, writing nothing.
	DryRun bool
}

// Counts counts what a mirror wrote, or found already there.
type Counts struct {
	// Images are manifests written by digest: platform images and indexes.
	Images int
	// Signatures are cosign .sig tags and referrers.
	Signatures int
	// Tags are the images' own tags (name:version, name-<arch>:version).
	Tags int
}

// Result is the outcome of a mirror.
type Result struct {
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
	Copied, Present Counts
	// WouldCopy is what a dry run would write, the destination unread:
	// what it already holds is counted too (and then not written).
	WouldCopy Counts
	// To is the destination as normalised.
	To       string
	Warnings []string
}

// item is one image artifact of a mirror.
type item struct {
	a       artifacts.Artifact
	ev      verify.Evidence
	v       verify.Verdict // at the source
	repo    string         // source repository (registry/name)
	dst     string         // destination repository
	tag     string
	digest  string
	sigs    []audit.VerifiedSignature
	copy    bool   // verified, and (an index) every platform it lists too
	why     string // why not copied
	err     error  // the copy failed
	written bool   // content, signatures and tag are at the destination
	moved   string // the digest the destination's tag named before it was moved
}

// Copy verifies a release's images at the source (the session's
// registry, or its evidence pack written with images: the signatures are
// then rebuilt from its bundles), copies every image that verified — a
// platform's image, an index with every image it lists, their layers —
// with its tag and every signature of it that verified, and verifies the
// copies at the destination. Nothing that did not verify is copied: not
// an image, not a signature; an index is copied only when every image it
// lists verified. Content and signatures are written before tags, so an
// interrupted mirror never leaves a tag naming an image without its
// signatures. A destination that refuses a write gives that image an
// error verdict with the registry's message.
func Copy(ctx context.Context, s *audit.Session, req Request) (*Result, error) {
	listing, err := s.ListToJudge(ctx, req.Version, audit.Selection{Kinds: []artifacts.Kind{artifacts.KindImage}, Platforms: req.Platforms})
	if err != nil {
		return nil, err
	}
	res, err := CopyRelease(ctx, s, listing.Release, req)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(listing.Warnings, res.Warnings...)
	return res, nil
}

// CopyRelease copies the images of a release already listed, as Copy
// does (the request's version is not used). Every image's place — its
// repository and tag at the source and at the destination — comes from
// the release, never from the evidence.
func CopyRelease(ctx context.Context, s *audit.Session, rel *artifacts.Release, req Request) (*Result, error) {
	to, err := destination(req.To)
	if err != nil {
		return nil, err
	}
	rel = selection(rel, req)
	if len(rel.Artifacts) == 0 {
		return nil, audit.Classify(audit.ErrRequest, fmt.Errorf("%s: no image selected", rel.Version))
	}
	judged, judge, err := s.JudgeRelease(ctx, rel)
	if err != nil {
		return nil, err
	}
	destSrc, destFetcher, err := s.Destination()
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(destFetcher)
	if err != nil {
		return nil, err
	}
	items := make([]*item, len(judged))
	for i, j := range judged {
		items[i] = &item{a: j.Artifact, ev: j.Evidence, v: j.Verdict}
		if err := items[i].locate(to); err != nil {
			return nil, err
		}
	}
	plan(items)
	done := "copied"
	if req.DryRun {
		done = "would be copied" // a dry run copies nothing
	}
	res := &Result{To: to, Warnings: s.Notes(done)}
	if req.DryRun {
		// The destination must take the mirror: reachable, the
		// credentials accepted, pushes allowed (an upload started and
		// cancelled; nothing written).
		if err := w.CheckPush(ctx, items[0].dst); err != nil {
			return nil, err
		}
		res.Release = rel
		for _, it := range items {
			res.Verdicts = append(res.Verdicts, it.dryRunVerdict())
		}
		res.WouldCopy = wouldCopy(items)
		return res, nil
	}
	c := &counter{}
	copyImages(ctx, s, w, items, c)
	res.Copied, res.Present = c.copied, c.present
	for _, it := range items {
		if it.moved != "" {
			// A release tag at the destination named another manifest:
			// someone or something changed the mirror since it was
			// written, or it held another image under the release's tag.
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s:%s named %s at the destination, not the verified %s: the tag now names the verified image; find out what changed the mirror", it.dst, it.tag, it.moved, it.digest))
		}
	}
	return verdicts(ctx, s, judge, destSrc, rel, items, res)
}

// selection keeps the images, without the indexes when platforms
// were asked for.
func selection(rel *artifacts.Release, req Request) *artifacts.Release {
	out := *rel
	out.Artifacts = slices.DeleteFunc(slices.Clone(rel.Artifacts), func(a artifacts.Artifact) bool {
		return a.Kind != artifacts.KindImage || (a.Platform.IsZero() && !audit.MirrorsIndexes(req.Platforms)) ||
			(len(req.Platforms) > 0 && !slices.Contains(req.Platforms, a.Platform))
	})
	return &out
}

// destination checks a destination host[:port][/prefix].
func destination(to string) (string, error) {
	registry := strings.TrimRight(to, "/")
	if registry == "" || strings.Contains(registry, "://") {
		return "", audit.Classify(audit.ErrRequest, fmt.Errorf("destination %q: want host[:port][/prefix] without a scheme", to))
	}
	if _, err := evidence.ParseImageReference(registry + "/name:tag"); err != nil {
		return "", audit.Classify(audit.ErrRequest, fmt.Errorf("destination %q: %w", to, err))
	}
	return registry, nil
}

// locate names the item's source and destination repositories, tag and
// digest.
func (it *item) locate(to string) error {
	r, err := evidence.ParseImageReference(it.a.Location)
	if err != nil {
		return audit.Classify(audit.ErrRequest, err)
	}
	it.repo = r.Context().Name()
	it.dst = to + "/" + path.Base(it.repo)
	_, it.tag, _ = artifacts.SplitImageReference(it.a.Location)
	it.digest = it.v.Digest
	return nil
}

// plan decides what is copied: every image that verified, an index only
// when every manifest it lists is a platform image of the release that
// verified too; and with each, the signatures that verified.
func plan(items []*item) {
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
func verifiedSignatures(ev verify.Evidence, v verify.Verdict) ([]audit.VerifiedSignature, bool) {
	var out []audit.VerifiedSignature
	j := 0
	for _, se := range ev.Signatures {
		if se.Unavailable != nil {
			continue
		}
		if j >= len(v.Signatures) {
			return nil, false
		}
		if res := v.Signatures[j]; res.Verified() {
			out = append(out, audit.VerifiedSignature{Evidence: se, Result: res})
		}
		j++
	}
	return out, j == len(v.Signatures) && len(out) > 0
}

// indexComplete: every manifest the index lists is one of the release's
// platform images of the same name, verified and to be copied.
func indexComplete(idx *item, items []*item) (bool, string) {
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
		i := slices.IndexFunc(items, func(c *item) bool {
			return c.a.Name == idx.a.Name && !c.a.Platform.IsZero() && c.a.Platform.String() == p
		})
		switch {
		case i < 0:
			missing = append(missing, fmt.Sprintf("its %s manifest %s is none of the release's images selected", p, m.Digest))
		case !items[i].copy && items[i].v.Status != verify.StatusVerified:
			missing = append(missing, fmt.Sprintf("its %s manifest %s is not copied (%s)", p, m.Digest, items[i].why))
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

// counter counts writes.
type counter struct {
	mu              sync.Mutex
	copied, present Counts
}

// What a mirror writes.
const (
	countImage = iota
	countSignature
	countTag
)

// add counts one write of what: copied when wrote, else already there.
func (c *counter) add(what int, wrote bool) {
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

// addWrites counts the writes of n.
func (c *counter) addWrites(what int, n audit.Writes) {
	for range n.Written {
		c.add(what, true)
	}
	for range n.Present {
		c.add(what, false)
	}
}

// copyImages copies each image's group (its platform images, then the
// index) concurrently across groups.
func copyImages(ctx context.Context, s *audit.Session, w *Writer, items []*item, c *counter) {
	var names []string
	for _, it := range items {
		if !slices.Contains(names, it.a.Name) {
			names = append(names, it.a.Name)
		}
	}
	s.Each(len(names), func(i int) {
		var platforms []*item
		var index *item
		for _, it := range items {
			switch {
			case it.a.Name != names[i] || !it.copy:
			case it.a.Platform.IsZero():
				index = it
			default:
				platforms = append(platforms, it)
			}
		}
		copyGroup(ctx, w, s.Source(), platforms, index, c)
	})
}

// copyGroup copies the platform images of one name, then its index; the
// tags last.
func copyGroup(ctx context.Context, w *Writer, src audit.Source, platforms []*item, index *item, c *counter) {
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
		previous, wrote, err := w.Tag(ctx, it.dst, it.tag, it.digest)
		if err != nil {
			it.err = err
			continue
		}
		c.add(countTag, wrote)
		it.written, it.moved = true, previous
	}
}

// copyContent copies a platform image and its signatures.
func copyContent(ctx context.Context, w *Writer, src audit.Source, it *item, c *counter) error {
	img, err := src.Image(ctx, it.a, it.digest)
	if err != nil {
		return err
	}
	wrote, err := w.WriteImage(ctx, it.dst, img)
	if err != nil {
		return err
	}
	c.add(countImage, wrote)
	return copySignatures(ctx, w, src, it, it.repo, it.dst, c)
}

// copyIndex copies an index (its platform images are in its repository
// too: their layers are mounted from their own repositories), its
// signatures, and those of its platform images published in its
// repository. Nothing is written unless every platform image was copied.
func copyIndex(ctx context.Context, w *Writer, src audit.Source, idx *item, platforms []*item, c *counter) error {
	mounts := map[string]string{}
	for _, p := range platforms {
		if p.err != nil {
			return fmt.Errorf("its %s manifest was not copied: %w", p.a.Platform, p.err)
		}
		mounts[p.digest] = p.dst
	}
	ii, err := src.Index(ctx, idx.a, idx.digest)
	if err != nil {
		return err
	}
	wrote, err := w.WriteIndex(ctx, idx.dst, ii, mounts)
	if err != nil {
		return err
	}
	c.add(countImage, wrote)
	if err := copySignatures(ctx, w, src, idx, idx.repo, idx.dst, c); err != nil {
		return err
	}
	for _, p := range platforms {
		if err := copySignatures(ctx, w, src, p, idx.repo, idx.dst, c); err != nil {
			return err
		}
	}
	return nil
}

// copySignatures copies the item's verified signatures published in repo
// (a source repository of the release) into dst.
func copySignatures(ctx context.Context, w *Writer, src audit.Source, it *item, repo, dst string, c *counter) error {
	n, err := src.CopySignatures(ctx, w, audit.SignatureCopy{Artifact: it.a, Image: it.ev.Image, Digest: it.digest, Repository: repo, Destination: dst, Signatures: it.sigs})
	c.addWrites(countSignature, n)
	return err
}

// wouldCopy counts what copyImages would write of the items planned:
// each image with its tag, and the signature artifacts of each in its
// repository (an index's, also those of its platform images published in
// the index's repository).
func wouldCopy(items []*item) Counts {
	var n Counts
	sigs := func(it *item, repo string) int {
		return audit.SignatureCopy{Artifact: it.a, Image: it.ev.Image, Digest: it.digest, Repository: repo, Signatures: it.sigs}.Planned()
	}
	for _, it := range items {
		if !it.copy {
			continue
		}
		n.Images++
		n.Tags++
		n.Signatures += sigs(it, it.repo)
		if !it.a.Platform.IsZero() {
			continue
		}
		for _, p := range items {
			if p.copy && p.a.Name == it.a.Name && !p.a.Platform.IsZero() {
				n.Signatures += sigs(p, it.repo)
			}
		}
	}
	return n
}

// dryRunVerdict is the verdict at the source, saying what would be done.
func (it *item) dryRunVerdict() verify.Verdict {
	v := it.v
	if it.copy {
		v.Reason = fmt.Sprintf("would copy to %s:%s with %d signature(s): %s", it.dst, it.tag, len(it.sigs), v.Reason)
	} else {
		v.Reason = "would not copy: " + it.why + ": " + v.Reason
	}
	return v
}

// verdicts verifies at the destination what was copied, as verify
// does with the destination as registry; an image not copied keeps the
// reason it was not.
func verdicts(ctx context.Context, s *audit.Session, judge *verify.Judge, dest audit.Source, rel *artifacts.Release, items []*item, res *Result) (*Result, error) {
	there := *rel
	there.Artifacts = nil
	for _, it := range items {
		a := it.a
		a.Location = it.dst + ":" + it.tag
		there.Artifacts = append(there.Artifacts, a)
	}
	res.Release = &there
	var copied []artifacts.Artifact
	for i, it := range items {
		if it.written {
			copied = append(copied, there.Artifacts[i])
		}
	}
	at := map[string]verify.Verdict{}
	if len(copied) > 0 {
		sub := there
		sub.Artifacts = copied
		result, err := s.VerifyFrom(ctx, dest, &sub)
		if err != nil {
			return nil, err
		}
		for _, v := range result.Verdicts {
			at[v.Artifact.ID()] = v
		}
	}
	for i, it := range items {
		if v, ok := at[it.a.ID()]; ok {
			res.Verdicts = append(res.Verdicts, v)
			continue
		}
		a := there.Artifacts[i]
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
