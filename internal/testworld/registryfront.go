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
	// canonical, regional and storage are the backends' base URLs;
	// relocated is where moved repositories' manifests go (MoveRepository).
	canonical, regional, storage, relocated string
	referrers                               bool // the edge passes the referrers API through
	// rid is the trace id archeio appends to every redirect's location
	// (handlers.go withTraceID: ?rid=<id>): one for the world, as archeio
	// keeps one for a pull session that presents its token.
	rid string

	mu    sync.RWMutex
	lost  map[string]bool // "<repo>@<digest>" of .sig manifests the regional backend lacks
	moved map[string]bool // repositories moved to the relocated backend
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
	repo, _, _ := strings.Cut(strings.TrimPrefix(p, "/v2/"), "/manifests/")
	switch {
	case strings.Contains(p, "/referrers/") && !f.referrers:
		ociError(rw, http.StatusNotFound, "NOT_FOUND", "referrers API not served at the edge")
	case manifest && f.isMoved(repo):
		f.redirect(rw, r, f.relocated+backendPrefix+strings.TrimPrefix(p, "/v2/"))
	case manifest && strings.HasPrefix(ref, "sha256:"):
		f.redirect(rw, r, f.regional+backendPrefix+strings.TrimPrefix(p, "/v2/"))
	case manifest:
		f.redirect(rw, r, f.canonical+backendPrefix+strings.TrimPrefix(p, "/v2/"))
	case isBlob && !strings.HasPrefix(blob, "uploads"):
		f.redirect(rw, r, f.storage+storagePrefix+blob)
	default:
		f.origin.ServeHTTP(rw, r)
	}
}

// RegistryPath is the path of a request to the world's registry in its
// front's terms (/v2/<repository>/...), whether it reached the front or a
// backend; object storage's paths (/containers/images/<digest>) name no
// repository and stay as they are.
func RegistryPath(p string) string {
	if rest, ok := strings.CutPrefix(p, backendPrefix); ok {
		return "/v2/" + rest
	}
	return p
}

// redirect answers r with a redirect to location, the trace id appended.
func (f *registryFront) redirect(rw http.ResponseWriter, r *http.Request, location string) {
	http.Redirect(rw, r, location+"?rid="+f.rid, http.StatusTemporaryRedirect)
}

// backend serves the origin's repositories below backendPrefix; regional,
// it lacks the lost signature manifests; relocated, it serves the moved
// repositories, which the others answer 500 for.
func (f *registryFront) backend(regional, relocated bool) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, backendPrefix)
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			ociError(rw, http.StatusNotFound, "NAME_UNKNOWN", "no such repository")
			return
		}
		repo, ref, isManifest := strings.Cut(rest, "/manifests/")
		if isManifest && !relocated && f.isMoved(repo) {
			ociError(rw, http.StatusInternalServerError, "UNAVAILABLE", "repository moved")
			return
		}
		if isManifest && regional && f.isLost(repo, ref) {
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

func (f *registryFront) isMoved(repo string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.moved[repo]
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
