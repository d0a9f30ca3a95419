package testworld

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"

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
	// Version of the release; default v1.24.17. Any version of the catalog.
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
	Version artifacts.Version
	Release *artifacts.Release
	// DownloadURL, SBOMURL and RekorURL are http://127.0.0.1:port URLs;
	// Registry is 127.0.0.1:port.
	DownloadURL, SBOMURL, RekorURL, Registry string
	Dir                                      string
	// TrustedRootPath is the world's trusted_root.json.
	TrustedRootPath string
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
	externalRegistry bool
	trustedRootJSON  []byte
	site             map[string][]byte
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
	v, err := artifacts.ParseVersion(o.Version)
	if err != nil {
		return nil, err
	}
	w := &World{Version: v, Faults: o.Faults, Files: map[string]*File{}, Images: map[string]*Image{},
		site: map[string][]byte{}, faultsBy: map[string]FaultKind{}, httpF: map[string]*httpFaults{}}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if err := w.setupDir(o.Dir); err != nil {
		return nil, err
	}
	// Three servers: the download site (and SBOMs), the registry, Rekor.
	siteH := &httpFaults{next: http.HandlerFunc(w.serveSite)}
	regH := &httpFaults{next: registry.New(registry.Logger(discardLogger()))}
	w.httpF["site"], w.httpF["registry"] = siteH, regH
	siteURL, err := w.serve(siteH)
	if err != nil {
		return nil, err
	}
	regURL := "http://" + o.Registry
	if o.Registry == "" {
		if regURL, err = w.serve(regH); err != nil {
			return nil, err
		}
	} else if host, _, err := net.SplitHostPort(o.Registry); err != nil || !isLoopback(host) {
		return nil, fmt.Errorf("registry %q: want host:port on loopback", o.Registry)
	} else {
		w.externalRegistry = true
	}
	rekorH := &httpFaults{}
	w.httpF["rekor"] = rekorH
	rekorURL, err := w.serve(rekorH)
	if err != nil {
		return nil, err
	}
	w.DownloadURL, w.SBOMURL, w.RekorURL = siteURL, siteURL+"/sbom", rekorURL
	w.Registry = strings.TrimPrefix(regURL, "http://")
	w.transport = http.DefaultTransport

	if w.Sigstore, err = NewSigstore(rekorURL); err != nil {
		return nil, err
	}
	if w.foreign, err = NewSigstore(rekorURL); err != nil {
		return nil, err
	}
	w.foreign.Log = w.Sigstore.Log // another CA, the same public log
	w.Rekor = NewRekorServer(w.Sigstore.Log)
	rekorH.next = w.Rekor

	rel, err := artifacts.CatalogRelease(v, artifacts.Locations{DownloadURL: siteURL, Registry: w.Registry})
	if err != nil {
		return nil, err
	}
	if o.Small {
		rel = smallRelease(rel)
	}
	if len(o.Kinds) > 0 || len(o.Platforms) > 0 {
		rel = rel.Filter(o.Kinds, o.Platforms)
	}
	w.Release = rel
	for _, f := range o.Faults {
		w.faultsBy[f.Target] = f.Kind
	}
	if err := w.buildFiles(o.FileSize); err != nil {
		return nil, err
	}
	if err := w.buildCatalog(o); err != nil {
		return nil, err
	}
	if o.ImageLayerSize <= 0 {
		o.ImageLayerSize = 512
	}
	if err := w.buildImages(ctx, o.ImageLayerSize); err != nil {
		return nil, err
	}
	w.buildSBOM()
	if err := w.checkFaultTargets(); err != nil {
		return nil, err
	}
	if err := w.installHTTPFaults(); err != nil {
		return nil, err
	}
	// The wide-area latency applies once the world is built.
	for _, h := range w.httpF {
		h.setLatency(o.Latency)
	}
	if err := w.buildTUF(); err != nil {
		return nil, err
	}
	if err := w.writeFiles(); err != nil {
		return nil, err
	}
	return w, nil
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

// releasePrefix is the path of the release below the download site.
func (w *World) releasePrefix() string { return "/release/" + w.Version.String() + "/" }

// signer returns the Sigstore that signs under fault.
func (w *World) signer(fault FaultKind) *Sigstore {
	if fault == FaultForeignCA {
		return w.foreign
	}
	return w.Sigstore
}

// signOptions returns how the world signs as identity under fault.
func signOptions(id artifacts.Identity, fault FaultKind) SignOptions {
	o := SignOptions{CertOptions: CertOptions{Identity: id.SAN, Issuer: id.Issuer}}
	switch fault {
	case FaultForeignIdentity:
		o.Identity = ForeignIdentity
	case FaultForeignIssuer:
		o.Issuer = ForeignIssuer
	case FaultExpiredCert:
		o.NotBefore = time.Now().Add(-30 * time.Minute)
	case FaultNotInLog:
		o.NoLog = true
	}
	return o
}

func (w *World) buildFiles(size int) error {
	var files []*File
	for _, a := range w.Release.Artifacts {
		if a.Kind == artifacts.KindImage {
			continue
		}
		p := strings.TrimPrefix(a.Location, w.DownloadURL+w.releasePrefix())
		if p == a.Location {
			return fmt.Errorf("artifact %s: location %s is not below %s", a.ID(), a.Location, w.DownloadURL)
		}
		content := make([]byte, size)
		if _, err := rand.Read(content); err != nil {
			return err
		}
		s256, s512 := sha256.Sum256(content), sha512.Sum512(content)
		f := &File{Artifact: a, Path: p, Content: content, SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])}
		files = append(files, f)
		w.Files[p] = f
	}
	// Sign (the release process signs when its policy says so).
	for _, f := range files {
		fault := w.faultsBy[f.Path]
		if f.Artifact.Signing == artifacts.SigningNotExpected || f.Artifact.Signing == artifacts.SigningNever || fault == FaultUnsigned {
			continue
		}
		digest, _ := hex.DecodeString(f.SHA256)
		sig, err := w.signer(fault).SignDigest(digest, signOptions(f.Artifact.Signer, fault))
		if err != nil {
			return fmt.Errorf("sign %s: %w", f.Path, err)
		}
		f.Signature = sig
		if fault == FaultForgedSET && sig.Entry != nil {
			w.Rekor.ForgeSET(sig.Entry.UUID)
		}
	}
	// Publish.
	for i, f := range files {
		fault := w.faultsBy[f.Path]
		base := w.releasePrefix() + f.Path
		content := f.Content
		if fault == FaultFlipByte {
			content = slices.Clone(content)
			content[len(content)/2] ^= 0x01
		}
		if fault != FaultMissing {
			w.site[base] = content
		}
		sum := f.SHA256
		if fault == FaultBadSHA256 {
			other := sha256.Sum256(append([]byte("not "), f.Content...))
			sum = hex.EncodeToString(other[:])
		}
		w.site[base+".sha256"] = []byte(sum)
		w.site[base+".sha512"] = []byte(f.SHA512)
		sig := f.Signature
		if fault == FaultReplay {
			other := files[(i+1)%len(files)]
			if other.Signature == nil {
				return fmt.Errorf("fault %s=%s: the artifact to replay from is unsigned", fault, f.Path)
			}
			sig = other.Signature
		}
		if sig == nil {
			continue
		}
		w.site[base+".sig"] = []byte(base64.StdEncoding.EncodeToString(sig.Sig))
		w.site[base+".cert"] = []byte(base64.StdEncoding.EncodeToString(sig.CertPEM))
		if fault == FaultGarbageSignature {
			w.site[base+".sig"] = []byte("this is not a signature\n")
			w.site[base+".cert"] = []byte("bm90IGEgY2VydGlmaWNhdGU=\n")
		}
	}
	line := fmt.Sprintf("/release/stable-%s.txt", w.Version.Line())
	w.site[line] = []byte(w.Version.String() + "\n")
	w.site["/release/stable.txt"] = []byte(w.Version.String() + "\n")
	return nil
}

// imageHistory returns the identities that signed an image repository in
// this release, reproducing the line's real signing history.
func (w *World) imageHistory(repo, arch string) []artifacts.Identity {
	promoter := artifacts.Identity{SAN: PromoterIdentity, Issuer: artifacts.GoogleIssuer}
	switch w.Version.String() {
	case "v1.24.6": // signed twice (kubernetes/release#2789)
		return []artifacts.Identity{artifacts.BlobSigner, artifacts.ImageSigner}
	case "v1.24.8": // signed by the promoter's identity (kubernetes/release#2789)
		return []artifacts.Identity{promoter}
	case "v1.24.11": // partly unsigned after Fulcio rate limits (kubernetes/release#2962)
		if arch == "ppc64le" || arch == "s390x" {
			return nil
		}
	case "v1.24.12": // signature replication broke (kubernetes/release#2971)
		if strings.HasPrefix(repo, "conformance") {
			return nil
		}
	}
	return []artifacts.Identity{artifacts.ImageSigner}
}

func (w *World) buildImages(ctx context.Context, layerSize int64) error {
	byName := map[string][]artifacts.Artifact{}
	var names []string
	for _, a := range w.Release.Artifacts {
		if a.Kind != artifacts.KindImage {
			continue
		}
		base := strings.TrimSuffix(a.Name, "-"+a.Platform.Arch)
		if _, ok := byName[base]; !ok {
			names = append(names, base)
		}
		byName[base] = append(byName[base], a)
	}
	opts := []remote.Option{remote.WithTransport(w.transport), remote.WithContext(ctx)}
	tag := w.Version.String()
	var sigsOf = map[string]map[v1.Hash][]oci.Signature{} // repo -> digest -> signatures
	var entities = map[string]map[v1.Hash]oci.SignedEntity{}
	add := func(repo string, h v1.Hash, e oci.SignedEntity, s ...oci.Signature) {
		if sigsOf[repo] == nil {
			sigsOf[repo], entities[repo] = map[v1.Hash][]oci.Signature{}, map[v1.Hash]oci.SignedEntity{}
		}
		sigsOf[repo][h] = append(sigsOf[repo][h], s...)
		entities[repo][h] = e
	}
	for _, base := range names {
		var arches []string
		hasIndex := false
		for _, a := range byName[base] {
			if a.Platform.IsZero() {
				hasIndex = true
			} else {
				arches = append(arches, a.Platform.Arch)
			}
		}
		if len(arches) == 0 {
			arches = []string{"amd64"}
		}
		idx, imgs, err := buildImages(arches, layerSize)
		if err != nil {
			return err
		}
		// Per-arch repositories.
		for _, arch := range arches {
			repo := base + "-" + arch
			img := imgs[arch]
			h, err := img.Digest()
			if err != nil {
				return err
			}
			im := &Image{Repository: repo, Tag: tag, Platform: "linux/" + arch, Digest: h}
			if !slices.ContainsFunc(byName[base], func(a artifacts.Artifact) bool { return a.Platform.Arch == arch }) {
				continue
			}
			if w.faultsBy[repo] != FaultMissing {
				ref, _ := name.NewTag(w.Registry + "/" + repo + ":" + tag)
				if err := remote.Write(ref, img, opts...); err != nil {
					return fmt.Errorf("push %s: %w", ref, err)
				}
			}
			w.Images[repo] = im
			sigs, err := w.signImage(repo, arch, h)
			if err != nil {
				return err
			}
			add(repo, h, signedEntity(img, nil), sigs...)
			// The index repository holds the same manifest, with the same signatures.
			if hasIndex {
				add(base, h, signedEntity(img, nil), sigs...)
			}
		}
		if !hasIndex {
			continue
		}
		h, err := idx.Digest()
		if err != nil {
			return err
		}
		if w.faultsBy[base] != FaultMissing {
			ref, _ := name.NewTag(w.Registry + "/" + base + ":" + tag)
			if err := remote.WriteIndex(ref, idx, opts...); err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
		}
		w.Images[base] = &Image{Repository: base, Tag: tag, Digest: h}
		sigs, err := w.signImage(base, "", h)
		if err != nil {
			return err
		}
		add(base, h, signedEntity(nil, idx), sigs...)
	}
	// Replays: the .sig of another image copied onto this one's tag.
	repos := make([]string, 0, len(sigsOf))
	for r := range sigsOf {
		repos = append(repos, r)
	}
	sort.Strings(repos)
	for _, repo := range repos {
		if w.faultsBy[repo] != FaultReplay {
			continue
		}
		own := w.Images[repo].Digest
		for _, other := range repos {
			if other != repo && len(sigsOf[other][w.Images[other].Digest]) > 0 {
				replayed := sigsOf[other][w.Images[other].Digest]
				sigsOf[repo][own] = replayed
				// A platform image's signatures in its index's repository too.
				for _, index := range repos {
					if _, child := sigsOf[index][own]; child && index != repo {
						sigsOf[index][own] = replayed
					}
				}
				break
			}
		}
	}
	for _, repo := range repos {
		for h, sigs := range sigsOf[repo] {
			if len(sigs) == 0 {
				continue
			}
			if err := w.writeSignatures(repo, h, entities[repo][h], sigs); err != nil {
				return err
			}
		}
	}
	return nil
}

// signImage signs one digest as the release history says, with the
// repository's fault applied.
func (w *World) signImage(repo, arch string, h v1.Hash) ([]oci.Signature, error) {
	fault := w.faultsBy[repo]
	if fault == FaultUnsigned {
		return nil, nil
	}
	var out []oci.Signature
	for _, id := range w.imageHistory(repo, arch) {
		s, sig, err := w.imageSignature(repo, h, signOptions(id, fault), fault)
		if err != nil {
			return nil, fmt.Errorf("sign %s@%s: %w", repo, h, err)
		}
		if fault == FaultForgedSET && sig.Entry != nil {
			w.Rekor.ForgeSET(sig.Entry.UUID)
		}
		w.Images[repo].Signatures = append(w.Images[repo].Signatures, sig)
		out = append(out, s)
	}
	return out, nil
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
			w.httpF["site"].add(w.releasePrefix()+f.Target, f.Kind, f.Times)
			continue
		}
		if w.externalRegistry {
			return fmt.Errorf("fault %s: HTTP faults cannot be injected into an external registry", f)
		}
		w.httpF["registry"].add("/v2/"+f.Target+"/", f.Kind, f.Times)
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
// world's release from it.
func (w *World) buildCatalog(o Options) error {
	data, err := artifacts.Embedded().MarshalLine(w.Version.Line())
	if err != nil {
		return err
	}
	var cat map[string]any
	if err := json.Unmarshal(data, &cat); err != nil {
		return err
	}
	for _, r := range cat["releases"].([]any) {
		rel := r.(map[string]any)
		if rel["version"] != w.Version.String() {
			continue
		}
		sums, _ := rel["sha512"].(map[string]any)
		for _, f := range w.Files {
			if _, listed := sums[f.Artifact.Name]; listed && f.Artifact.Kind == artifacts.KindTarball {
				sums[f.Artifact.Name] = f.SHA512
			}
		}
	}
	if data, err = json.MarshalIndent(cat, "", "  "); err != nil {
		return err
	}
	w.CatalogPath = filepath.Join(w.Dir, "catalog.json")
	if err := os.WriteFile(w.CatalogPath, data, 0o644); err != nil {
		return err
	}
	if w.Catalog, err = artifacts.ReadCatalog(bytes.NewReader(data), w.CatalogPath); err != nil {
		return err
	}
	rel, err := w.Catalog.Release(w.Version, artifacts.Locations{DownloadURL: w.DownloadURL, Registry: w.Registry})
	if err != nil {
		return err
	}
	if o.Small {
		rel = smallRelease(rel)
	}
	if len(o.Kinds) > 0 || len(o.Platforms) > 0 {
		rel = rel.Filter(o.Kinds, o.Platforms)
	}
	w.Release = rel
	return nil
}

// Env returns the K8SVERIFY_* variables that point k8sverify at the world.
func (w *World) Env() []string {
	return []string{
		"K8SVERIFY_CATALOG=" + w.CatalogPath,
		"K8SVERIFY_DOWNLOAD_URL=" + w.DownloadURL,
		"K8SVERIFY_SBOM_URL=" + w.SBOMURL,
		"K8SVERIFY_REGISTRY=" + w.Registry,
		"K8SVERIFY_REKOR_URL=" + w.RekorURL,
		"K8SVERIFY_TRUSTED_ROOT=" + w.TrustedRootPath,
		"K8SVERIFY_TUF_URL=" + w.DownloadURL + "/tuf",
		"K8SVERIFY_TUF_ROOT=" + filepath.Join(w.Dir, "tuf-root.json"),
	}
}

// Description is world.json: what scripts need to know of a world.
type Description struct {
	Version     string   `json:"version"`
	DownloadURL string   `json:"downloadURL"`
	SBOMURL     string   `json:"sbomURL"`
	Registry    string   `json:"registry"`
	RekorURL    string   `json:"rekorURL"`
	TrustedRoot string   `json:"trustedRoot"`
	RekorKey    string   `json:"rekorPublicKey"`
	FulcioChain string   `json:"fulcioChain"`
	CTLogKey    string   `json:"ctLogPublicKey"`
	Faults      []string `json:"faults,omitempty"`
	Artifacts   []string `json:"artifacts"`
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
	fulcio := filepath.Join(w.Dir, "fulcio-chain.pem")
	if err := os.WriteFile(fulcio, w.Sigstore.ChainPEM(), 0o644); err != nil {
		return err
	}
	d := Description{Version: w.Version.String(), DownloadURL: w.DownloadURL, SBOMURL: w.SBOMURL, Registry: w.Registry,
		RekorURL: w.RekorURL, TrustedRoot: w.TrustedRootPath, RekorKey: rekorKey, CTLogKey: ctKey, FulcioChain: fulcio}
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
