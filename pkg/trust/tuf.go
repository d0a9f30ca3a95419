package trust

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"

	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// ErrPackUntrusted: the pack's TUF metadata does not verify from the
// TUF root trusted here (another TUF root, expired, tampered with).
var ErrPackUntrusted = errors.New("the pack's TUF metadata does not verify from the trusted TUF root")

// TUF says which TUF repository holds the Sigstore trusted root and
// which TUF root is trusted for it. The zero value is the Sigstore
// public-good repository with the root embedded in sigstore-go.
type TUF struct {
	RepositoryURL string // default tuf.DefaultMirror
	Root          []byte // trusted TUF root.json; default the embedded one
}

func (s TUF) options() *tuf.Options {
	opts := tuf.DefaultOptions()
	if s.RepositoryURL != "" {
		opts.RepositoryBaseURL = strings.TrimRight(s.RepositoryURL, "/")
	}
	if s.Root != nil {
		opts.Root = s.Root
	}
	opts.DisableLocalCache = true // a pack is built from, and read into, nothing else
	return opts
}

// Record fetches the Sigstore trusted root through TUF and records every
// metadata and target file the TUF client downloaded into the pack below
// dir, so that the same verification can be replayed offline.
func Record(w *pack.Writer, dir string, src TUF, f fetcher.Fetcher) (*verify.Trust, error) {
	opts := src.options()
	if f == nil {
		f = fetcher.NewDefaultFetcher()
	}
	opts.Fetcher = &tufRecorder{inner: f, base: opts.RepositoryBaseURL, w: w, dir: dir}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("fetch the Sigstore trusted root via TUF: %w", err)
	}
	return &verify.Trust{Material: tr}, nil
}

// FromPack verifies the TUF metadata recorded in the pack, starting
// from the trusted TUF root (by default the one embedded in k8sverify),
// with TUF's own rules (root rotation, signature thresholds, expiry,
// target hashes), and returns the trusted root it names. Nothing is read
// from the network; nothing in the pack is trusted because it is there.
func FromPack(p *pack.Pack, src TUF) (*verify.Trust, error) {
	if p.Manifest.TUF == "" {
		return nil, fmt.Errorf("%w: %w", pack.ErrMalformed, pack.ErrNoTUF)
	}
	if err := pack.CheckPath(p.Manifest.TUF); err != nil {
		return nil, err
	}
	opts := src.options()
	opts.Fetcher = &tufReplayer{p: p, base: opts.RepositoryBaseURL, dir: p.Manifest.TUF}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPackUntrusted, err)
	}
	return &verify.Trust{Material: tr}, nil
}

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
	p    *pack.Pack
	base string
	dir  string
}

func (r *tufReplayer) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	rel, err := tufPath(r.dir, r.base, url)
	if err != nil {
		return nil, err
	}
	data, err := r.p.ReadFile(rel, maxLength)
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
