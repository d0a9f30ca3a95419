package testworld

import (
	"crypto/sha256"
	"strings"
	"time"
)

// What the promoter wrote in the simple-signing payloads it signed, era
// by era, with the public sources.
var (
	// KubernetesPrefixUntil ends the days kpromo v4.0.2 ran: rolled out on
	// 2023-06-20 (kubernetes/test-infra#29861), it signed the root
	// Kubernetes images as registry.k8s.io/kubernetes/<name>
	// (kubernetes-sigs/promo-tools#935) until v4.0.3 fixed it, rolled out
	// on 2023-06-21 (kubernetes-sigs/promo-tools#937,
	// kubernetes/test-infra#29892). No 1.24 release was promoted in those
	// days; the form exists for any release that was.
	KubernetesPrefixUntil = time.Date(2023, 6, 21, 12, 0, 0, 0, time.UTC)
	// KpromoVersionSince: promo-tools#797 (2023-03-28) replaced the
	// optional annotation org.kubernetes.kpromo.mirrors (the mirrors an
	// image was promoted to, comma joined) with org.kubernetes.kpromo.version.
	KpromoVersionSince = time.Date(2023, 3, 28, 0, 0, 0, 0, time.UTC)
)

// ArtifactRegistryRegions are regions of the Artifact Registry backends
// behind registry.k8s.io that real payloads named: asia-northeast2 (the
// Kubernetes blog "Verifying Container Image Signatures Within CRI
// Runtimes", 2023-06-29, for v1.28.0-alpha.2), us-west2 (the "real-world
// example" of promo-tools' targetIdentity test), us-central1 (the
// canonical backend, promo-tools' sigcheck), europe-west1. There are more;
// the client accepts any.
var ArtifactRegistryRegions = []string{"asia-northeast2", "europe-west1", "us-central1", "us-west2"}

// backendPath is the path of release images in each regional backend.
const backendPath = "-docker.pkg.dev/k8s-artifacts-prod/images/kubernetes"

// BackendOf is the regional Artifact Registry of a region.
func BackendOf(region string) string { return region + backendPath }

// signedReference is the docker-reference the promoter signed for repo at
// t: before promo-tools#928 (PublicReferenceSince) a regional backend, the
// one the promoter happened to sign at (which one is not public; the world
// picks one per repository and digest); while kpromo v4.0.2 ran,
// registry.k8s.io/kubernetes/<name>; after, registry.k8s.io/<name>.
func signedReference(repo, digest string, t time.Time) string {
	switch {
	case t.Before(PublicReferenceSince):
		sum := sha256.Sum256([]byte(repo + "@" + digest))
		return BackendOf(ArtifactRegistryRegions[int(sum[0])%len(ArtifactRegistryRegions)]) + "/" + repo
	case t.Before(KubernetesPrefixUntil):
		return PublicRegistry + "/kubernetes/" + repo
	}
	return PublicRegistry + "/" + repo
}

// kpromoAnnotations are the optional annotations of a payload the
// promoter signed at t naming reference. The exact values are not public
// in the sources above: the world writes, before promo-tools#797, the
// image in every region but the signed one (comma joined), and after it
// the promoter release of the time.
func kpromoAnnotations(reference string, t time.Time) map[string]any {
	if !t.Before(KpromoVersionSince) {
		return map[string]any{"org.kubernetes.kpromo.version": promoterVersionAt(t)}
	}
	name := reference[strings.LastIndex(reference, "/")+1:]
	var mirrors []string
	for _, r := range ArtifactRegistryRegions {
		if m := BackendOf(r) + "/" + name; m != reference {
			mirrors = append(mirrors, m)
		}
	}
	return map[string]any{"org.kubernetes.kpromo.mirrors": strings.Join(mirrors, ",")}
}

// promoterVersionAt is the promo-tools release that promoted at t, as far
// as its release issues date them (v3.6.0 with recursive signing, v4.0.2
// rolled out 2023-06-20, v4.0.3 2023-06-21, v4.0.4 2023-06-22:
// kubernetes-sigs/promo-tools#876, #937, #941); before v3.6.0 a v3.5
// release (which patch is not settled: the world writes v3.5.1).
func promoterVersionAt(t time.Time) string {
	switch {
	case t.Before(RecursiveSigningSince):
		return "v3.5.1"
	case t.Before(PublicReferenceSince):
		return "v3.6.0"
	case t.Before(KubernetesPrefixUntil):
		return "v4.0.2"
	}
	return "v4.0.4"
}
