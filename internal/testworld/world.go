package testworld

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Identities the world signs with besides the release team's.
const (
	// PromoterIdentity signed v1.24.8's images (kubernetes/release#2789).
	PromoterIdentity = "k8s-infra-gcr-promoter@k8s-artifacts-prod.iam.gserviceaccount.com"
	// ForeignIdentity is an attacker's identity at the right issuer.
	ForeignIdentity = "attacker@evil-project.iam.gserviceaccount.com"
	// ForeignIssuer is another OIDC issuer.
	ForeignIssuer = "https://token.actions.githubusercontent.com"
)

// Options shape a world.
type Options struct {
	// Version of the release; default v1.24.17. Any version of the
	// catalog, of any line; several, comma separated ("v1.36.0,v1.24.17"),
	// and lines ("1.33": every patch release of it; "1.24,1.36") build one
	// world (one Sigstore, one log, one registry) publishing them all, each
	// laid out per its line. Faults apply to the newest.
	Version string
	// Kinds and Platforms restrict the release (default: all of it).
	Kinds     []artifacts.Kind
	Platforms []artifacts.Platform
	// Small restricts the release to linux/amd64 and linux/arm64 files and
	// the kube-apiserver and kube-proxy images: a quick world for unit tests.
	Small bool
	// FileSize is the size of each binary and tarball (default 1 KiB).
	FileSize int
	// ImageLayerSize is the size of each of an image's two layers
	// (default 512 bytes).
	ImageLayerSize int64
	// Latency is added to every HTTP request, to imitate a wide-area network.
	Latency time.Duration
	// TLSDir, when set, serves every endpoint over HTTPS (HTTP/2 where the
	// client offers it) with the TLS material in TLSDir (created there if
	// absent: EnsureTLS): clients trust it through SSL_CERT_FILE, as the
	// world's env says. An external Registry must serve it too.
	TLSDir string
	// MaxStreams, with TLSDir, is the concurrent HTTP/2 streams per
	// connection every endpoint allows (0: Go's default, 250; RFC 9113
	// section 5.1.2 recommends at least 100).
	MaxStreams int
	// NoSBOM publishes no release SBOM (sbom.k8s.io answering 404): the
	// client then lists the release from its catalog alone.
	NoSBOM bool
	// NoImageDigests leaves the image digests out of the world's catalog
	// (as for a release newer than the catalog): images are then bound by
	// their signatures, configurations and index alone.
	NoImageDigests bool
	// ReferrersAPI serves the OCI referrers API from the in-process
	// registry. Without it the registry answers referrers requests 404, as
	// distribution's registry does, and clients read the referrers tag
	// instead. Whether registry.k8s.io's backends serve the API is not
	// documented; clients must work either way.
	ReferrersAPI bool
	// Faults to inject.
	Faults []Fault
	// Dir receives trusted_root.json, world.json and env; default a new
	// temporary directory, removed by Close.
	Dir string
	// Registry, when set, is a registry already running on loopback
	// (host:port, plain http; e.g. distribution's registry process) to push
	// the release to, instead of the in-process one. Latency and HTTP
	// faults do not apply to it.
	Registry string
}

// World is a complete signed Kubernetes release on loopback.
type World struct {
	// Version, Release, Files and Images are the newest release's (the
	// one faults apply to); Releases holds every release of the world.
	Version  artifacts.Version
	Release  *artifacts.Release
	Releases []*ReleaseState
	// DownloadURL, SBOMURL and RekorURL are http://127.0.0.1:port URLs;
	// Registry is 127.0.0.1:port. The download site redirects release
	// files to CDNURL, as dl.k8s.io redirects to cdn.dl.k8s.io.
	DownloadURL, SBOMURL, RekorURL, Registry, CDNURL string
	// ChannelsURL is the raw-file host of kubernetes/kubernetes and
	// kubernetes/k8s.io: every line's CHANGELOG and the promoter's
	// images.yaml (channels.go).
	ChannelsURL string
	Dir         string
	// TrustedRootPath is the world's trusted_root.json.
	TrustedRootPath string
	// TLS is the world's TLS material when it serves HTTPS.
	TLS *TLS
	// maxStreams is Options.MaxStreams.
	maxStreams int
	// Catalog is the world's release catalog: the embedded one with the
	// world's own tarball sums in place of the CHANGELOG's (its files are
	// random); CatalogPath is its file (K8SVERIFY_CATALOG).
	Catalog     *artifacts.Catalog
	CatalogPath string
	Sigstore    *Sigstore
	Rekor       *RekorServer
	// Files are the release files by path below /release/<version>/.
	Files map[string]*File
	// Images by repository: "kube-apiserver" (index), "kube-apiserver-amd64".
	Images map[string]*Image
	Faults []Fault
	// TUF is a TUF repository distributing the trusted root, served at
	// TUF.URL; its TUF root is TUF.Root (also DIR/tuf-root.json).
	TUF *TUFRepo
	// TSA is the world's timestamp authority, in its trusted root, for
	// bundles with RFC 3161 timestamps (Sigstore.MessageSignatureBundle).
	TSA *TimestampAuthority

	foreign          *Sigstore
	front            *registryFront // nil with an external registry
	late             *signatureSet  // signatures held back by FaultSignedLate
	externalRegistry bool
	trustedRootJSON  []byte
	site             map[string][]byte
	channelDocs      map[string][]byte
	channelsOff      bool
	siteMu           sync.RWMutex
	servers          []*http.Server
	faultsBy         map[string]FaultKind
	httpF            map[string]*httpFaults
	transport        http.RoundTripper
	tempDir          bool
}

// File is a release file and its published side files.
type File struct {
	Artifact  artifacts.Artifact
	Path      string // below /release/<version>/
	Content   []byte // the genuine content
	SHA256    string
	SHA512    string
	Signature *Signature // nil when unsigned
}

// Start builds and serves a world. Close it when done.
func Start(ctx context.Context, o Options) (_ *World, err error) {
	if o.Version == "" {
		o.Version = "v1.24.17"
	}
	if o.FileSize <= 0 {
		o.FileSize = 1024
	}
	if o.ImageLayerSize <= 0 {
		o.ImageLayerSize = 512
	}
	versions, err := parseVersions(o.Version)
	if err != nil {
		return nil, err
	}
	if versions, err = withRollbackSource(versions, o.Faults); err != nil {
		return nil, err
	}
	w := &World{Version: versions[len(versions)-1], Faults: o.Faults,
		site: map[string][]byte{}, faultsBy: map[string]FaultKind{}, httpF: map[string]*httpFaults{}}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if err := w.setupDir(o.Dir); err != nil {
		return nil, err
	}
	if err := w.startServers(o); err != nil {
		return nil, err
	}
	if err := w.startChannels(); err != nil {
		return nil, err
	}
	for _, f := range o.Faults {
		w.faultsBy[f.Target] = f.Kind
	}
	for i, v := range versions {
		if err := w.buildRelease(ctx, o, v, i == len(versions)-1); err != nil {
			return nil, err
		}
	}
	// From here on, entries go to the active shard, as they do today.
	w.Sigstore.Log.Rotate()
	if err := w.buildCatalog(o); err != nil {
		return nil, err
	}
	for _, rs := range w.Releases {
		if !o.NoSBOM {
			w.buildSBOM(rs)
		}
	}
	w.buildChannels()
	for _, rs := range w.Releases { // ascending: each line's newest last
		w.site["/release/stable-"+rs.Version.Line()+".txt"] = []byte(rs.Version.String() + "\n")
	}
	newest := w.Version.String()
	w.site["/release/stable.txt"] = []byte(newest + "\n")
	if err := w.checkFaultTargets(); err != nil {
		return nil, err
	}
	if err := w.applySubstitutions(ctx); err != nil {
		return nil, err
	}
	if err := w.applyLogCopies(); err != nil {
		return nil, err
	}
	if err := w.loseSignatures(ctx); err != nil {
		return nil, err
	}
	if err := w.installHTTPFaults(); err != nil {
		return nil, err
	}
	w.Rekor.Warm()
	// The wide-area latency applies once the world is built, and requests
	// are counted from then on.
	for _, h := range w.httpF {
		h.setLatency(o.Latency)
	}
	w.ResetRequests()
	if err := w.buildTUF(); err != nil {
		return nil, err
	}
	if err := w.writeFiles(); err != nil {
		return nil, err
	}
	return w, nil
}

// parseVersions parses Options.Version: versions and lines of the
// catalog ("1.33": every patch release of it), comma separated.
func parseVersions(s string) ([]artifacts.Version, error) {
	var vs []artifacts.Version
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if line, ok := artifacts.ParseLine(part); ok {
			n := len(vs)
			for _, v := range artifacts.CatalogVersions() {
				if v.Line() == line {
					vs = append(vs, v)
				}
			}
			if len(vs) == n {
				return nil, fmt.Errorf("the catalog knows no release of line %s", line)
			}
			continue
		}
		v, err := artifacts.ParseVersion(part)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	slices.SortFunc(vs, artifacts.Version.Compare)
	return slices.Compact(vs), nil
}

// withRollbackSource adds the release before the newest when a rollback
// fault needs it.
func withRollbackSource(vs []artifacts.Version, faults []Fault) ([]artifacts.Version, error) {
	if !slices.ContainsFunc(faults, func(f Fault) bool { return f.Kind == FaultRollback }) {
		return vs, nil
	}
	newest := vs[len(vs)-1]
	var prev *artifacts.Version
	for _, v := range artifacts.CatalogVersions() {
		if v.Less(newest) {
			prev = &v
		}
	}
	if prev == nil {
		return nil, fmt.Errorf("rollback: the catalog has no release before %s", newest)
	}
	if !slices.Contains(vs, *prev) {
		vs = append([]artifacts.Version{*prev}, vs...)
	}
	return vs, nil
}

// startServers starts the download site, the registry (or uses an
// external one), Rekor, and the world's Sigstore.
func (w *World) startServers(o Options) error {
	w.transport = http.DefaultTransport
	if o.TLSDir != "" {
		var err error
		w.maxStreams = o.MaxStreams
		if w.TLS, err = EnsureTLS(o.TLSDir); err != nil {
			return err
		}
		w.transport = w.TLS.Transport()
	}
	// dl.k8s.io redirects to cdn.dl.k8s.io (kubernetes/k8s.io
	// apps/k8s-io/configmap-nginx.yaml: rewrite ... redirect): the world's
	// download site too, to its CDN, which serves the files; some
	// redirects carry a query, as signed URLs of a CDN or mirror do.
	cdnH := &httpFaults{next: http.HandlerFunc(w.serveCDN)}
	cdnURL, err := w.serve(cdnH)
	if err != nil {
		return err
	}
	w.CDNURL = cdnURL
	siteH := &httpFaults{next: http.HandlerFunc(w.serveDownloadSite)}
	origin := registry.New(registry.Logger(discardLogger()), registry.WithReferrersSupport(o.ReferrersAPI))
	regH := &httpFaults{next: origin}
	w.httpF["site"], w.httpF["cdn"], w.httpF["registry"] = siteH, cdnH, regH
	siteURL, err := w.serve(siteH)
	if err != nil {
		return err
	}
	regURL := "http://" + o.Registry
	if w.TLS != nil {
		regURL = "https://" + o.Registry
	}
	if o.Registry == "" {
		if err := w.startRegistryFront(origin, regH, o); err != nil {
			return err
		}
		if regURL, err = w.serve(regH); err != nil {
			return err
		}
	} else if host, _, err := net.SplitHostPort(o.Registry); err != nil || !isLoopback(host) {
		return fmt.Errorf("registry %q: want host:port on loopback", o.Registry)
	} else {
		w.externalRegistry = true
	}
	rekorH := &httpFaults{}
	w.httpF["rekor"] = rekorH
	rekorURL, err := w.serve(rekorH)
	if err != nil {
		return err
	}
	w.DownloadURL, w.SBOMURL, w.RekorURL = siteURL, siteURL+"/sbom", rekorURL
	w.Registry = strings.TrimPrefix(strings.TrimPrefix(regURL, "http://"), "https://")
	if w.Sigstore, err = NewSigstore(rekorURL); err != nil {
		return err
	}
	if w.foreign, err = NewSigstore(rekorURL); err != nil {
		return err
	}
	w.foreign.Log = w.Sigstore.Log // another CA, the same public log
	w.Rekor = NewRekorServer(w.Sigstore.Log)
	rekorH.next = w.Rekor
	return nil
}

// MoveRepository has the registry front move repo's manifests to another
// backend ("relocated"): from now on the canonical and regional backends
// answer 500 for them, and the front redirects their requests to the new
// one. A client that goes to where the front sent them before must ask
// the front again.
func (w *World) MoveRepository(repo string) error {
	if w.front == nil {
		return fmt.Errorf("move %s: an external registry has no front", repo)
	}
	w.front.mu.Lock()
	defer w.front.mu.Unlock()
	if w.front.moved == nil {
		w.front.moved = map[string]bool{}
	}
	w.front.moved[repo] = true
	return nil
}

// startRegistryFront puts the world's in-process registry behind a front
// like registry.k8s.io's, with its backends on hosts of their own (their
// requests counted as "backend" and "storage").
func (w *World) startRegistryFront(origin http.Handler, front *httpFaults, o Options) error {
	rid := make([]byte, 16)
	if _, err := rand.Read(rid); err != nil {
		return err
	}
	f := &registryFront{origin: origin, referrers: o.ReferrersAPI, rid: hex.EncodeToString(rid)}
	// An image's HTTP faults apply at the front and at the backends (in
	// the front's terms: the same rules, the same counts), not in object
	// storage, whose paths name no repository.
	backendH := &httpFaults{next: f.backend(false, false), faultsOf: front, faultPath: RegistryPath}
	regionalH := &httpFaults{next: f.backend(true, false), faultsOf: front, faultPath: RegistryPath}
	relocatedH := &httpFaults{next: f.backend(false, true), faultsOf: front, faultPath: RegistryPath}
	storageH := &httpFaults{next: f.storageHandler()}
	w.httpF["backend"], w.httpF["regional"], w.httpF["relocated"], w.httpF["storage"] = backendH, regionalH, relocatedH, storageH
	var err error
	if f.relocated, err = w.serve(relocatedH); err != nil {
		return err
	}
	if f.canonical, err = w.serve(backendH); err != nil {
		return err
	}
	if f.regional, err = w.serve(regionalH); err != nil {
		return err
	}
	if f.storage, err = w.serve(storageH); err != nil {
		return err
	}
	w.front = f
	front.next = f
	return nil
}

// buildRelease builds and publishes release v; faulty says it is the one
// the faults apply to (the newest).
func (w *World) buildRelease(ctx context.Context, o Options, v artifacts.Version, faulty bool) error {
	rel, err := artifacts.CatalogRelease(v, artifacts.Locations{DownloadURL: w.DownloadURL, Registry: w.Registry})
	if err != nil {
		return err
	}
	rel = restrict(rel, o)
	rs := &ReleaseState{Version: v, Release: rel, Files: map[string]*File{}, Images: map[string]*Image{}}
	w.Releases = append(w.Releases, rs)
	if faulty {
		w.Release, w.Files, w.Images = rel, rs.Files, rs.Images
	}
	if err := w.buildFiles(rs, o.FileSize, faulty); err != nil {
		return err
	}
	return w.buildImagesOf(ctx, rs, o.ImageLayerSize, faulty)
}

// restrict applies Options.Small, Kinds and Platforms to a release.
func restrict(rel *artifacts.Release, o Options) *artifacts.Release {
	if o.Small {
		rel = smallRelease(rel)
	}
	if len(o.Kinds) > 0 || len(o.Platforms) > 0 {
		rel = rel.Filter(o.Kinds, o.Platforms)
	}
	return rel
}

func (w *World) setupDir(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "k8sverify-world-")
		if err != nil {
			return err
		}
		dir, w.tempDir = d, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w.Dir = dir
	w.TrustedRootPath = filepath.Join(dir, "trusted_root.json")
	return nil
}

func (w *World) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardStdLogger()}
	w.servers = append(w.servers, srv)
	if w.TLS != nil {
		srv.TLSConfig = w.TLS.Config.Clone()
		if w.maxStreams > 0 {
			srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: w.maxStreams}
		}
		if hf, ok := h.(*httpFaults); ok {
			srv.TLSConfig.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				hf.handshakes.Add(1)
				return nil, nil
			}
		}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
		return "https://" + ln.Addr().String(), nil
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the servers and removes a temporary directory.
func (w *World) Close() {
	for _, s := range w.servers {
		_ = s.Close()
	}
	if w.tempDir {
		_ = os.RemoveAll(w.Dir)
	}
}

func smallRelease(r *artifacts.Release) *artifacts.Release {
	out := *r
	out.Artifacts = nil
	for _, a := range r.Artifacts {
		switch a.Kind {
		case artifacts.KindImage:
			base := strings.TrimSuffix(a.Name, "-"+a.Platform.Arch)
			if (base == "kube-apiserver" || base == "kube-proxy") && (a.Platform.IsZero() || a.Platform.Arch == "amd64" || a.Platform.Arch == "arm64") {
				out.Artifacts = append(out.Artifacts, a)
			}
		default:
			if a.Platform == (artifacts.Platform{OS: "linux", Arch: "amd64"}) || a.Platform == (artifacts.Platform{OS: "linux", Arch: "arm64"}) ||
				(a.Platform.IsZero() && a.Name == "kubernetes.tar.gz") {
				out.Artifacts = append(out.Artifacts, a)
			}
		}
	}
	return &out
}

// ImageRepository is the repository of an image artifact below the
// registry: "kube-apiserver" for the index, "kube-apiserver-amd64" for a
// platform image.
func ImageRepository(a artifacts.Artifact) string {
	if a.Platform.IsZero() {
		return a.Name
	}
	return a.Name + "-" + a.Platform.Arch
}

// signer returns the Sigstore that signs under fault.
func (w *World) signer(fault FaultKind) *Sigstore {
	if fault == FaultForeignCA {
		return w.foreign
	}
	return w.Sigstore
}

// checkFaultTargets rejects faults naming nothing in the world.
func (w *World) checkFaultTargets() error {
	var errs []error
	for _, f := range w.Faults {
		_, file := w.Files[f.Target]
		_, img := w.Images[f.Target]
		if !file && !img {
			errs = append(errs, fmt.Errorf("fault %s: no release file or image repository %q in this world", f, f.Target))
		}
	}
	return errors.Join(errs...)
}

func (w *World) installHTTPFaults() error {
	for _, f := range w.Faults {
		if !f.Kind.IsHTTP() {
			continue
		}
		if _, ok := w.Files[f.Target]; ok {
			w.httpF["cdn"].add("/release/"+w.Version.String()+"/"+f.Target, f.Kind, f.Times)
			continue
		}
		if w.externalRegistry {
			return fmt.Errorf("fault %s: HTTP faults cannot be injected into an external registry", f)
		}
		w.httpF["registry"].add("/v2/"+f.Target+"/", f.Kind, f.Times)
	}
	return nil
}

// loseSignatures makes the regional backend lack the signature
// manifests of the images FaultSigLostInRegion names.
func (w *World) loseSignatures(ctx context.Context) error {
	rs := w.Releases[len(w.Releases)-1]
	for _, f := range w.Faults {
		im, ok := rs.Images[f.Target]
		if f.Kind != FaultSigLostInRegion || !ok {
			continue
		}
		if w.front == nil {
			return fmt.Errorf("fault %s: an external registry has no regional backend", f)
		}
		for repo := range rs.Images {
			tag, err := name.NewTag(w.Registry + "/" + repo + ":" + strings.Replace(im.Digest.String(), ":", "-", 1) + ".sig")
			if err != nil {
				return err
			}
			desc, err := remote.Head(tag, remote.WithTransport(w.transport), remote.WithContext(ctx))
			if err != nil {
				continue // not signed in this repository
			}
			w.front.lose(repo, desc.Digest.String())
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveDownloadSite redirects release files to the CDN, as dl.k8s.io
// does, and serves the rest (SBOMs, TUF) itself.
func (w *World) serveDownloadSite(rw http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/release/") {
		w.serveSite(rw, r)
		return
	}
	target := w.CDNURL + r.URL.Path
	if q := cdnSignature(r.URL.Path); q != "" {
		target += "?" + q
	}
	http.Redirect(rw, r, target, http.StatusFound)
}

// cdnSignature is the query of a signed URL the CDN wants for tarballs
// (none for other files): the download site gives it in its redirect, and
// the CDN refuses the tarball without it (403). No public source says
// cdn.dl.k8s.io does this (its redirect carries no query); the world
// does it so that clients are shown not to rely on fetching the CDN
// directly.
func cdnSignature(p string) string {
	if !strings.HasSuffix(p, ".tar.gz") {
		return ""
	}
	return "Expires=4102444800&Signature=" + fmt.Sprintf("%x", sha256.Sum256([]byte(p)))[:32]
}

// serveCDN serves release files, tarballs only on their signed URL.
func (w *World) serveCDN(rw http.ResponseWriter, r *http.Request) {
	if q := cdnSignature(r.URL.Path); q != "" && r.URL.RawQuery != q {
		http.Error(rw, "signed URL required", http.StatusForbidden)
		return
	}
	w.serveSite(rw, r)
}

func (w *World) serveSite(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.siteMu.RLock()
	data, ok := w.site[r.URL.Path]
	w.siteMu.RUnlock()
	if !ok {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "application/octet-stream")
	rw.Header().Set("Content-Length", fmt.Sprint(len(data)))
	if r.Method == http.MethodGet {
		_, _ = rw.Write(data)
	}
}

func (w *World) buildTUF() error {
	var err error
	if w.TSA, err = NewTimestampAuthority(); err != nil {
		return err
	}
	root, err := w.Sigstore.TrustedRootWith(w.TSA)
	if err != nil {
		return err
	}
	if w.trustedRootJSON, err = root.MarshalJSON(); err != nil {
		return err
	}
	if w.TUF, err = newTUFRepo(w.DownloadURL+"/tuf", w.trustedRootJSON); err != nil {
		return fmt.Errorf("TUF repository: %w", err)
	}
	w.siteMu.Lock()
	for p, data := range w.TUF.Files {
		w.site["/tuf/"+p] = data
	}
	w.siteMu.Unlock()
	return nil
}

// buildCatalog writes the world's catalog — the embedded one with the
// sums of the world's tarballs as its CHANGELOG sums — and lists the
// world's releases from it.
func (w *World) buildCatalog(o Options) error {
	var lines []any
	for _, rs := range w.Releases {
		if slices.ContainsFunc(lines, func(c any) bool { return c.(map[string]any)["line"] == rs.Version.Line() }) {
			continue
		}
		cat, err := w.catalogLine(o, rs.Version.Line())
		if err != nil {
			return err
		}
		lines = append(lines, cat)
	}
	var data []byte
	var err error
	if len(lines) == 1 {
		data, err = json.MarshalIndent(lines[0], "", "  ")
	} else {
		data, err = json.MarshalIndent(lines, "", "  ") // several lines: an array of line files
	}
	if err != nil {
		return err
	}
	return w.writeCatalog(o, data)
}

// catalogLine is the world's catalog file of a line.
func (w *World) catalogLine(o Options, line string) (map[string]any, error) {
	data, err := artifacts.Embedded().MarshalLine(line)
	if err != nil {
		return nil, err
	}
	var cat map[string]any
	if err := json.Unmarshal(data, &cat); err != nil {
		return nil, err
	}
	byVersion := map[string]*ReleaseState{}
	for _, rs := range w.Releases {
		byVersion[rs.Version.String()] = rs
	}
	for _, r := range cat["releases"].([]any) {
		rel := r.(map[string]any)
		rs, ok := byVersion[rel["version"].(string)]
		if !ok {
			continue
		}
		sums, _ := rel["sha512"].(map[string]any)
		for _, f := range rs.Files {
			if _, listed := sums[f.Artifact.Name]; listed && f.Artifact.Kind == artifacts.KindTarball {
				sums[f.Artifact.Name] = f.SHA512
			}
		}
		// The promoter's digests of the release's tags: the world's own
		// images (the genuine ones, whatever a fault serves at a tag).
		// A release the embedded catalog holds no digests for has none
		// here either: its channels bind it (channels.go).
		digests := map[string]any{}
		if !o.NoImageDigests && artifacts.Embedded().HoldsSums(rs.Version) {
			for repo, img := range rs.Images {
				digests[repo] = img.Digest.String()
			}
		}
		rel["imageDigests"] = digests
	}
	return cat, nil
}

// writeCatalog writes the world's catalog and lists its releases from it.
func (w *World) writeCatalog(o Options, data []byte) error {
	var err error
	w.CatalogPath = filepath.Join(w.Dir, "catalog.json")
	if err := os.WriteFile(w.CatalogPath, data, 0o644); err != nil {
		return err
	}
	if w.Catalog, err = artifacts.ReadCatalog(bytes.NewReader(data), w.CatalogPath); err != nil {
		return err
	}
	for _, rs := range w.Releases {
		rel, err := w.Catalog.Release(rs.Version, artifacts.Locations{DownloadURL: w.DownloadURL, Registry: w.Registry})
		if err != nil {
			return err
		}
		rs.Release = restrict(rel, o)
	}
	w.Release = w.Releases[len(w.Releases)-1].Release
	return nil
}

// Env returns the K8SVERIFY_* variables that point k8sverify at the world
// (and, serving HTTPS, SSL_CERT_FILE naming its CA).
func (w *World) Env() []string {
	var tlsEnv []string
	if w.TLS != nil {
		tlsEnv = []string{"SSL_CERT_FILE=" + w.TLS.CAFile}
	}
	return append(tlsEnv,
		"K8SVERIFY_CATALOG="+w.CatalogPath,
		"K8SVERIFY_DOWNLOAD_URL="+w.DownloadURL,
		"K8SVERIFY_SBOM_URL="+w.SBOMURL,
		"K8SVERIFY_REGISTRY="+w.Registry,
		"K8SVERIFY_REKOR_URL="+w.RekorURL,
		"K8SVERIFY_CHANNELS_URL="+w.ChannelsURL,
		"K8SVERIFY_TRUSTED_ROOT="+w.TrustedRootPath,
		"K8SVERIFY_TUF_URL="+w.DownloadURL+"/tuf",
		"K8SVERIFY_TUF_ROOT="+filepath.Join(w.Dir, "tuf-root.json"),
	)
}

// Description is world.json: what scripts need to know of a world.
type Description struct {
	Version     string `json:"version"`
	DownloadURL string `json:"downloadURL"`
	SBOMURL     string `json:"sbomURL"`
	Registry    string `json:"registry"`
	RekorURL    string `json:"rekorURL"`
	ChannelsURL string `json:"channelsURL"`
	TrustedRoot string `json:"trustedRoot"`
	RekorKey    string `json:"rekorPublicKey"`
	FulcioChain string `json:"fulcioChain"`
	CTLogKey    string `json:"ctLogPublicKey"`
	// CTTestLogKey is the key of the CT log of certificates issued before
	// 2022-10-20 (cosign's SIGSTORE_CT_LOG_PUBLIC_KEY_FILE takes one key).
	CTTestLogKey string   `json:"ctTestLogPublicKey"`
	Faults       []string `json:"faults,omitempty"`
	Artifacts    []string `json:"artifacts"`
}

func (w *World) writeFiles() error {
	if err := os.WriteFile(w.TrustedRootPath, w.trustedRootJSON, 0o644); err != nil {
		return err
	}
	rekorKey := filepath.Join(w.Dir, "rekor.pub")
	ctKey := filepath.Join(w.Dir, "ctlog.pub")
	if err := os.WriteFile(rekorKey, w.Sigstore.Log.PublicKeyPEM(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(ctKey, w.Sigstore.CTLogPublicKeyPEM(), 0o644); err != nil {
		return err
	}
	ctTestKey := filepath.Join(w.Dir, "ctlog-test.pub")
	if err := os.WriteFile(ctTestKey, w.Sigstore.CTTestLogPublicKeyPEM(), 0o644); err != nil {
		return err
	}
	fulcio := filepath.Join(w.Dir, "fulcio-chain.pem")
	if err := os.WriteFile(fulcio, w.Sigstore.ChainPEM(), 0o644); err != nil {
		return err
	}
	d := Description{Version: w.Version.String(), DownloadURL: w.DownloadURL, SBOMURL: w.SBOMURL, Registry: w.Registry,
		RekorURL: w.RekorURL, ChannelsURL: w.ChannelsURL, TrustedRoot: w.TrustedRootPath, RekorKey: rekorKey, CTLogKey: ctKey, CTTestLogKey: ctTestKey, FulcioChain: fulcio}
	for _, f := range w.Faults {
		d.Faults = append(d.Faults, f.String())
	}
	for _, a := range w.Release.Artifacts {
		d.Artifacts = append(d.Artifacts, a.ID())
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.Dir, "world.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.Dir, "tuf-root.json"), w.TUF.Root, 0o644); err != nil {
		return err
	}
	env := strings.Join(append(w.Env(), "K8SVERIFY_VERSION="+w.Version.String()), "\n") + "\n"
	return os.WriteFile(filepath.Join(w.Dir, "env"), []byte(env), 0o644)
}
