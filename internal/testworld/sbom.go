package testworld

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// buildSBOM writes a release's SBOM at <sbom-url>/<version>/release in
// the shape bom writes it as krel runs it (kubernetes/release
// pkg/anago/stage.go GenerateVersionArtifactsBOM; kubernetes-sigs/bom
// tag-value templates): SPDX tag-value (2.2 or 2.3: spdxVersionOf),
// document "Kubernetes Release
// vX"; a File per binary (bin/<os>/<arch>/<name>, SPDXIDs from the build
// paths) and per tarball, with SHA1, SHA256 and SHA512, except the .tar
// and .docker_tag files, which krel leaves out by design; a Package per
// image tarball, named by its file (kube-apiserver.tar) with the SPDXID
// of its docker tag (the 1.24 build scripts still tagged k8s.gcr.io),
// checksums of the tar, no digest of the image, each layer a package
// CONTAINed in it. The conformance image is no server-tarball image.
func (w *World) buildSBOM(rs *ReleaseState) {
	var b strings.Builder
	v := rs.Version.String()
	src := sha1.Sum([]byte("source SBOM " + v))
	spdx, tool := spdxVersionOf(rs.Release)
	fmt.Fprintf(&b, "SPDXVersion: %s\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n", spdx)
	fmt.Fprintf(&b, "DocumentName: Kubernetes Release %s\nDocumentNamespace: https://sbom.k8s.io/%s/release\n", v, v)
	fmt.Fprintf(&b, "ExternalDocumentRef:DocumentRef-kubernetes-%s https://sbom.k8s.io/%s/source SHA1: %x\n", v, v, src)
	fmt.Fprintf(&b, "Creator: Organization: Kubernetes Release Engineering\nCreator: Tool: %s\nLicenseListVersion: 3.20\n", tool)
	fmt.Fprintf(&b, "Created: %sT14:03:27Z\n\n\n\n##### Files independent of packages\n\n", rs.Release.Date)
	var described []string
	for _, a := range rs.Release.Artifacts {
		f := rs.findFile(a)
		if f == nil || strings.HasSuffix(a.Name, ".tar") || strings.HasSuffix(a.Name, ".docker_tag") || w.channelFault(rs, f.Path) == FaultSBOMOmits {
			continue
		}
		id := spdxID("SPDXRef-File-", buildPath(v, f))
		s1 := sha1.Sum(f.Content)
		fileType := "FileType: BINARY\nFileType: APPLICATION\n"
		if a.Kind == artifacts.KindTarball {
			fileType = "FileType: OTHER\n"
		}
		fmt.Fprintf(&b, "FileName: %s\nSPDXID: %s\nFileChecksum: SHA1: %x\nFileChecksum: SHA256: %s\nFileChecksum: SHA512: %s\n%sLicenseConcluded: Apache-2.0\nLicenseInfoInFile: NOASSERTION\nFileCopyrightText: NOASSERTION\n\n",
			f.Path, id, s1, f.SHA256, f.SHA512, fileType)
		described = append(described, id)
	}
	fmt.Fprintln(&b)
	for _, id := range described {
		fmt.Fprintf(&b, "Relationship: SPDXRef-DOCUMENT DESCRIBES %s\n\n", id)
	}
	for _, a := range rs.Release.Artifacts {
		if a.Kind != artifacts.KindImage || a.Platform.IsZero() || a.Name == "conformance" {
			continue
		}
		if _, ok := rs.Images[ImageRepository(a)]; ok {
			imageTarPackage(&b, v, a)
		}
	}
	w.site["/sbom/"+v+"/release"] = []byte(b.String())
}

// SPDX23Since: bom writes SPDX 2.3 from kubernetes-sigs/bom commit
// 8ea1ad8 (2022-08-26), SPDX 2.2 before. When krel picked that bom up is
// not public; the world writes 2.2 for releases cut before the commit
// (v1.24.0 to v1.24.4) and 2.3 after, and the client reads both.
var SPDX23Since = time.Date(2022, 8, 26, 0, 0, 0, 0, time.UTC)

// spdxVersionOf is the SPDX version and the bom release of a release's
// SBOM (the bom versions are the likeliest of their time, not public
// facts).
func spdxVersionOf(r *artifacts.Release) (spdx, tool string) {
	if BlobsSignedAt(r).Before(SPDX23Since) {
		return "SPDX-2.2", "bom-v0.3.0"
	}
	return "SPDX-2.3", "bom-v0.15.1"
}

// imageTarPackage writes the package of an image tarball and of its layer.
func imageTarPackage(b io.Writer, v string, a artifacts.Artifact) {
	tag := "k8s.gcr.io/" + ImageRepository(a) + ":" + v
	id := spdxID("SPDXRef-Package-", tag)
	content := []byte(tag + " image tarball")
	s1, s256, s512 := sha1.Sum(content), sha256.Sum256(content), sha512.Sum512(content)
	fmt.Fprintf(b, "##### Package: %s.tar\n\nPackageName: %s.tar\nSPDXID: %s\nPackageChecksum: SHA1: %x\nPackageChecksum: SHA256: %x\nPackageChecksum: SHA512: %x\n", a.Name, a.Name, id, s1, s256, s512)
	fmt.Fprintf(b, "PackageDownloadLocation: NONE\nFilesAnalyzed: false\nPackageLicenseConcluded: NOASSERTION\nPackageFileName: /workspace/src/k8s.io/kubernetes/_output-%s/release-images/%s/%s.tar\nPackageLicenseDeclared: NOASSERTION\nPackageCopyrightText: NOASSERTION\n\n", v, a.Platform.Arch, a.Name)
	layer := sha256.Sum256(append(content, " layer"...))
	lid := fmt.Sprintf("%s-sha256-%x", id, layer)
	fmt.Fprintf(b, "##### Package: sha256:%x\n\nPackageName: sha256:%x\nSPDXID: %s\nPackageChecksum: SHA256: %x\nPackageDownloadLocation: NONE\nFilesAnalyzed: false\nPackageLicenseConcluded: NOASSERTION\nPackageLicenseDeclared: NOASSERTION\nPackageCopyrightText: NOASSERTION\n\n\n", layer, layer, lid, layer)
	fmt.Fprintf(b, "Relationship: %s CONTAINS %s\n", id, lid)
	fmt.Fprintf(b, "Relationship: %s GENERATED_FROM DocumentRef-kubernetes-%s:SPDXRef-Package-kubernetes\n\n", id, v)
}

// buildPath is where krel's build had a file, from which bom derives its
// SPDXID.
func buildPath(v string, f *File) string {
	out := "/workspace/src/k8s.io/kubernetes/_output-" + v
	if f.Artifact.Kind == artifacts.KindTarball {
		return out + "/release-tars/" + f.Path
	}
	p := f.Artifact.Platform
	return fmt.Sprintf("%s/release-stage/server/%s-%s/kubernetes/server/bin/%s", out, p.OS, p.Arch, f.Artifact.Name)
}

// spdxID sanitizes a name into an SPDXID as bom does: "/" and ":" become
// "-", "." stays, any other character not a letter or digit becomes
// C<code point>.
func spdxID(prefix, name string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range strings.TrimPrefix(name, "/") {
		switch {
		case r == '/' || r == ':':
			b.WriteByte('-')
		case r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "C%d", r)
		}
	}
	return b.String()
}

func (rs *ReleaseState) findFile(a artifacts.Artifact) *File {
	for _, f := range rs.Files {
		if f.Artifact.ID() == a.ID() {
			return f
		}
	}
	return nil
}
