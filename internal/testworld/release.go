package testworld

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/oci"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Facts of the real signing history the world reproduces, with their
// public sources.
var (
	// RecursiveSigningSince: from promo-tools v3.6.0 (kubernetes-sigs/
	// promo-tools#868 of 2023-05-15, released 2023-05-17, #876) the
	// promoter signed an index's children in the index's repository too;
	// before, a platform digest was signed only where it was promoted, in
	// <name>-<arch>.
	RecursiveSigningSince = time.Date(2023, 5, 17, 0, 0, 0, 0, time.UTC)
	// PublicReferenceSince: from promo-tools#928 (2023-06-19) the signed
	// docker-reference names registry.k8s.io; before, the Artifact Registry
	// backend the image was promoted to.
	PublicReferenceSince = time.Date(2023, 6, 19, 0, 0, 0, 0, time.UTC)
)

// ReleaseState is one release of the world: its artifacts as published.
type ReleaseState struct {
	Version artifacts.Version
	Release *artifacts.Release
	// Files are the release files by path below /release/<version>/.
	Files map[string]*File
	// Images by repository: "kube-apiserver" (index), "kube-apiserver-amd64".
	Images map[string]*Image
}

// BlobsSignedAt is when the world signs a release's files: on its release
// day, as krel signs them while releasing (kubernetes/release
// cmd/krel/cmd/sign_blobs.go, run by the release pipeline). An
// undated release is signed now.
func BlobsSignedAt(r *artifacts.Release) time.Time {
	d, err := time.Parse("2006-01-02", r.Date)
	if err != nil {
		return time.Now()
	}
	return d.Add(14 * time.Hour)
}

// ImagesSignedAt is when the world signs a release's images: the day
// before its release, when the promoter promotes them.
func ImagesSignedAt(r *artifacts.Release) time.Time {
	d, err := time.Parse("2006-01-02", r.Date)
	if err != nil {
		return time.Now()
	}
	return d.Add(-8 * time.Hour)
}

// prefix is the path of the release below the download site.
func (rs *ReleaseState) prefix() string { return "/release/" + rs.Version.String() + "/" }

// buildFiles creates, signs and publishes the release's files.
func (w *World) buildFiles(rs *ReleaseState, size int, faulty bool) error {
	var files []*File
	for _, a := range rs.Release.Artifacts {
		if a.Kind == artifacts.KindImage {
			continue
		}
		f, err := newFile(w.DownloadURL+rs.prefix(), a, size)
		if err != nil {
			return err
		}
		files = append(files, f)
		rs.Files[f.Path] = f
	}
	at := BlobsSignedAt(rs.Release)
	for _, f := range files {
		fault := w.faultOf(faulty, f.Path)
		if f.Artifact.Signing == artifacts.SigningNotExpected || f.Artifact.Signing == artifacts.SigningNever || fault == FaultUnsigned {
			continue
		}
		sig, err := w.signer(fault).SignDigest(f.digest(), signOptions(f.Artifact.Signer, fault, at))
		if err != nil {
			return fmt.Errorf("sign %s: %w", f.Path, err)
		}
		f.Signature = sig
		if fault == FaultForgedSET && sig.Entry != nil {
			w.Rekor.ForgeSET(sig.Entry.UUID)
		}
	}
	for i, f := range files {
		if err := w.publishFile(rs, f, files[(i+1)%len(files)], w.faultOf(faulty, f.Path)); err != nil {
			return err
		}
	}
	return nil
}

func newFile(base string, a artifacts.Artifact, size int) (*File, error) {
	p := strings.TrimPrefix(a.Location, base)
	if p == a.Location {
		return nil, fmt.Errorf("artifact %s: location %s is not below %s", a.ID(), a.Location, base)
	}
	content := make([]byte, size)
	if _, err := rand.Read(content); err != nil {
		return nil, err
	}
	s256, s512 := sha256.Sum256(content), sha512.Sum512(content)
	return &File{Artifact: a, Path: p, Content: content, SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])}, nil
}

func (f *File) digest() []byte {
	d, _ := hex.DecodeString(f.SHA256)
	return d
}

// publishFile serves a file and its side files, as the fault says.
func (w *World) publishFile(rs *ReleaseState, f, next *File, fault FaultKind) error {
	base := rs.prefix() + f.Path
	content := f.Content
	if fault == FaultFlipByte {
		content = slices.Clone(content)
		content[len(content)/2] ^= 0x01
	}
	if fault != FaultMissing {
		w.site[base] = content
	}
	sum := f.SHA256
	if fault == FaultBadSHA256 {
		other := sha256.Sum256(append([]byte("not "), f.Content...))
		sum = hex.EncodeToString(other[:])
	}
	w.site[base+".sha256"] = []byte(sum)
	w.site[base+".sha512"] = []byte(f.SHA512)
	sig := f.Signature
	if fault == FaultReplay {
		if next.Signature == nil {
			return fmt.Errorf("fault %s=%s: the artifact to replay from is unsigned", fault, f.Path)
		}
		sig = next.Signature
	}
	if sig == nil {
		return nil
	}
	w.site[base+".sig"] = []byte(base64.StdEncoding.EncodeToString(sig.Sig))
	w.site[base+".cert"] = []byte(base64.StdEncoding.EncodeToString(sig.CertPEM))
	if fault == FaultGarbageSignature {
		w.site[base+".sig"] = []byte("this is not a signature\n")
		w.site[base+".cert"] = []byte("bm90IGEgY2VydGlmaWNhdGU=\n")
	}
	if fault == FaultCertOnly {
		delete(w.site, base+".sig")
	}
	return nil
}

// faultOf is the fault of a target in the faulty release (faults apply to
// the newest release of the world only).
func (w *World) faultOf(faulty bool, target string) FaultKind {
	if !faulty {
		return ""
	}
	return w.faultsBy[target]
}

// imageHistory returns the identities the promoter signed an image
// repository with in release v, reproducing the line's real signing
// history (the carried staging signature aside: carriesStaging).
func imageHistory(v artifacts.Version, repo, arch string) []artifacts.Identity {
	promoter := artifacts.Identity{SAN: PromoterIdentity, Issuer: artifacts.GoogleIssuer}
	switch v.String() {
	case "v1.24.8": // signed by the promoter's identity (kubernetes/release#2789)
		return []artifacts.Identity{promoter}
	case "v1.24.11": // partly unsigned after Fulcio rate limits (kubernetes/release#2962)
		if arch == "ppc64le" || arch == "s390x" {
			return nil
		}
	case "v1.24.12": // signature replication broke (kubernetes/release#2971)
		if strings.HasPrefix(repo, "conformance") {
			return nil
		}
	}
	return []artifacts.Identity{artifacts.ImageSigner}
}

// CarrySince: from promo-tools v3.4.0 (kubernetes-sigs/promo-tools#542,
// "Carry over existing signatures from the staging repo", rolled out with
// kubernetes/k8s.io#3601 on 2022-04-06) the promoter copies the staging
// signature of a digest into its production .sig before adding its own.
var CarrySince = time.Date(2022, 4, 6, 0, 0, 0, 0, time.UTC)

// StagingRegistry is where krel stages a release's images and signs them
// as krel-staging: the carried signature's docker-reference names it.
const StagingRegistry = "gcr.io/k8s-staging-kubernetes"

// carriesStaging reports whether release v's .sig manifests hold the
// carried staging signature. kubernetes/release#2789 shows it for v1.24.6
// (krel-staging beside krel-trust) and not for v1.24.7 (krel-trust only)
// or v1.24.8 (the promoter's identity only): replication broke in
// October 2022. Whether the fix restored it for v1.24.9 and later is not
// public; the world carries it (the promoter's design since #542), and
// the client verifies with or without it.
func carriesStaging(v artifacts.Version, at time.Time) bool {
	switch v.String() {
	case "v1.24.7", "v1.24.8":
		return false
	}
	return !at.Before(CarrySince)
}

// promoterEra is how the promoter signed a release's images.
type promoterEra struct {
	at time.Time
	// recursive: an index's children are signed in its repository too.
	recursive bool
}

func eraOf(r *artifacts.Release) promoterEra {
	at := ImagesSignedAt(r)
	return promoterEra{at: at, recursive: !at.Before(RecursiveSigningSince)}
}

// signatureSet collects the signatures to publish: per repository and
// digest, the signed entity and its signatures.
type signatureSet struct {
	sigs     map[string]map[v1.Hash][]oci.Signature
	entities map[string]map[v1.Hash]oci.SignedEntity
}

func newSignatureSet() *signatureSet {
	return &signatureSet{sigs: map[string]map[v1.Hash][]oci.Signature{}, entities: map[string]map[v1.Hash]oci.SignedEntity{}}
}

func (s *signatureSet) add(repo string, h v1.Hash, e oci.SignedEntity, sigs ...oci.Signature) {
	if s.sigs[repo] == nil {
		s.sigs[repo], s.entities[repo] = map[v1.Hash][]oci.Signature{}, map[v1.Hash]oci.SignedEntity{}
	}
	s.sigs[repo][h] = append(s.sigs[repo][h], sigs...)
	s.entities[repo][h] = e
}

// buildImagesOf creates, pushes and signs the images of a release.
func (w *World) buildImagesOf(ctx context.Context, rs *ReleaseState, layerSize int64, faulty bool) error {
	set := newSignatureSet()
	era := eraOf(rs.Release)
	for _, name := range imageNames(rs.Release) {
		if err := w.buildImage(ctx, rs, name, layerSize, era, set, faulty); err != nil {
			return err
		}
	}
	if faulty {
		w.replaySignatures(rs, set)
		w.holdLateSignatures(rs, set)
	}
	return w.publishSignatures(set)
}

// holdLateSignatures takes the signatures of the images FaultSignedLate
// names out of set, for PublishLateSignatures.
func (w *World) holdLateSignatures(rs *ReleaseState, set *signatureSet) {
	for _, f := range w.Faults {
		im, ok := rs.Images[f.Target]
		if f.Kind != FaultSignedLate || !ok {
			continue
		}
		if w.late == nil {
			w.late = newSignatureSet()
		}
		for repo, byDigest := range set.sigs {
			if sigs, signed := byDigest[im.Digest]; signed {
				w.late.add(repo, im.Digest, set.entities[repo][im.Digest], sigs...)
				delete(byDigest, im.Digest)
			}
		}
	}
}

// PublishLateSignatures publishes the signatures FaultSignedLate held
// back, as the promoter eventually did.
func (w *World) PublishLateSignatures() error {
	if w.late == nil {
		return nil
	}
	late := w.late
	w.late = nil
	return w.publishSignatures(late)
}

// imageNames returns the image names of a release, in release order.
func imageNames(r *artifacts.Release) []string {
	var names []string
	for _, a := range r.Artifacts {
		if a.Kind == artifacts.KindImage && !slices.Contains(names, a.Name) {
			names = append(names, a.Name)
		}
	}
	return names
}

// buildImage creates one image name's platform images and index, pushes
// them under the release's tag, and signs them as the promoter of the
// release's era did.
func (w *World) buildImage(ctx context.Context, rs *ReleaseState, name string, layerSize int64, era promoterEra, set *signatureSet, faulty bool) error {
	var arches []string
	hasIndex := false
	for _, a := range rs.Release.Artifacts {
		switch {
		case a.Kind != artifacts.KindImage || a.Name != name:
		case a.Platform.IsZero():
			hasIndex = true
		default:
			arches = append(arches, a.Platform.Arch)
		}
	}
	if len(arches) == 0 {
		arches = []string{"amd64"}
	}
	idx, imgs, err := buildImages(arches, layerSize)
	if err != nil {
		return err
	}
	tag := rs.Version.String()
	for _, arch := range arches {
		repo := name + "-" + arch
		h, err := imgs[arch].Digest()
		if err != nil {
			return err
		}
		rs.Images[repo] = &Image{Repository: repo, Tag: tag, Platform: "linux/" + arch, Digest: h}
		if err := w.pushImage(ctx, repo, tag, imgs[arch], nil, w.faultOf(faulty, repo)); err != nil {
			return err
		}
		entity := signedEntity(imgs[arch], nil)
		sigs, err := w.signImage(rs, repo, repo, arch, h, era, w.faultOf(faulty, repo))
		if err != nil {
			return err
		}
		set.add(repo, h, entity, sigs...)
		if hasIndex && era.recursive { // the child, signed in the index's repository
			sigs, err := w.signImage(rs, repo, name, arch, h, era, w.faultOf(faulty, repo))
			if err != nil {
				return err
			}
			set.add(name, h, entity, sigs...)
		}
	}
	if !hasIndex {
		return nil
	}
	h, err := idx.Digest()
	if err != nil {
		return err
	}
	rs.Images[name] = &Image{Repository: name, Tag: tag, Digest: h}
	if err := w.pushImage(ctx, name, tag, nil, idx, w.faultOf(faulty, name)); err != nil {
		return err
	}
	sigs, err := w.signImage(rs, name, name, "", h, era, w.faultOf(faulty, name))
	if err != nil {
		return err
	}
	set.add(name, h, signedEntity(nil, idx), sigs...)
	return nil
}

// signImage signs one digest of an image (target: its world repository,
// which faults name) where it is published in repo, as the release's
// history says.
func (w *World) signImage(rs *ReleaseState, target, repo, arch string, h v1.Hash, era promoterEra, fault FaultKind) ([]oci.Signature, error) {
	if fault == FaultUnsigned {
		return nil, nil
	}
	var out []oci.Signature
	history := imageHistory(rs.Version, target, arch)
	if len(history) > 0 && carriesStaging(rs.Version, era.at) {
		// The staging signature, made when krel staged the release (a few
		// hours before promotion: the exact lag is not public), copied
		// first; the promoter's own comes after it.
		s, sig, err := w.imageSignature(StagingRegistry+"/"+repo, nil, h, signOptions(artifacts.BlobSigner, "", era.at.Add(-4*time.Hour)), "")
		if err != nil {
			return nil, fmt.Errorf("staging signature of %s@%s: %w", repo, h, err)
		}
		rs.Images[target].Signatures = append(rs.Images[target].Signatures, sig)
		out = append(out, s)
	}
	for _, id := range history {
		ref := signedReference(repo, h.String(), era.at)
		s, sig, err := w.imageSignature(ref, kpromoAnnotations(ref, era.at), h, signOptions(id, fault, era.at), fault)
		if err != nil {
			return nil, fmt.Errorf("sign %s@%s: %w", repo, h, err)
		}
		if fault == FaultForgedSET && sig.Entry != nil {
			w.Rekor.ForgeSET(sig.Entry.UUID)
		}
		rs.Images[target].Signatures = append(rs.Images[target].Signatures, sig)
		out = append(out, s)
	}
	return out, nil
}

// replaySignatures puts the signatures of another image on a faulted
// one (in each repository it is signed in).
func (w *World) replaySignatures(rs *ReleaseState, set *signatureSet) {
	for _, f := range w.Faults {
		im, ok := rs.Images[f.Target]
		if f.Kind != FaultReplay || !ok {
			continue
		}
		var from []oci.Signature
		for repo, byDigest := range set.sigs {
			for h, sigs := range byDigest {
				if h != im.Digest && len(sigs) > 0 && repo != f.Target && from == nil {
					from = sigs
				}
			}
		}
		for repo := range set.sigs {
			if _, signed := set.sigs[repo][im.Digest]; signed {
				set.sigs[repo][im.Digest] = from
			}
		}
	}
}

// publishSignatures writes every signature collected, repository by
// repository, in a stable order.
func (w *World) publishSignatures(set *signatureSet) error {
	repos := make([]string, 0, len(set.sigs))
	for r := range set.sigs {
		repos = append(repos, r)
	}
	slices.Sort(repos)
	for _, repo := range repos {
		for h, sigs := range set.sigs[repo] {
			if len(sigs) == 0 {
				continue
			}
			if err := w.writeSignatures(repo, h, set.entities[repo][h], sigs); err != nil {
				return err
			}
		}
	}
	return nil
}

// signOptions returns how the world signs as identity at a time, under
// fault.
func signOptions(id artifacts.Identity, fault FaultKind, at time.Time) SignOptions {
	o := SignOptions{CertOptions: CertOptions{Identity: id.SAN, Issuer: id.Issuer, NotBefore: at.Add(-time.Minute)}, IntegratedTime: at}
	switch fault {
	case FaultForeignIdentity:
		o.Identity = ForeignIdentity
	case FaultForeignIssuer:
		o.Issuer = ForeignIssuer
	case FaultExpiredCert:
		o.NotBefore = at.Add(-30 * time.Minute)
	case FaultNotInLog:
		o.NoLog = true
	}
	return o
}
