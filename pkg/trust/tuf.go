package trust

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// TUF says which TUF repository holds the Sigstore trusted root and
// which TUF root is trusted for it. The zero value is the Sigstore
// public-good repository with the root embedded in sigstore-go.
type TUF struct {
	RepositoryURL string // default tuf.DefaultMirror
	Root          []byte // trusted TUF root.json; default the embedded one
}

// CheckRoot tells whether data is a TUF root metadata file (signed
// metadata of type root), as a trusted TUF root must be; whether its
// signatures hold is checked when a client starts from it.
func CheckRoot(data []byte) error {
	if _, err := metadata.Root().FromBytes(data); err != nil {
		return fmt.Errorf("not a TUF root.json: %w", err)
	}
	return nil
}

func (s TUF) options() *tuf.Options {
	opts := tuf.DefaultOptions()
	if s.RepositoryURL != "" {
		opts.RepositoryBaseURL = strings.TrimRight(s.RepositoryURL, "/")
	}
	if s.Root != nil {
		opts.Root = s.Root
	}
	opts.CachePath = "" // never sigstore-go's default cache (~/.sigstore/root): the caller names the state
	return opts
}

// freshTUFState returns a new, empty directory for a TUF client's state,
// and its removal. go-tuf reads the cached timestamp, snapshot and targets
// metadata of its local directory even when told not to cache
// (DisableLocalCache only stops writes): a client meant to depend on
// nothing but what it downloads (or replays) must start from an empty
// one, never from another client's cache.
func freshTUFState() (string, func(), error) {
	dir, err := os.MkdirTemp("", "k8sverify-tuf-")
	if err != nil {
		return "", nil, fmt.Errorf("TUF client state: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// Record fetches the Sigstore trusted root through TUF, from a fresh,
// empty TUF state, and records every metadata and target file the TUF
// client downloaded into the pack below dir. It then proves that the
// pack's own files replay: the trusted root is loaded again from what
// was written, as offline verification will load it, verified as of the
// time it returns (when the trust was fetched, for the manifest).
func Record(w *pack.Writer, dir string, src TUF, f fetcher.Fetcher) (*sigverify.Trust, time.Time, error) {
	opts := src.options()
	if f == nil {
		f = fetcher.NewDefaultFetcher()
	}
	state, done, err := freshTUFState()
	if err != nil {
		return nil, time.Time{}, err
	}
	defer done()
	opts.CachePath, opts.DisableLocalCache = state, true
	opts.Fetcher = &tufRecorder{inner: f, base: opts.RepositoryBaseURL, w: w, dir: dir}
	if _, err := root.FetchTrustedRootWithOptions(opts); err != nil {
		return nil, time.Time{}, fmt.Errorf("fetch the Sigstore trusted root via TUF: %w", err)
	}
	fetched := time.Now().UTC()
	tr, err := replayTUF(w, dir, src, fetched)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the TUF metadata recorded in the pack does not verify on its own: %w", err)
	}
	return tr, fetched, nil
}

// FromPack verifies the TUF metadata recorded in the pack, starting
// from the trusted TUF root (by default the one embedded in k8sverify),
// with TUF's own rules (root rotation, signature thresholds, expiry,
// target hashes), and returns the trusted root it names. Nothing is read
// from the network or any cache; nothing in the pack is trusted because it
// is there. Metadata expired by now is refused (ErrPackExpired).
func FromPack(p *pack.Pack, src TUF) (*sigverify.Trust, error) {
	return FromPackAt(p, src, time.Time{})
}

// FromPackAt verifies the pack's TUF metadata as FromPack does,
// but as of the time at (zero: now) instead of now: metadata that has
// expired since at is accepted. Unsafe unless the user asks for it: a
// TUF role's expiry is how a repository revokes what it signed (a key
// rotated away, a Fulcio CA or log retired after a compromise), and
// verifying as of an earlier time accepts what was revoked since.
func FromPackAt(p *pack.Pack, src TUF, at time.Time) (*sigverify.Trust, error) {
	if p.Manifest.TUF == "" {
		return nil, fmt.Errorf("%w: %w", pack.ErrMalformed, pack.ErrNoTUF)
	}
	if err := pack.CheckPath(p.Manifest.TUF); err != nil {
		return nil, err
	}
	// The timestamp role is read first, and always: without it the replay
	// would only say that the repository answered 404.
	if _, err := p.ReadFile(path.Join(p.Manifest.TUF, "timestamp.json"), 1<<20); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w: %s/timestamp.json is not in the pack", pack.ErrMalformed, pack.ErrNoTUF, p.Manifest.TUF)
	}
	tr, err := replayTUF(p, p.Manifest.TUF, src, at)
	if errors.Is(err, &metadata.ErrExpiredMetadata{}) {
		return nil, fmt.Errorf("%w: %w: %w", ErrPackUntrusted, ErrPackExpired, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPackUntrusted, err)
	}
	return tr, nil
}

// ErrPackExpired: the pack's TUF metadata has expired (the public-good
// timestamp role lasts days); it still verifies as of when the pack was
// fetched, if the user accepts that.
var ErrPackExpired = errors.New("the pack's TUF metadata has expired")

// packFiles is what a replay reads: a pack, or one being written.
type packFiles interface {
	ReadFile(rel string, limit int64) ([]byte, error)
}

// replayTUF runs go-tuf's client workflow over the TUF files below dir of
// a pack, from a fresh, empty state and the trusted TUF root of src, with
// expiry judged as of at (zero: now), and returns the trusted root target.
func replayTUF(files packFiles, dir string, src TUF, at time.Time) (*sigverify.Trust, error) {
	opts := src.options()
	state, done, err := freshTUFState()
	if err != nil {
		return nil, err
	}
	defer done()
	cfg, err := config.New(opts.RepositoryBaseURL, opts.Root)
	if err != nil {
		return nil, fmt.Errorf("TUF client: %w", err)
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = state, filepath.Join(state, "targets")
	cfg.DisableLocalCache = true
	cfg.PrefixTargetsWithHash = !opts.DisableConsistentSnapshot
	cfg.Fetcher = &tufReplayer{files: files, base: opts.RepositoryBaseURL, dir: dir}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("TUF client: %w", err)
	}
	if !at.IsZero() {
		// go-tuf's only way to judge expiry as of another time than now.
		up.UnsafeSetRefTime(at)
	}
	if err := up.Refresh(); err != nil {
		return nil, fmt.Errorf("TUF metadata: %w", err)
	}
	ti, err := up.GetTargetInfo(trustedRootTarget)
	if err != nil {
		return nil, fmt.Errorf("TUF target %s: %w", trustedRootTarget, err)
	}
	_, data, err := up.DownloadTarget(ti, "", "")
	if err != nil {
		return nil, fmt.Errorf("TUF target %s: %w", trustedRootTarget, err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("TUF target %s: %w", trustedRootTarget, err)
	}
	return &sigverify.Trust{Material: tr}, nil
}

// trustedRootTarget is the TUF target sigstore-go reads the trusted root
// from.
const trustedRootTarget = "trusted_root.json"

// tufRecorder downloads with inner and records what it got.
type tufRecorder struct {
	inner fetcher.Fetcher
	base  string
	w     *pack.Writer
	dir   string
}

func (r *tufRecorder) DownloadFile(url string, maxLength int64, timeout time.Duration) ([]byte, error) {
	data, err := r.inner.DownloadFile(url, maxLength, timeout)
	if err != nil {
		return nil, err
	}
	rel, err := tufPath(r.dir, r.base, url)
	if err != nil {
		return nil, err
	}
	if err := r.w.WriteFile(rel, data); err != nil {
		return nil, err
	}
	return data, nil
}

// tufReplayer serves the TUF client from the pack: a file the fetch did
// not record answers 404, as the repository did.
type tufReplayer struct {
	files packFiles
	base  string
	dir   string
}

func (r *tufReplayer) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	rel, err := tufPath(r.dir, r.base, url)
	if err != nil {
		return nil, err
	}
	data, err := r.files.ReadFile(rel, maxLength)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: url}
	}
	if err != nil {
		return nil, err
	}
	return data, nil
}

// tufPath maps a repository URL to its place in the pack.
func tufPath(dir, base, url string) (string, error) {
	rest, ok := strings.CutPrefix(url, base+"/")
	if !ok {
		return "", fmt.Errorf("TUF file %s is not in the repository %s", transport.Redact(url), base)
	}
	rel := path.Join(dir, rest)
	if err := pack.CheckPath(rel); err != nil || !strings.HasPrefix(rel, dir+"/") {
		return "", fmt.Errorf("%w: TUF file %q", pack.ErrMalformed, rest)
	}
	return rel, nil
}

// NewFetcher returns a TUF metadata fetcher that sends its requests
// with h, within ctx: the same timeouts, retries, bounded reads, https
// rule and giving up on hosts as every other request of a run (go-tuf's
// default fetcher has none of them). go-tuf's Fetcher takes no context,
// so the fetcher holds the one of the load it serves.
func NewFetcher(ctx context.Context, h *transport.Client) fetcher.Fetcher {
	return &tufFetcher{ctx: ctx, h: h}
}

type tufFetcher struct {
	ctx context.Context
	h   *transport.Client
}

// DownloadFile fetches url, at most maxLength bytes; HTTP error statuses
// are go-tuf's ErrDownloadHTTP (a 404 for the next root version is how
// TUF learns there is none).
func (t *tufFetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	data, err := t.h.Get(t.ctx, url, maxLength)
	var he *transport.StatusError
	switch {
	case errors.As(err, &he):
		return nil, &metadata.ErrDownloadHTTP{StatusCode: he.StatusCode, URL: transport.Redact(url)}
	case errors.Is(err, transport.ErrBodyTooLarge):
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s: larger than %d bytes", transport.Redact(url), maxLength)}
	}
	return data, err
}

// ErrPackUntrusted: the pack's TUF metadata does not verify from the
// TUF root trusted here (another TUF root, expired, tampered with).
var ErrPackUntrusted = errors.New("the pack's TUF metadata does not verify from the trusted TUF root")
