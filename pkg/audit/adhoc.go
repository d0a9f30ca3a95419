package audit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/localfile"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// ImagesRequest asks for the verification of images by reference.
type ImagesRequest struct {
	// Refs are tags or digests; one without a registry is looked up in
	// the configured registry.
	Refs []string
	// Platform restricts an index to one platform's manifest.
	Platform *artifacts.Platform
}

// VerifyImages verifies images by reference, as verify-image does: for an
// index, a verdict on the index and one per platform manifest it lists,
// each bound to the name of its repository (see verify.Rules.AnyImageName)
// and expected to be signed by the release team's image signer.
func (s *Session) VerifyImages(ctx context.Context, req ImagesRequest) (*Result, error) {
	for _, ref := range req.Refs {
		if _, err := evidence.ParseImageReference(s.qualify(ref)); err != nil {
			return nil, classify(ErrRequest, err)
		}
	}
	judge, err := s.Judge(ctx)
	if err != nil {
		return nil, err
	}
	found := make([][]evidence.ImageRefEvidence, len(req.Refs))
	s.Each(len(req.Refs), func(i int) {
		found[i] = s.fetcher.ImageRef(ctx, s.qualify(req.Refs[i]), req.Platform, artifacts.ImageSigner)
	})
	res := &Result{Warnings: s.takeTrustNotes()}
	for i, list := range found {
		rel, repo, warnings := s.tagRelease(ctx, req.Refs[i])
		res.Warnings = append(res.Warnings, warnings...)
		for j, e := range list {
			a := releaseImage(rel, repo, e.Artifact, j == 0, req.Platform)
			res.Verdicts = append(res.Verdicts, overdue(ctx, judge, rel, judge.Judge(rel, a, e.Evidence)))
		}
	}
	return res, nil
}

// tagRelease returns the release a reference's tag names when the catalog
// knows it and lists an image of the reference's name
// (kube-apiserver:v1.24.17, kube-apiserver-amd64:v1.24.17), else nil, and
// the last element of the reference's repository. The image is then
// judged as that release's, as verify judges it: a signature names a
// digest and a repository, never a tag, so without the release's
// signing-time rule another release's image served at the tag would verify.
func (s *Session) tagRelease(ctx context.Context, ref string) (*artifacts.Release, string, []string) {
	r, err := evidence.ParseImageReference(s.qualify(ref))
	if err != nil {
		return nil, "", nil
	}
	tag, ok := refTag(r)
	if !ok {
		return nil, "", nil
	}
	v, err := artifacts.ParseVersion(tag.TagStr())
	if err != nil {
		return nil, "", nil
	}
	rel, err := s.cfg.Catalog.Release(v, artifacts.Locations{DownloadURL: s.cfg.Endpoints.DownloadURL, Registry: s.cfg.Endpoints.Registry})
	if err != nil {
		return nil, "", nil
	}
	repo := path.Base(tag.RepositoryStr())
	if !slices.ContainsFunc(rel.Artifacts, func(a artifacts.Artifact) bool {
		return a.Kind == artifacts.KindImage && sigverify.NamesFor(a.Name, a.Platform.Arch).Match(repo)
	}) {
		return nil, "", nil
	}
	var warnings []string
	if !s.cfg.Catalog.HoldsSums(v) {
		// The promoter's digests of a release the catalog holds none for,
		// read from their publisher as verify reads them.
		images, err := (Selection{Kinds: []artifacts.Kind{artifacts.KindImage}}).Apply(rel)
		if err == nil {
			rel = images
			_, warnings = s.channels.Bind(ctx, rel)
		}
	}
	return rel, repo, warnings
}

// refTag returns a reference's tag: a tag's own, or the tag a digest
// reference carries beside its digest (kube-apiserver:v1.24.17@sha256:…,
// as pinned manifests write it: the digest is pulled, and it must be the
// tag's release's).
func refTag(r name.Reference) (name.Tag, bool) {
	switch r := r.(type) {
	case name.Tag:
		return r, true
	case name.Digest:
		base, _, _ := strings.Cut(r.String(), "@")
		if !strings.Contains(base[strings.LastIndex(base, "/")+1:], ":") {
			return name.Tag{}, false // no tag (NewTag would say "latest")
		}
		t, err := name.NewTag(base, name.WeakValidation)
		return t, err == nil
	}
	return name.Tag{}, false
}

// releaseImage binds an image found at a release tag to the release as
// verify binds it. The tag of a name's own repository (kube-proxy:v1.24.17)
// names the release's multi-platform index: what is served at it (top,
// the manifest the reference resolved to) is judged as that index, so a
// platform's image served there, or pinned by digest under the tag, fails
// check image. The tag of a platform's repository (kube-proxy-amd64:v1.24.17)
// names that platform: what is served there is judged as that platform's
// image, whatever its configuration says, so another platform's image
// fails check platform (accepting signatures of any name,
// verify.Rules.AnyImageName, drops the name check only); a platform asked
// for (asked) that is not the repository's stays the one expected, and
// fails check platform too. And the image gets the sums the release's
// catalog holds for it (the promoter's digest of the tag).
func releaseImage(rel *artifacts.Release, repo string, a artifacts.Artifact, top bool, asked *artifacts.Platform) artifacts.Artifact {
	if rel == nil {
		return a
	}
	for _, c := range rel.Artifacts {
		if c.Kind != artifacts.KindImage {
			continue
		}
		if c.Platform.IsZero() && top && repo == path.Base(c.Name) {
			a.Platform = artifacts.Platform{}
			break
		}
		if !c.Platform.IsZero() && repo == path.Base(c.Name)+"-"+c.Platform.Arch && (asked == nil || *asked == c.Platform) {
			a.Platform = c.Platform
			break
		}
	}
	for _, c := range rel.Artifacts {
		if c.Kind == artifacts.KindImage && c.Platform == a.Platform && sigverify.NamesFor(c.Name, c.Platform.Arch).Match(a.Name) {
			a.Sums = append(slices.Clone(a.Sums), c.Sums...)
			return a
		}
	}
	return a
}

// qualify puts a reference without a registry below the configured one.
func (s *Session) qualify(ref string) string {
	first, _, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	return strings.TrimRight(s.cfg.Endpoints.Registry, "/") + "/" + ref
}

// FilesRequest asks what files on disk are, and who signed them.
type FilesRequest struct {
	Files []string
	// Version names the release the files belong to ("" : search the
	// transparency log for signatures of each file's digest).
	Version string
}

// VerifyFiles hashes each file and verifies it. With a release, the file
// is identified among the release's files by their published sums and
// verified as that artifact; without, the transparency log is searched
// for signatures of its digest by the release team's file signer.
func (s *Session) VerifyFiles(ctx context.Context, req FilesRequest) (*Result, error) {
	for _, f := range req.Files {
		if err := checkRegular(f); err != nil {
			return nil, err
		}
	}
	res := &Result{}
	if req.Version != "" {
		listing, err := s.LoadRelease(ctx, req.Version, Selection{Kinds: []artifacts.Kind{artifacts.KindBinary, artifacts.KindTarball}, NeverSigned: true})
		if err != nil {
			return nil, err
		}
		res.Release, res.Warnings = listing.Release, listing.Warnings
	}
	judge, err := s.Judge(ctx)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, s.takeTrustNotes()...)
	finder := &fileFinder{s: s, listings: map[artifacts.Version]*Listing{}, failed: map[artifacts.Version]error{}}
	for _, f := range req.Files {
		res.Verdicts = append(res.Verdicts, overdue(ctx, judge, res.Release, s.file(ctx, judge, res.Release, f, finder)))
	}
	return res, nil
}

func (s *Session) file(ctx context.Context, judge *verify.Judge, r *artifacts.Release, p string, finder *fileFinder) verify.Verdict {
	unknown := artifacts.Artifact{Kind: artifacts.KindBinary, Name: filepath.Base(p), Location: p, Signer: artifacts.BlobSigner, Signing: artifacts.SigningProbe}
	sums, err := hashFile(p, "sha256")
	if err != nil {
		return judge.Judge(nil, unknown, verify.Evidence{Unavailable: err})
	}
	if r == nil {
		return s.fileFromContent(ctx, judge, p, unknown, sums[0], finder)
	}
	a, checked, err := s.identify(ctx, r, filepath.Base(p), sums[0].Digest.Hex)
	if err != nil {
		return judge.Judge(nil, unknown, verify.Evidence{Unavailable: err})
	}
	if a == nil {
		return judge.Unidentified(r, unknown, sums[0], checked)
	}
	ev, err := s.fileEvidence(ctx, *a, p, sums)
	if err != nil {
		return judge.Judge(nil, unknown, verify.Evidence{Unavailable: err})
	}
	return misnamed(judge, r, judge.Identified(r, *a, ev), filepath.Base(p))
}

// fileEvidence is the evidence on file p identified as a: the release's
// (sums, signature, log entry) and the file's own sums.
func (s *Session) fileEvidence(ctx context.Context, a artifacts.Artifact, p string, sums []verify.DigestClaim) (verify.Evidence, error) {
	if a.SumFrom("sha512", artifacts.SumCatalog) != "" || a.SumFrom("sha512", artifacts.SumChangelog) != "" {
		more, err := hashFile(p, "sha512")
		if err != nil {
			return verify.Evidence{}, err
		}
		sums = append(slices.Clone(sums), more...)
	}
	ev := s.fetcher.Blob(ctx, a, evidence.BlobOptions{})
	ev.Digests = append(ev.Digests, sums...)
	return ev, nil
}

// misnamed fails verdict v on a file identified by its content as
// v.Artifact when its name on disk is another file's of release r.
func misnamed(judge *verify.Judge, r *artifacts.Release, v verify.Verdict, base string) verify.Verdict {
	for _, x := range r.Artifacts {
		if u, err := url.Parse(x.Location); err == nil && path.Base(u.Path) == base && x.Name != v.Artifact.Name {
			return judge.Misnamed(r, v, base, x)
		}
	}
	return v
}

// identify finds the release file whose published sum is sum (hex
// SHA-256): first by the release SBOM's sums, then by the published
// .sha256 of the files of the same name, then of all.
func (s *Session) identify(ctx context.Context, r *artifacts.Release, base, sum string) (*artifacts.Artifact, int, error) {
	var same, others []artifacts.Artifact
	for _, a := range r.Artifacts {
		if u, err := url.Parse(a.Location); err == nil && path.Base(u.Path) == base {
			same = append(same, a)
		} else {
			others = append(others, a)
		}
	}
	for _, group := range [][]artifacts.Artifact{same, others} {
		if i := slices.IndexFunc(group, func(a artifacts.Artifact) bool { return a.Sum("sha256", artifacts.SumSBOM) == sum }); i >= 0 {
			return &group[i], len(r.Artifacts), nil
		}
	}
	checked := 0
	for _, group := range [][]artifacts.Artifact{same, others} {
		found, err := s.findSum(ctx, group, sum)
		checked += len(group)
		if err != nil || found != nil {
			return found, checked, err
		}
	}
	return nil, checked, nil
}

// findSum fetches the published .sha256 of each file until one is sum.
func (s *Session) findSum(ctx context.Context, group []artifacts.Artifact, sum string) (*artifacts.Artifact, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sums := make([]string, len(group))
	errs := make([]error, len(group))
	s.Each(len(group), func(i int) {
		data, err := s.http.Get(ctx, group[i].Location+".sha256", 4<<10)
		if err != nil {
			errs[i] = err
			return
		}
		if sums[i], _ = evidence.ParseSum(data); sums[i] == sum {
			cancel()
		}
	})
	if i := slices.Index(sums, sum); i >= 0 {
		return &group[i], nil
	}
	for _, err := range errs {
		if err != nil && !isNotFoundOrCanceled(err) {
			return nil, err
		}
	}
	return nil, nil
}

func isNotFoundOrCanceled(err error) bool {
	return errors.Is(err, transport.ErrNotFound) || errors.Is(err, context.Canceled)
}

// checkRegular accepts a regular file (or a link to one): anything else
// (a directory, a FIFO that would block, a device) is refused before any
// work starts.
func checkRegular(p string) error {
	f, err := openRegular(p)
	if err != nil {
		return err
	}
	return f.Close()
}

// openRegular opens a regular local file without ever blocking on it.
func openRegular(p string) (*os.File, error) {
	f, err := localfile.Open(p)
	if err != nil {
		return nil, classify(ErrLocalInput, err)
	}
	return f, nil
}

// hashFileSHA256 streams a regular file through SHA-256 in bounded memory (a
// 1 MiB buffer, whatever the file's size). SHA-256 is what the release
// team signs.
func hashFileSHA256(p string) (sigverify.Digest, error) {
	sums, err := hashFile(p, "sha256")
	if err != nil {
		return sigverify.Digest{}, err
	}
	return sums[0].Digest, nil
}

func hashFile(p string, algs ...string) ([]verify.DigestClaim, error) {
	f, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	claims, err := hashWith(f, verify.ChannelFile, algs...)
	if err != nil {
		return nil, classify(ErrLocalInput, fmt.Errorf("read %s: %w", p, err))
	}
	return claims, nil
}

// BlobRequest asks for the verification of a file (or a digest) against a
// Sigstore bundle, or a detached signature and certificate.
type BlobRequest struct {
	// Target is a file, or a digest "sha256:<hex>" / "sha512:<hex>".
	Target string
	// Bundle is the bundle file; or Signature and Certificate are the
	// files of a detached signature (.sig, base64 or raw) and its
	// certificate (.cert, base64 of PEM or PEM), whose log entry is looked
	// up in Rekor.
	Bundle                 string
	Signature, Certificate string
	// Identity is who must have signed.
	Identity artifacts.Identity
}

// maxBundleFile bounds a bundle file read.
const maxBundleFile = 16 << 20

// VerifyBlob verifies a file or digest against a bundle file, with the
// judge's rules (any bundle form the specification allows).
func (s *Session) VerifyBlob(ctx context.Context, req BlobRequest) (*Result, error) {
	if req.Identity.SAN == "" || req.Identity.Issuer == "" {
		return nil, classify(ErrRequest, errors.New("the signer's identity and OIDC issuer must not be empty"))
	}
	if (req.Bundle == "") == (req.Signature == "" && req.Certificate == "") || (req.Signature == "") != (req.Certificate == "") {
		return nil, classify(ErrRequest, errors.New("verify against a bundle, or a signature and its certificate"))
	}
	claim, err := blobDigest(req.Target)
	if err != nil {
		return nil, err
	}
	se, err := s.blobSignature(ctx, req, claim.Digest)
	if err != nil {
		return nil, err
	}
	judge, err := s.Judge(ctx)
	if err != nil {
		return nil, err
	}
	a := artifacts.Artifact{Kind: artifacts.KindBlob, Name: req.Target, Location: req.Target, Signer: req.Identity, Signing: artifacts.SigningProbe}
	ev := verify.Evidence{Digests: []verify.DigestClaim{claim}, Signatures: []verify.SignatureEvidence{se}}
	return &Result{Verdicts: []verify.Verdict{judge.Judge(nil, a, ev)}, Warnings: s.takeTrustNotes()}, nil
}

// blobSignature reads the signature evidence a blob request names.
func (s *Session) blobSignature(ctx context.Context, req BlobRequest, d sigverify.Digest) (verify.SignatureEvidence, error) {
	if req.Bundle != "" {
		data, err := readBounded(req.Bundle, maxBundleFile)
		if err != nil {
			return verify.SignatureEvidence{}, err
		}
		b, err := sigverify.ParseBundle(data)
		se := verify.SignatureEvidence{Source: verify.SourceBundleFile, Location: req.Bundle, Bundle: b, Malformed: err}
		if given := strings.HasPrefix(req.Target, d.Algorithm+":"); err == nil && given {
			if alg := sigverify.MessageDigestAlgorithm(b); alg != "" && alg != d.Algorithm {
				// A digest given of another algorithm, as a detached
				// signature's: what cannot be compared is not checked,
				// not failed. (A file's SHA-256 against a bundle naming
				// another algorithm fails, as its signature check does.)
				se.Bundle, se.Unavailable = nil, fmt.Errorf("the bundle signs a %s digest: name the file or its %s:<hex>", alg, alg)
			}
		}
		return se, nil
	}
	sig, err := readBounded(req.Signature, 64<<10)
	if err != nil {
		return verify.SignatureEvidence{}, err
	}
	cert, err := readBounded(req.Certificate, 64<<10)
	if err != nil {
		return verify.SignatureEvidence{}, err
	}
	digest := d.Bytes()
	if d.Algorithm != "sha256" {
		digest = nil
	}
	if s.cfg.Offline {
		return evidence.SigCertWithoutLog(req.Signature, digest, sig, cert,
			errors.New("offline: a signature and certificate carry no proof that they were logged (verify them online, where their Rekor entry is looked up, or verify a bundle)")), nil
	}
	return s.fetcher.SigCert(ctx, req.Signature, digest, sig, cert), nil
}

// blobDigest is the digest to verify: the file's SHA-256, or the digest
// given.
func blobDigest(target string) (verify.DigestClaim, error) {
	if strings.HasPrefix(target, "sha256:") || strings.HasPrefix(target, "sha512:") {
		d, err := sigverify.ParseDigest(target)
		if err != nil {
			return verify.DigestClaim{}, classify(ErrRequest, err)
		}
		return verify.DigestClaim{Digest: d, Channel: verify.ChannelArgument}, nil
	}
	sums, err := hashFile(target, "sha256")
	if err != nil {
		return verify.DigestClaim{}, err
	}
	return sums[0], nil
}

// readBounded reads a regular local file of at most limit bytes.
func readBounded(p string, limit int64) ([]byte, error) {
	data, err := localfile.Read(p, limit)
	if err != nil {
		return nil, classify(ErrLocalInput, err)
	}
	return data, nil
}
