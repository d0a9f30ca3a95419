package testworld

import (
	"fmt"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// buildSBOM writes a release's SBOM (SPDX 2.3 tag-value, in the shape of
// the one Kubernetes publishes) at <sbom-url>/<version>/release.
func (w *World) buildSBOM(rs *ReleaseState) {
	var b strings.Builder
	v := rs.Version.String()
	fmt.Fprintf(&b, "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n")
	fmt.Fprintf(&b, "DocumentName: kubernetes-%s\nDocumentNamespace: https://sbom.k8s.io/%s/release\n", v, v)
	fmt.Fprintf(&b, "Creator: Tool: bom-v0.5.1\nCreated: 2023-08-23T00:00:00Z\n\n")
	for _, a := range rs.Release.Artifacts {
		if a.Kind != artifacts.KindImage {
			continue
		}
		im, ok := rs.Images[ImageRepository(a)]
		if !ok {
			continue
		}
		ref := "registry.k8s.io/" + im.Repository + ":" + v
		id := "SPDXRef-Package-" + strings.NewReplacer("/", "-", ":", "-").Replace(ref)
		fmt.Fprintf(&b, "##### Package: %s\n\nPackageName: %s\nSPDXID: %s\nPackageDownloadLocation: NONE\nFilesAnalyzed: false\n", ref, ref, id)
		fmt.Fprintf(&b, "ExternalRef: PACKAGE-MANAGER purl pkg:oci/%s@%s?repository_url=registry.k8s.io&tag=%s\n\n", im.Repository, im.Digest, v)
	}
	for _, a := range rs.Release.Artifacts {
		if a.Kind == artifacts.KindImage {
			continue
		}
		f := rs.findFile(a)
		if f == nil {
			continue
		}
		id := "SPDXRef-File-" + strings.NewReplacer("/", "-", ".", "-").Replace(f.Path)
		fmt.Fprintf(&b, "FileName: %s\nSPDXID: %s\nFileChecksum: SHA256: %s\nFileChecksum: SHA512: %s\nLicenseConcluded: NOASSERTION\nLicenseInfoInFile: NOASSERTION\nFileCopyrightText: NOASSERTION\n\n", f.Path, id, f.SHA256, f.SHA512)
	}
	w.site["/sbom/"+v+"/release"] = []byte(b.String())
}

func (rs *ReleaseState) findFile(a artifacts.Artifact) *File {
	for _, f := range rs.Files {
		if f.Artifact.ID() == a.ID() {
			return f
		}
	}
	return nil
}
