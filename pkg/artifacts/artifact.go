// Package artifacts says what a Kubernetes release is made of: its version,
// its binaries, tarballs and images per platform, where each lives, and who
// must have signed it. The data for known release lines is embedded in the
// binary (the catalog); package sbom extends it, from the release SBOM, to
// any release online.
package artifacts

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is the kind of a release artifact.
type Kind string

// The kinds of artifact a release is made of.
const (
	KindBinary  Kind = "binary"
	KindTarball Kind = "tarball"
	KindImage   Kind = "image"
	// KindBlob is a file known by itself, outside any release (verify-blob).
	KindBlob Kind = "blob"
)

// Plural names artifacts of the kind: "binaries", "tarballs", "images".
func (k Kind) Plural() string {
	if k == KindBinary {
		return "binaries"
	}
	return string(k) + "s"
}

// Kinds lists every artifact kind in report order.
var Kinds = []Kind{KindBinary, KindTarball, KindImage}

// ParseKind parses "binary", "tarball" or "image".
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown kind %q (want one of binary, tarball, image)", s)
}

// Platform is an operating system and architecture, as in "linux/amd64".
// The zero Platform means "not platform specific" (source tarballs, indexes).
type Platform struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

// String returns "os/arch", or "" for the zero Platform.
func (p Platform) String() string {
	if p.OS == "" && p.Arch == "" {
		return ""
	}
	return p.OS + "/" + p.Arch
}

// IsZero reports whether p names no platform.
func (p Platform) IsZero() bool { return p.OS == "" && p.Arch == "" }

// Compare orders platforms by OS, then architecture; the zero Platform
// comes first.
func (p Platform) Compare(q Platform) int {
	if c := strings.Compare(p.OS, q.OS); c != 0 {
		return c
	}
	return strings.Compare(p.Arch, q.Arch)
}

// ParsePlatform parses "os/arch".
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	if !ok || os == "" || arch == "" || strings.Contains(arch, "/") {
		return Platform{}, fmt.Errorf("malformed platform %q (want os/arch, e.g. linux/amd64)", s)
	}
	return Platform{OS: os, Arch: arch}, nil
}

// Signing says whether a signature is expected for an artifact.
type Signing string

const (
	// SigningExpected: the release process signed this artifact.
	SigningExpected Signing = "expected"
	// SigningNotExpected: this release predates signing of this kind.
	SigningNotExpected Signing = "not-expected"
	// SigningProbe: it is not known; look for a signature and report what is found.
	SigningProbe Signing = "probe"
	// SigningNever: the release process never signs this file (e.g. the
	// .docker_tag files, which krel sign blobs skips).
	SigningNever Signing = "never"
)

// Identity is the keyless identity that must have signed an artifact:
// the certificate's subject alternative name and OIDC issuer.
type Identity struct {
	SAN    string `json:"san"`
	Issuer string `json:"issuer"`
}

// The release team's keyless identities (kubernetes.io "Verify Signed
// Kubernetes Artifacts"; KEP-3031).
var (
	// ImageSigner signs container images (krel-trust).
	ImageSigner = Identity{SAN: "krel-trust@k8s-releng-prod.iam.gserviceaccount.com", Issuer: GoogleIssuer}
	// BlobSigner signs binaries, tarballs and SBOMs (krel-staging).
	BlobSigner = Identity{SAN: "krel-staging@k8s-releng-prod.iam.gserviceaccount.com", Issuer: GoogleIssuer}
)

// GoogleIssuer is the OIDC issuer of Google service accounts.
const GoogleIssuer = "https://accounts.google.com"

// Artifact is one thing a release publishes.
type Artifact struct {
	Kind Kind `json:"kind"`
	// Name is the file name of a binary or tarball ("kubectl.exe",
	// "kubernetes-server-linux-amd64.tar.gz") or the image name without
	// registry, architecture suffix and tag ("kube-apiserver").
	Name string `json:"name"`
	// Platform is the platform the artifact is built for; zero for
	// platform-independent tarballs and for multi-arch image indexes.
	Platform Platform `json:"platform,omitzero"`
	// Location is the download URL of a binary or tarball, or the image
	// reference (registry/name:tag) of an image.
	Location string `json:"location"`
	// Signer is the identity that must have signed the artifact.
	Signer Identity `json:"signer"`
	// Signing says whether a signature is expected in this release, and
	// SigningNote why (for SigningNever).
	Signing     Signing `json:"signing"`
	SigningNote string  `json:"signingNote,omitempty"`
	// Sums are the file checksums release documents publish for a binary
	// or tarball: the release SBOM's, and the CHANGELOG's embedded in the
	// catalog. A verdict requires the file served to match every one.
	Sums []Sum `json:"sums,omitempty"`
	// Unbound are the channels that could have given a sum and did not,
	// and why (a CHANGELOG or promoter's manifest that could not be read).
	Unbound []Unbound `json:"unbound,omitempty"`
}

// Where a Sum was published.
const (
	// SumSBOM: the release SBOM's file checksums.
	SumSBOM = "sbom"
	// SumCatalog: the release CHANGELOG's checksums, embedded in the catalog.
	SumCatalog = "catalog"
)

// Independent reports whether a sum's source is a channel independent of
// the download site and the registry that a served file must match
// (the CHANGELOG's sums, embedded or read, and the promoter's digests).
func (s Sum) Independent() bool {
	return s.Source == SumCatalog || s.Source == SumChangelog || s.Source == SumPromoter
}

// Sum is a checksum of a file that a release document publishes.
type Sum struct {
	// Algorithm is "sha256" or "sha512"; Hex the lower-case digest.
	Algorithm string `json:"algorithm"`
	Hex       string `json:"hex"`
	// Source is SumSBOM, SumCatalog, SumChangelog or SumPromoter.
	Source string `json:"source"`
}

// Sum returns the artifact's checksum of algorithm alg, preferring source
// when it has several; "" when none is known.
func (a Artifact) Sum(alg, source string) string {
	found := ""
	for _, s := range a.Sums {
		if s.Algorithm != alg {
			continue
		}
		if s.Source == source {
			return s.Hex
		}
		if found == "" {
			found = s.Hex
		}
	}
	return found
}

// SumFrom returns the artifact's checksum of algorithm alg from source
// only; "" when that source gives none.
func (a Artifact) SumFrom(alg, source string) string {
	for _, s := range a.Sums {
		if s.Algorithm == alg && s.Source == source {
			return s.Hex
		}
	}
	return ""
}

// AddSums adds sums, each once (a sum already listed is not repeated).
func (a *Artifact) AddSums(sums ...Sum) {
	for _, s := range sums {
		if s.Hex != "" && !slices.Contains(a.Sums, s) {
			a.Sums = append(a.Sums, s)
		}
	}
}

// OmittedFromSBOM reports whether the release SBOM leaves an artifact
// out by design: krel lists the build's binaries without the image
// archives (.tar) and their .docker_tag files (kubernetes/release
// pkg/anago/stage.go, ListBuildBinaries), and its image packages are the
// image archives of the server tarballs, which the conformance image is
// not (kubernetes/kubernetes build/lib/release.sh builds it apart).
func (a Artifact) OmittedFromSBOM() bool {
	switch a.Kind {
	case KindBinary:
		return strings.HasSuffix(a.Name, ".tar") || strings.HasSuffix(a.Name, ".docker_tag")
	case KindImage:
		return a.Name == "conformance"
	}
	return false
}

// ID names the artifact uniquely within its release, e.g.
// "binary kubectl linux/amd64", "image kube-apiserver linux/arm64" or, for
// a multi-arch index, "image kube-apiserver".
func (a Artifact) ID() string {
	s := string(a.Kind) + " " + a.Name
	if !a.Platform.IsZero() {
		s += " " + a.Platform.String()
	}
	return s
}

// SplitImageReference splits an image reference registry/name[:tag][@digest]
// into its repository, tag and digest ("" when absent); a registry's port
// is not a tag. It checks nothing: references are parsed (and refused)
// where they are fetched.
func SplitImageReference(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}
