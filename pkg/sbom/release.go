package sbom

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// ErrMismatch is returned when an SBOM lists nothing of the release it
// was fetched for. Test with errors.Is.
var ErrMismatch = errors.New("the SBOM does not describe this release")

// imageArches are the architecture suffixes of per-arch release images
// ("kube-apiserver-arm64").
var imageArches = []string{"amd64", "arm", "arm64", "ppc64le", "s390x", "386", "riscv64", "mips64le", "loong64"}

// platformTarballRE matches kubernetes-<role>-<os>-<arch>.tar.gz.
var platformTarballRE = regexp.MustCompile(`^kubernetes-(?:client|node|server|test)-([a-z0-9]+)-([a-z0-9]+)\.tar\.gz$`)

// Release returns release v as the SBOM lists it, with locations under
// loc, and catalog c's signing policy, dates and incidents (nil c: the
// embedded catalog). The SBOM lists per-architecture images
// ("kube-apiserver-amd64"); the multi-arch index each belongs to
// ("kube-apiserver") is added, since the release publishes it too. Images
// tagged with another version are ignored; an SBOM that lists nothing of
// v is an error wrapping ErrMismatch. Images are located in
// loc.Registry, whatever registry the SBOM names (older SBOMs name
// k8s.gcr.io), and files under loc.DownloadURL.
func (s *Document) Release(v artifacts.Version, loc artifacts.Locations, c *artifacts.Catalog) (*artifacts.Release, error) {
	if c == nil {
		c = artifacts.Embedded()
	}
	// krel names the document "Kubernetes Release vX" (kubernetes/release
	// pkg/anago/stage.go): one naming another release is not this release's, whatever its
	// files. Other names are not guessed at.
	if named, ok := strings.CutPrefix(s.Name, "Kubernetes Release "); ok && named != v.String() {
		return nil, fmt.Errorf("%w %s: it is the SBOM of %q", ErrMismatch, v, s.Name)
	}
	imageSigning, blobSigning := c.SigningPolicy(v)
	r := c.EmptyRelease(v, artifacts.SourceSBOM)
	seen := map[string]int{}
	add := func(a artifacts.Artifact) {
		if i, ok := seen[a.ID()]; ok {
			// The same file twice: keep the checksums either lists.
			r.Artifacts[i].AddSums(a.Sums...)
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
		a := artifacts.Artifact{Signer: artifacts.BlobSigner, Signing: blobSigning}
		a.AddSums(artifacts.Sum{Algorithm: "sha256", Hex: f.SHA256, Source: artifacts.SumSBOM}, artifacts.Sum{Algorithm: "sha512", Hex: f.SHA512, Source: artifacts.SumSBOM})
		if p, name, ok := binaryPath(f.Path); ok {
			a.Kind, a.Name, a.Platform, a.Location = artifacts.KindBinary, name, p, loc.BinaryURL(v, p, name)
		} else {
			a.Kind, a.Name, a.Location = artifacts.KindTarball, path.Base(f.Path), loc.TarballURL(v, path.Base(f.Path))
			if m := platformTarballRE.FindStringSubmatch(a.Name); m != nil {
				a.Platform = artifacts.Platform{OS: m[1], Arch: m[2]}
			}
		}
		add(a)
	}
	if len(r.Artifacts) == 0 {
		if len(otherTags) > 0 {
			return nil, fmt.Errorf("%w %s: it lists images tagged %s and no release files", ErrMismatch, v, strings.Join(otherTags, ", "))
		}
		return nil, fmt.Errorf("%w %s: it lists no release images or files (%d packages, %d files)", ErrMismatch, v, s.Packages, s.FileEntries)
	}
	slices.SortFunc(r.Artifacts, artifacts.Artifact.Compare)
	return r, nil
}

// imageArtifacts returns the artifact of an SBOM image and of the
// multi-arch index it belongs to. "kube-apiserver-arm64" is kube-apiserver
// for linux/arm64, "kube-proxy-windows-amd64" kube-proxy for
// windows/amd64; a name without an architecture suffix is an index.
func imageArtifacts(v artifacts.Version, img Image, loc artifacts.Locations) (image, index artifacts.Artifact) {
	dir, name := path.Split(img.Repository)
	p := artifacts.Platform{}
	for _, arch := range imageArches {
		if base, ok := strings.CutSuffix(name, "-"+arch); ok && base != "" {
			name, p = base, artifacts.Platform{OS: "linux", Arch: arch}
			if base, ok := strings.CutSuffix(name, "-windows"); ok && base != "" {
				name, p.OS = base, "windows"
			}
			break
		}
	}
	registry := strings.TrimRight(loc.Registry, "/")
	index = artifacts.Artifact{Kind: artifacts.KindImage, Name: name, Location: fmt.Sprintf("%s/%s%s:%s", registry, dir, name, v), Signer: artifacts.ImageSigner}
	image = artifacts.Artifact{Kind: artifacts.KindImage, Name: name, Platform: p, Location: fmt.Sprintf("%s/%s:%s", registry, img.Repository, v), Signer: artifacts.ImageSigner}
	return image, index
}

// firstSet returns a if it is set, else b.
func firstSet(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Diff returns the artifacts listed by only one of catalog and online
// (compared by ID), in artifact order.
func Diff(catalog, online *artifacts.Release) []artifacts.Difference {
	in := func(r *artifacts.Release) map[string]bool {
		m := map[string]bool{}
		for _, a := range r.Artifacts {
			m[a.ID()] = true
		}
		return m
	}
	inCatalog, inOnline := in(catalog), in(online)
	var ds []artifacts.Difference
	for _, a := range catalog.Artifacts {
		if !inOnline[a.ID()] && !(online.Source == artifacts.SourceSBOM && a.OmittedFromSBOM()) {
			ds = append(ds, artifacts.Difference{Artifact: a, OnlyIn: catalog.Source})
		}
	}
	for _, a := range online.Artifacts {
		if !inCatalog[a.ID()] {
			ds = append(ds, artifacts.Difference{Artifact: a, OnlyIn: online.Source})
		}
	}
	slices.SortStableFunc(ds, func(x, y artifacts.Difference) int { return x.Artifact.Compare(y.Artifact) })
	return ds
}

// Merge returns the union of catalog and online, two views of the same
// release: every artifact either lists, once — as the catalog describes
// it when it does, with the checksums of both. Use Diff to report what
// only one of them lists.
func Merge(catalog, online *artifacts.Release) *artifacts.Release {
	r := &artifacts.Release{Version: online.Version, Date: firstSet(catalog.Date, online.Date), Previous: catalog.Previous, Source: artifacts.SourceMerged, Incidents: catalog.Incidents, Catalog: catalog.Catalog}
	byID := map[string]int{}
	for _, a := range catalog.Artifacts {
		byID[a.ID()] = len(r.Artifacts)
		a.Sums = slices.Clone(a.Sums)
		r.Artifacts = append(r.Artifacts, a)
	}
	for _, a := range online.Artifacts {
		if i, ok := byID[a.ID()]; ok {
			r.Artifacts[i].AddSums(a.Sums...)
			continue
		}
		r.Artifacts = append(r.Artifacts, a)
	}
	slices.SortFunc(r.Artifacts, artifacts.Artifact.Compare)
	return r
}
