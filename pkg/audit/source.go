package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/cosign/v2/pkg/oci"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Mode says where a session's evidence comes from. It is decided once,
// when the session is made (Config.Pack), never by a request.
type Mode int

const (
	// Online: evidence is fetched from the download site, the registry
	// and Rekor.
	Online Mode = iota
	// FromPack: evidence is read from an evidence pack written by Fetch.
	FromPack
)

func (m Mode) String() string {
	if m == FromPack {
		return "evidence pack"
	}
	return "online"
}

// Source gives the evidence of a release's artifacts, and the content a
// mirror copies of the images that verified. Online it is fetched (the
// download site, registries, Rekor: pkg/evidence); from a pack it is read
// back (pkg/pack). The one judge decides on either, and verify, fetch and
// mirror use either alike. Where an artifact lives (repository, tag,
// path, platform) comes from the release, never from a source: evidence
// that places the artifact elsewhere is the judge's to refuse.
type Source interface {
	// Mode says which source this is.
	Mode() Mode
	// Evidence fetches or reads the evidence of artifact a of release r.
	// With o.Sink (online only) a release file is downloaded into it and
	// verified as it arrived.
	Evidence(ctx context.Context, r *artifacts.Release, a artifacts.Artifact, o EvidenceOptions) verify.Evidence
	// Image and Index read an image artifact's content by its digest.
	Image(ctx context.Context, a artifacts.Artifact, digest string) (v1.Image, error)
	Index(ctx context.Context, a artifacts.Artifact, digest string) (v1.ImageIndex, error)
	// CopySignatures writes with w into c.Destination the signatures of
	// c.Digest that verified and were published in c.Repository.
	CopySignatures(ctx context.Context, w SignatureWriter, c SignatureCopy) (Writes, error)
	// Close releases what the source holds open.
	Close() error

	// admit says whether the source holds evidence of release r.
	admit(r *artifacts.Release) error
	// openers read a release's version marker and SBOM (nil: not read).
	openers() (resolve, sbom artifacts.Opener)
}

// EvidenceOptions say how a release file's evidence is taken.
type EvidenceOptions struct {
	// Sink receives the release file as it is downloaded (online only):
	// its digest is then the downloaded bytes'.
	Sink io.Writer
}

// SignatureCopy is what CopySignatures copies: the verified signatures
// of one image digest, published in Repository (a repository of the
// release: the image's own, or its index's), into Destination.
type SignatureCopy struct {
	Artifact    artifacts.Artifact
	Image       *verify.ImageEvidence
	Digest      string
	Repository  string
	Destination string
	Signatures  []VerifiedSignature
}

// Planned counts the signature artifacts a copy of c writes — the .sig
// tag of c.Digest when a signature that verified was published in it,
// and each referrer that verified — as CopySignatures counts them
// (written or already there), for a dry run saying what it would copy.
func (c SignatureCopy) Planned() int {
	tagged := false
	var referrers []string
	for _, vs := range c.Signatures {
		refs, ok := published(vs.Evidence, c.Repository)
		if !ok {
			continue
		}
		switch vs.Evidence.Source {
		case verify.SourceSignatureTag:
			tagged = true
		case verify.SourceReferrer:
			key := vs.Evidence.Location // a referrer from a pack: one per bundle
			for _, ref := range refs {
				if _, d, ok := strings.Cut(ref, "@"); ok {
					key = d
					break
				}
			}
			if !slices.Contains(referrers, key) {
				referrers = append(referrers, key)
			}
		}
	}
	n := len(referrers)
	if tagged {
		n++
	}
	return n
}

// SignatureWriter writes signatures into a destination registry
// (pkg/mirror's Writer); each method says whether it wrote (false: the
// destination already held it).
type SignatureWriter interface {
	// CopySignatures copies from a .sig image as published the layers
	// that are one of keep into dest's .sig tag of digest; it returns how
	// many were kept.
	CopySignatures(ctx context.Context, sigs oci.Signatures, dest, digest string, keep []verify.SignatureEvidence) (int, bool, error)
	// WriteImage writes an image (a referrer as published) into repo.
	WriteImage(ctx context.Context, repo string, img v1.Image) (bool, error)
	// WriteRebuiltSignatures writes signatures rebuilt from their bundles
	// in cosign's .sig form, each carrying its log proof, as dest's .sig
	// tag of digest.
	WriteRebuiltSignatures(ctx context.Context, dest, digest string, sigs []VerifiedSignature) (bool, error)
	// WriteBundleReferrer attaches a signature's bundle to subject, in
	// dest, as an OCI referrer.
	WriteBundleReferrer(ctx context.Context, dest string, subject v1.Descriptor, se verify.SignatureEvidence) (bool, error)
}

// VerifiedSignature is a signature's evidence and the judge's result on it.
type VerifiedSignature struct {
	Evidence verify.SignatureEvidence
	Result   *verify.SignatureResult
}

// Writes counts what a copy wrote and what the destination already held.
type Writes struct{ Written, Present int }

func (w *Writes) add(wrote bool) {
	if wrote {
		w.Written++
	} else {
		w.Present++
	}
}

// onlineSource fetches evidence from the network.
type onlineSource struct {
	f *evidence.Fetcher
	// http reads version markers and SBOMs; nil when the session may not
	// reach the network (the catalog alone lists releases).
	http *transport.Client
}

func (o *onlineSource) Mode() Mode                     { return Online }
func (o *onlineSource) Close() error                   { return nil }
func (o *onlineSource) admit(*artifacts.Release) error { return nil }
func (o *onlineSource) openers() (artifacts.Opener, artifacts.Opener) {
	if o.http == nil {
		return nil, nil
	}
	return o.http, o.http
}

func (o *onlineSource) Evidence(ctx context.Context, _ *artifacts.Release, a artifacts.Artifact, opt EvidenceOptions) verify.Evidence {
	if a.Kind == artifacts.KindImage {
		return o.f.Image(ctx, a)
	}
	return o.f.Blob(ctx, a, evidence.BlobOptions{Download: opt.Sink != nil, Sink: opt.Sink})
}

func (o *onlineSource) Image(ctx context.Context, a artifacts.Artifact, digest string) (v1.Image, error) {
	cs, repo, err := o.content(a)
	if err != nil {
		return nil, err
	}
	return cs.Image(ctx, repo, digest)
}

func (o *onlineSource) Index(ctx context.Context, a artifacts.Artifact, digest string) (v1.ImageIndex, error) {
	cs, repo, err := o.content(a)
	if err != nil {
		return nil, err
	}
	return cs.Index(ctx, repo, digest)
}

// content is the session copying image content, and the artifact's
// repository.
func (o *onlineSource) content(a artifacts.Artifact) (*evidence.ImageSession, string, error) {
	cs, err := o.f.ContentSession()
	if err != nil {
		return nil, "", err
	}
	r, err := o.f.ParseImageReference(a.Location)
	if err != nil {
		return nil, "", err
	}
	return cs, r.Context().Name(), nil
}

// CopySignatures copies the signatures as they were published: the .sig
// tag's verified layers, and the referrers that verified.
func (o *onlineSource) CopySignatures(ctx context.Context, w SignatureWriter, c SignatureCopy) (Writes, error) {
	var n Writes
	cs, err := o.f.ContentSession()
	if err != nil {
		return n, err
	}
	var tagged []verify.SignatureEvidence
	var referrers []string
	for _, vs := range c.Signatures {
		refs, ok := published(vs.Evidence, c.Repository)
		if !ok {
			continue
		}
		switch vs.Evidence.Source {
		case verify.SourceSignatureTag:
			tagged = append(tagged, vs.Evidence)
		case verify.SourceReferrer:
			for _, ref := range refs {
				if _, d, ok := strings.Cut(ref, "@"); ok && !slices.Contains(referrers, d) {
					referrers = append(referrers, d)
				}
			}
		}
	}
	if len(tagged) > 0 {
		sigs, err := cs.SignatureImage(ctx, c.Repository, c.Digest)
		if err != nil {
			return n, err
		}
		kept, wrote, err := w.CopySignatures(ctx, sigs, c.Destination, c.Digest, tagged)
		if err != nil {
			return n, err
		}
		if kept == 0 {
			return n, fmt.Errorf("the signatures that verified are no longer under %s", evidence.SignatureTag(c.Repository, c.Digest))
		}
		n.add(wrote)
	}
	for _, d := range referrers {
		img, err := cs.Referrer(ctx, c.Repository, d)
		if err != nil {
			return n, err
		}
		wrote, err := w.WriteImage(ctx, c.Destination, img)
		if err != nil {
			return n, err
		}
		n.add(wrote)
	}
	return n, nil
}

// packSource reads evidence from an evidence pack, and hashes release
// files from a directory or the pack itself.
type packSource struct {
	dir   string
	p     *pack.Pack
	files *filesDir
}

// openPackSource opens the evidence pack in dir (and the directory of
// release files to bind, if any) once for the session.
func openPackSource(dir, filesDir string) (*packSource, error) {
	p, err := pack.Open(dir)
	if err != nil {
		return nil, classify(ErrLocalInput, err)
	}
	if err := checkDuplicates(p.Manifest); err != nil {
		p.Close()
		return nil, classify(ErrLocalInput, err)
	}
	src := &packSource{dir: dir, p: p}
	if filesDir != "" {
		if src.files, err = openFilesDir(filesDir); err != nil {
			p.Close()
			return nil, err
		}
	}
	return src, nil
}

func checkDuplicates(m *pack.Manifest) error {
	seen := map[string]bool{}
	for _, e := range m.Artifacts {
		if seen[e.Key()] {
			return fmt.Errorf("%w: %s is listed twice", pack.ErrMalformed, e.Key())
		}
		seen[e.Key()] = true
	}
	return nil
}

func (p *packSource) Mode() Mode { return FromPack }

func (p *packSource) Close() error {
	err := p.p.Close()
	if p.files != nil {
		err = errors.Join(err, p.files.Close())
	}
	return err
}

func (p *packSource) admit(r *artifacts.Release) error {
	if p.p.Manifest.Release != r.Version.String() {
		return classify(ErrLocalInput, fmt.Errorf("the evidence pack %s holds %s, not %s", p.dir, p.p.Manifest.Release, r.Version))
	}
	return nil
}

// openers: offline, a release is listed from the catalog and the SBOM the
// pack keeps, as it was when fetched.
func (p *packSource) openers() (artifacts.Opener, artifacts.Opener) {
	return nil, packSBOM{p: p.p}
}

// warnings say where the verdicts come from: what was done (verified
// offline, copied) from which pack, fetched when. (A pack marked
// incomplete never gets here: pack.Open refuses it.)
func (p *packSource) warnings(done string) []string {
	return []string{done + " from the evidence pack " + p.dir + ", fetched " + p.p.Manifest.Created.UTC().Format("2006-01-02T15:04:05Z")}
}

func (p *packSource) Evidence(_ context.Context, r *artifacts.Release, a artifacts.Artifact, opt EvidenceOptions) verify.Evidence {
	if opt.Sink != nil {
		return verify.Evidence{Unavailable: classify(ErrRequest, errors.New("downloading needs the network; an evidence pack is verified without it"))}
	}
	e, ok := p.p.Lookup(a)
	if !ok {
		return verify.Evidence{Unavailable: errors.New("not in the evidence pack: fetch it again")}
	}
	ev := p.p.Evidence(e)
	// The pack says where it found the artifact; the judge holds that to
	// where the release says the artifact lives.
	ev.Location = e.Location
	if a.Kind == artifacts.KindImage || ev.Missing != "" || ev.Unavailable != nil {
		return ev
	}
	claims, err := p.fileClaims(r, a, e)
	if err != nil {
		return verify.Evidence{Unavailable: err, Location: e.Location}
	}
	ev.Digests = append(ev.Digests, claims...)
	return ev
}

// fileClaims hashes the artifact's file, from the files directory or the
// pack; none when neither has it.
func (p *packSource) fileClaims(r *artifacts.Release, a artifacts.Artifact, e *pack.Entry) ([]verify.DigestClaim, error) {
	if p.files != nil {
		rel, err := r.FilePath(a)
		if err != nil {
			return nil, err
		}
		return p.files.hash(r.Version.String() + "/" + rel)
	}
	if e.File == "" {
		return nil, nil
	}
	f, err := p.p.Open(e.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums, err := hashReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s in the pack: %w", e.File, err)
	}
	return sums, nil
}

func (p *packSource) Image(_ context.Context, _ artifacts.Artifact, digest string) (v1.Image, error) {
	return p.p.Image(digest)
}

func (p *packSource) Index(_ context.Context, _ artifacts.Artifact, digest string) (v1.ImageIndex, error) {
	return p.p.ImageIndex(digest)
}

// CopySignatures rebuilds the signatures from the pack's bundles: cosign's
// .sig form with the log entry's signed entry timestamp as its bundle
// annotation, or a referrer for a bundle that came as one.
func (p *packSource) CopySignatures(ctx context.Context, w SignatureWriter, c SignatureCopy) (Writes, error) {
	var n Writes
	var tagged []VerifiedSignature
	for _, vs := range c.Signatures {
		if _, ok := published(vs.Evidence, c.Repository); !ok {
			continue
		}
		switch vs.Evidence.Source {
		case verify.SourceSignatureTag:
			tagged = append(tagged, vs)
		case verify.SourceReferrer:
			h, err := v1.NewHash(c.Digest)
			if err != nil {
				return n, err
			}
			subject := v1.Descriptor{MediaType: types.MediaType(c.Image.MediaType), Digest: h, Size: int64(len(c.Image.Manifest))}
			wrote, err := w.WriteBundleReferrer(ctx, c.Destination, subject, vs.Evidence)
			if err != nil {
				return n, err
			}
			n.add(wrote)
		}
	}
	if len(tagged) > 0 {
		wrote, err := w.WriteRebuiltSignatures(ctx, c.Destination, c.Digest, tagged)
		if err != nil {
			return n, err
		}
		n.add(wrote)
	}
	return n, nil
}

// published returns the references of a signature in a repository of the
// release, and whether it was published there. A repository is matched
// by its name (its last path element: kube-apiserver, kube-apiserver-amd64),
// as signatures' names are (sigverify.ImageNames): the pack was fetched from
// whichever registry the fetch read, the release's repositories are
// wherever this run looks. A signature with no references was found at
// its location.
func published(se verify.SignatureEvidence, repo string) ([]string, bool) {
	name := sigverify.ImageNames{path.Base(repo)}
	var refs []string
	for _, ref := range se.References {
		if name.Match(ref) {
			refs = append(refs, ref)
		}
	}
	if len(se.References) == 0 {
		return nil, se.Location != "" && name.Match(se.Location)
	}
	return refs, len(refs) > 0
}

// packSBOM reads the release SBOM an evidence pack keeps, in place of the
// SBOM site's.
type packSBOM struct{ p *pack.Pack }

func (o packSBOM) Open(context.Context, string) (io.ReadCloser, error) {
	if o.p.Manifest.SBOM == "" {
		return nil, errors.New("the evidence pack holds none (it could not be fetched)")
	}
	return o.p.Open(o.p.Manifest.SBOM)
}

// channels: from a pack, the channel documents it keeps stand for their
// publishers (a pack holds one release, so one CHANGELOG).
func (p *packSource) channels() *artifacts.Channels {
	return &artifacts.Channels{URL: "pack", Open: packChannels{p: p.p}}
}

// packChannels reads the channel documents an evidence pack keeps, in
// place of the raw-file host's.
type packChannels struct{ p *pack.Pack }

func (o packChannels) Open(_ context.Context, url string) (io.ReadCloser, error) {
	name := o.p.Manifest.Changelog
	if strings.HasSuffix(url, "/images.yaml") {
		name = o.p.Manifest.Promoter
	}
	if name == "" {
		return nil, errors.New("the evidence pack holds none (it was not read when the pack was fetched)")
	}
	return o.p.Open(name)
}

// warm sends, while the releases of an online run are listed, requests
// the run makes anyway (evidence.Warm): when images are selected, the
// registry's ping, and the tag and the cosign signature tag (of the digest
// the catalog gives it) of the first selected image the catalog lists for
// the first version; when files are, the .sha256 of the first selected
// release file (a release the catalog does not hold warms neither). stop,
// once the run is over, ends what no artifact took.
func (s *Session) warm(ctx context.Context, versions []string, sel Selection) (stop func()) {
	on, ok := s.src.(*onlineSource)
	if !ok || on.http == nil {
		return func() {}
	}
	var w evidence.Warm
	if len(sel.Kinds) == 0 || slices.Contains(sel.Kinds, artifacts.KindImage) {
		w.Registry, _, _ = strings.Cut(s.cfg.Endpoints.Registry, "/")
	}
	if len(versions) > 0 {
		file, image := s.firstArtifacts(versions[0], sel)
		if !sel.imagesOnly() {
			w.File = file.Location
		}
		if w.Registry != "" && image.Location != "" {
			w.Image = image.Location
			if hex := image.SumFrom("sha256", artifacts.SumCatalog); hex != "" {
				w.Digest = "sha256:" + hex
			}
		}
	}
	return on.f.Warm(ctx, w)
}

// firstArtifacts are the first release file and the first image of
// version the selection selects, as the catalog lists the release (zero:
// none known).
func (s *Session) firstArtifacts(version string, sel Selection) (file, image artifacts.Artifact) {
	v, err := artifacts.ParseVersion(version)
	if err != nil {
		return file, image
	}
	rel, err := s.cfg.Catalog.Release(v, artifacts.Locations{DownloadURL: s.cfg.Endpoints.DownloadURL, Registry: s.cfg.Endpoints.Registry})
	if err != nil {
		return file, image
	}
	if rel, err = sel.Apply(rel); err != nil {
		return file, image
	}
	for _, a := range rel.Artifacts {
		switch {
		case a.Kind == artifacts.KindImage && image.Location == "":
			image = a
		case a.Kind != artifacts.KindImage && file.Location == "":
			file = a
		}
	}
	return file, image
}
