package artifacts_test

import (
	"fmt"

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
