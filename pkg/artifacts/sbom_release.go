package artifacts

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// ErrSBOMMismatch is returned when an SBOM lists nothing of the release it
// was fetched for. Test with errors.Is.
var ErrSBOMMismatch = errors.New("the SBOM does not describe this release")

// ImageArches are the architecture suffixes of per-arch release images
// ("kube-apiserver-arm64").
var ImageArches = []string{"amd64", "arm", "arm64", "ppc64le", "s390x", "386", "riscv64", "mips64le", "loong64"}

// platformTarballRE matches kubernetes-<role>-<os>-<arch>.tar.gz.
var platformTarballRE = regexp.MustCompile(`^kubernetes-(?:client|node|server|test)-([a-z0-9]+)-([a-z0-9]+)\.tar\.gz$`)

// SigningPolicy says whether images and blobs (binaries and tarballs) of
// release v are expected to be signed: from the catalog when it covers v;
// otherwise images from v1.24 on, blobs from v1.26 on, and "probe" for
// what came between (late patches of older lines were signed as well).
func SigningPolicy(v Version) (images, blobs Signing) { return Embedded().signingPolicy(v) }

func (c *Catalog) signingPolicy(v Version) (images, blobs Signing) {
	if _, cr := c.find(v); cr != nil {
		return cr.ImageSigning, cr.BlobSigning
	}
	images, blobs = SigningProbe, SigningProbe
	if !v.Less(Version{Major: 1, Minor: 24}) {
		images = SigningExpected
	}
	if !v.Less(Version{Major: 1, Minor: 26}) {
		blobs = SigningExpected
	}
	return images, blobs
}

// ReleaseFromSBOM returns release v as its SBOM s lists it, with
// locations under loc. The SBOM lists per-architecture images
// ("kube-apiserver-amd64"); the multi-arch index each belongs to
// ("kube-apiserver") is added, since the release publishes it too. Images
// tagged with another version are ignored; an SBOM that lists nothing of
// v is an error wrapping ErrSBOMMismatch. Images are located in
// loc.Registry, whatever registry the SBOM names (older SBOMs name
// k8s.gcr.io), and files under loc.DownloadURL.
func ReleaseFromSBOM(v Version, s *SBOM, loc Locations) (*Release, error) {
	return Embedded().ReleaseFromSBOM(v, s, loc)
}

// ReleaseFromSBOM is the package function ReleaseFromSBOM with this
// catalog's signing policy, dates and incidents.
func (c *Catalog) ReleaseFromSBOM(v Version, s *SBOM, loc Locations) (*Release, error) {
	// krel names the document "Kubernetes Release vX" (kubernetes/release
	// pkg/anago/stage.go): one naming another release is not this release's, whatever its
	// files. Other names are not guessed at.
	if named, ok := strings.CutPrefix(s.Name, "Kubernetes Release "); ok && named != v.String() {
		return nil, fmt.Errorf("%w %s: it is the SBOM of %q", ErrSBOMMismatch, v, s.Name)
	}
	imageSigning, blobSigning := c.signingPolicy(v)
	r := &Release{Version: v, Source: SourceSBOM, Incidents: c.knownIncidents(v), Catalog: c.name}
	if f, cr := c.find(v); cr != nil {
		r.Date, r.Previous = cr.Date, f.previous(v)
	}
	seen := map[string]int{}
	add := func(a Artifact) {
		if i, ok := seen[a.ID()]; ok {
			// The same file twice: keep the checksums either lists.
			r.Artifacts[i].addSums(a.Sums...)
			return
		}
		seen[a.ID()] = len(r.Artifacts)
		r.Artifacts = append(r.Artifacts, a)
	}
	var otherTags []string
	for _, img := range s.Images {
		if img.Tag != v.String() {
			if !slices.Contains(otherTags, img.Tag) {
				otherTags = append(otherTags, img.Tag)
			}
			continue
		}
		a, index := imageArtifacts(v, img, loc)
		a.Signing, index.Signing = imageSigning, imageSigning
		add(index)
		if !a.Platform.IsZero() {
			add(a)
		}
	}
	for _, f := range s.Files {
		a := Artifact{Signer: BlobSigner, Signing: blobSigning}
		a.addSums(Sum{Algorithm: "sha256", Hex: f.SHA256, Source: SumSBOM}, Sum{Algorithm: "sha512", Hex: f.SHA512, Source: SumSBOM})
		if p, name, ok := binaryPath(f.Path); ok {
			a.Kind, a.Name, a.Platform, a.Location = KindBinary, name, p, loc.binaryURL(v, p, name)
		} else {
			a.Kind, a.Name, a.Location = KindTarball, path.Base(f.Path), loc.tarballURL(v, path.Base(f.Path))
			if m := platformTarballRE.FindStringSubmatch(a.Name); m != nil {
				a.Platform = Platform{OS: m[1], Arch: m[2]}
			}
		}
		add(a)
	}
	if len(r.Artifacts) == 0 {
		if len(otherTags) > 0 {
			return nil, fmt.Errorf("%w %s: it lists images tagged %s and no release files", ErrSBOMMismatch, v, strings.Join(otherTags, ", "))
		}
		return nil, fmt.Errorf("%w %s: it lists no release images or files (%d packages, %d files)", ErrSBOMMismatch, v, s.Packages, s.FileEntries)
	}
	sortArtifacts(r.Artifacts)
	return r, nil
}

// imageArtifacts returns the artifact of an SBOM image and of the
// multi-arch index it belongs to. "kube-apiserver-arm64" is kube-apiserver
// for linux/arm64, "kube-proxy-windows-amd64" kube-proxy for
// windows/amd64; a name without an architecture suffix is an index.
func imageArtifacts(v Version, img SBOMImage, loc Locations) (image, index Artifact) {
	dir, name := path.Split(img.Repository)
	p := Platform{}
	for _, arch := range ImageArches {
		if base, ok := strings.CutSuffix(name, "-"+arch); ok && base != "" {
			name, p = base, Platform{OS: "linux", Arch: arch}
			if base, ok := strings.CutSuffix(name, "-windows"); ok && base != "" {
				name, p.OS = base, "windows"
			}
			break
		}
	}
	registry := strings.TrimRight(loc.Registry, "/")
	index = Artifact{Kind: KindImage, Name: name, Location: fmt.Sprintf("%s/%s%s:%s", registry, dir, name, v), Signer: ImageSigner}
	image = Artifact{Kind: KindImage, Name: name, Platform: p, Location: fmt.Sprintf("%s/%s:%s", registry, img.Repository, v), Signer: ImageSigner}
	return image, index
}

// firstSet returns a if it is set, else b.
func firstSet(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Difference is an artifact that one source of a release lists and the
// other does not.
type Difference struct {
	Artifact Artifact `json:"artifact"`
	// OnlyIn is the Source of the release that lists it: SourceCatalog or
	// SourceSBOM.
	OnlyIn string `json:"onlyIn"`
}

// String says "binary kubectl linux/amd64 is listed only by the sbom".
func (d Difference) String() string {
	return fmt.Sprintf("%s is listed only by the %s", d.Artifact.ID(), d.OnlyIn)
}

// Diff returns the artifacts listed by only one of catalog and online
// (compared by ID), in artifact order.
func Diff(catalog, online *Release) []Difference {
	in := func(r *Release) map[string]bool {
		m := map[string]bool{}
		for _, a := range r.Artifacts {
			m[a.ID()] = true
		}
		return m
	}
	inCatalog, inOnline := in(catalog), in(online)
	var ds []Difference
	for _, a := range catalog.Artifacts {
		if !inOnline[a.ID()] && !(online.Source == SourceSBOM && omittedFromSBOM(a)) {
			ds = append(ds, Difference{Artifact: a, OnlyIn: catalog.Source})
		}
	}
	for _, a := range online.Artifacts {
		if !inCatalog[a.ID()] {
			ds = append(ds, Difference{Artifact: a, OnlyIn: online.Source})
		}
	}
	slices.SortStableFunc(ds, func(x, y Difference) int { return compareArtifacts(x.Artifact, y.Artifact) })
	return ds
}

// omittedFromSBOM reports whether the release SBOM leaves an artifact out
// by design: krel lists the build's binaries without the image archives
// (.tar) and their .docker_tag files (kubernetes/release pkg/anago/
// stage.go, ListBuildBinaries), and its image packages are the image
// archives of the server tarballs, which the conformance image is not
// (kubernetes/kubernetes build/lib/release.sh builds it apart).
func omittedFromSBOM(a Artifact) bool {
	switch a.Kind {
	case KindBinary:
		return strings.HasSuffix(a.Name, ".tar") || strings.HasSuffix(a.Name, ".docker_tag")
	case KindImage:
		return a.Name == "conformance"
	}
	return false
}

// Merge returns the union of catalog and online, two views of the same
// release: every artifact either lists, once — as the catalog describes
// it when it does, with the checksums of both. Use Diff to report what
// only one of them lists.
func Merge(catalog, online *Release) *Release {
	r := &Release{Version: online.Version, Date: firstSet(catalog.Date, online.Date), Previous: catalog.Previous, Source: SourceMerged, Incidents: catalog.Incidents, Catalog: catalog.Catalog}
	byID := map[string]int{}
	for _, a := range catalog.Artifacts {
		byID[a.ID()] = len(r.Artifacts)
		a.Sums = slices.Clone(a.Sums)
		r.Artifacts = append(r.Artifacts, a)
	}
	for _, a := range online.Artifacts {
		if i, ok := byID[a.ID()]; ok {
			r.Artifacts[i].addSums(a.Sums...)
			continue
		}
		r.Artifacts = append(r.Artifacts, a)
	}
	sortArtifacts(r.Artifacts)
	return r
}
