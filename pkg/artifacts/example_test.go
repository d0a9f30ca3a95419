package artifacts_test

import (
	"fmt"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

func ExampleCatalogRelease() {
	v, _ := artifacts.ParseVersion("v1.24.8")
	r, err := artifacts.CatalogRelease(v, artifacts.DefaultLocations)
	if err != nil {
		panic(err)
	}
	linuxAMD64 := []artifacts.Platform{{OS: "linux", Arch: "amd64"}}
	for _, a := range r.Filter([]artifacts.Kind{artifacts.KindImage}, linuxAMD64).Artifacts[:2] {
		fmt.Println(a.Location, a.Signer.SAN, a.Signing)
		for _, in := range r.IncidentsFor(a) {
			fmt.Println("  incident:", in.ID, in.Source)
		}
	}
	// Output:
	// registry.k8s.io/conformance:v1.24.8 krel-trust@k8s-releng-prod.iam.gserviceaccount.com expected
	//   incident: v1.24.8-wrong-identity https://github.com/kubernetes/release/issues/2789
	//   incident: registry-signatures-by-region https://github.com/kubernetes/registry.k8s.io/issues/187
	// registry.k8s.io/conformance-amd64:v1.24.8 krel-trust@k8s-releng-prod.iam.gserviceaccount.com expected
	//   incident: v1.24.8-wrong-identity https://github.com/kubernetes/release/issues/2789
	//   incident: registry-signatures-by-region https://github.com/kubernetes/registry.k8s.io/issues/187
}

func ExampleParseSBOM() {
	sbom := `SPDXVersion: SPDX-2.3
DocumentName: kubernetes-v1.24.17

PackageName: registry.k8s.io/kube-apiserver-arm64:v1.24.17
SPDXID: SPDXRef-Package-registry.k8s.io-kube-apiserver-arm64-v1.24.17

FileName: bin/linux/arm64/kubectl
SPDXID: SPDXRef-File-bin-linux-arm64-kubectl
FileChecksum: SHA256: 9d5a8e3cb7c1a4f5c3e96fe5dc4a3e5c6b70c4e4ff9c29a5b7a4c8f6a1d2e3f4
`
	s, err := artifacts.ParseSBOM(strings.NewReader(sbom))
	if err != nil {
		panic(err)
	}
	r, err := artifacts.ReleaseFromSBOM(artifacts.Version{Major: 1, Minor: 24, Patch: 17}, s, artifacts.DefaultLocations)
	if err != nil {
		panic(err)
	}
	for _, a := range r.Artifacts {
		fmt.Println(a.ID(), a.Location)
	}
	// Output:
	// binary kubectl linux/arm64 https://dl.k8s.io/release/v1.24.17/bin/linux/arm64/kubectl
	// image kube-apiserver registry.k8s.io/kube-apiserver:v1.24.17
	// image kube-apiserver linux/arm64 registry.k8s.io/kube-apiserver-arm64:v1.24.17
}
