package sbom_test

import (
	"fmt"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sbom"
)

func ExampleParse() {
	doc := `SPDXVersion: SPDX-2.3
DocumentName: kubernetes-v1.24.17

PackageName: registry.k8s.io/kube-apiserver-arm64:v1.24.17
SPDXID: SPDXRef-Package-registry.k8s.io-kube-apiserver-arm64-v1.24.17

FileName: bin/linux/arm64/kubectl
SPDXID: SPDXRef-File-bin-linux-arm64-kubectl
FileChecksum: SHA256: 9d5a8e3cb7c1a4f5c3e96fe5dc4a3e5c6b70c4e4ff9c29a5b7a4c8f6a1d2e3f4
`
	s, err := sbom.Parse(strings.NewReader(doc))
	if err != nil {
		panic(err)
	}
	r, err := s.Release(artifacts.Version{Major: 1, Minor: 24, Patch: 17}, artifacts.DefaultLocations, nil)
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
