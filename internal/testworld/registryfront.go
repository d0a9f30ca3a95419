package testworld

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// registryFront is the world's registry as clients see it, modelled on
// registry.k8s.io, which is a redirector (kubernetes/registry.k8s.io
// cmd/archeio, docs/request-handling.md): it answers /v2/ itself and
// redirects manifest requests to a region-specific Artifact Registry
// upstream and layers to a copy in object storage, on other hosts under
// other paths (the repository k8s-artifacts-prod/images; storage's
// containers/images). Its edge answers the OCI referrers API 404
// (kubernetes-sigs/promo-tools#1945). A regional backend can lack a
// signature manifest that the canonical one has: fetched by digest there,
// it answers MANIFEST_UNKNOWN (kubernetes/registry.k8s.io#324, #187).
// Which upstream got which request changed over the years (archeio now
// falls back to a signature upstream for content missing regionally); the
// world sends tags to the canonical backend and digests to a regional
// one, the layout in which a lost signature manifest shows. Writes (the
// world's own pushes, and tests') go to the origin as they are.
type registryFront struct {
	origin http.Handler
	// canonical, regional and storage are the backends' base URLs.
	canonical, regional, storage string
	referrers                    bool // the edge passes the referrers API through

	mu   sync.RWMutex
	lost map[string]bool // "<repo>@<digest>" of .sig manifests the regional backend lacks
}

// Paths of the backends: the Artifact Registry repository behind
// registry.k8s.io and the object storage's layer path.
const (
	backendPrefix = "/v2/k8s-artifacts-prod/images/"
	storagePrefix = "/containers/images/"
)

func (f *registryFront) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		f.origin.ServeHTTP(rw, r)
		return
	}
	p := r.URL.Path
	_, ref, manifest := strings.Cut(p, "/manifests/")
	_, blob, isBlob := strings.Cut(p, "/blobs/")
	switch {
	case strings.Contains(p, "/referrers/") && !f.referrers:
		ociError(rw, http.StatusNotFound, "NOT_FOUND", "referrers API not served at the edge")
	case manifest && strings.HasPrefix(ref, "sha256:"):
		http.Redirect(rw, r, f.regional+backendPrefix+strings.TrimPrefix(p, "/v2/"), http.StatusTemporaryRedirect)
	case manifest:
		http.Redirect(rw, r, f.canonical+backendPrefix+strings.TrimPrefix(p, "/v2/"), http.StatusTemporaryRedirect)
	case isBlob && !strings.HasPrefix(blob, "uploads"):
		http.Redirect(rw, r, f.storage+storagePrefix+blob, http.StatusTemporaryRedirect)
	default:
		f.origin.ServeHTTP(rw, r)
	}
}

// backend serves the origin's repositories below backendPrefix; regional,
// it lacks the lost signature manifests.
func (f *registryFront) backend(regional bool) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, backendPrefix)
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			ociError(rw, http.StatusNotFound, "NAME_UNKNOWN", "no such repository")
			return
		}
		if repo, ref, ok := strings.Cut(rest, "/manifests/"); ok && regional && f.isLost(repo, ref) {
			ociError(rw, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/v2/" + rest
		r2.RequestURI = ""
		f.origin.ServeHTTP(rw, r2)
	})
}

// storageHandler serves layers by digest, whatever the repository.
func (f *registryFront) storageHandler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		digest, ok := strings.CutPrefix(r.URL.Path, storagePrefix)
		if !ok || strings.Contains(digest, "/") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(rw, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/v2/storage/blobs/" + digest
		r2.RequestURI = ""
		f.origin.ServeHTTP(rw, r2)
	})
}

func (f *registryFront) lose(repo, digest string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost == nil {
		f.lost = map[string]bool{}
	}
	f.lost[repo+"@"+digest] = true
}

func (f *registryFront) isLost(repo, digest string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.lost[repo+"@"+digest]
}

// ociError answers as a distribution registry does.
func ociError(rw http.ResponseWriter, status int, code, message string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	fmt.Fprintf(rw, `{"errors":[{"code":%q,"message":%q}]}`, code, message)
}
