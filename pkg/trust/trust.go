package trust

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"

	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// Source says where the trusted root of a run comes from, in order
// of precedence: a trusted_root.json file the user names; else the TUF
// metadata of an evidence pack (the one verified offline, or one named);
// else TUF online.
type Source struct {
	// File is a trusted_root.json.
	File string
	// Pack, for offline verification, carries TUF metadata verified from
	// TUF.Root (never a trusted root merely lying in the pack).
	Pack *pack.Pack
	// PackDir names an evidence pack whose TUF metadata gives the trusted
	// root (as Pack), for verifying online with no TUF service: images in
	// an air-gapped registry.
	PackDir string
	// PackAtFetchTime verifies the pack's TUF metadata as of the time the
	// pack records it was fetched, not now: an old pack whose metadata
	// has expired since still gives its trusted root. Unsafe: metadata
	// expires so that what the repository revoked since (a retired CA,
	// log or key) stops being trusted; every report says it was used.
	PackAtFetchTime bool
	// TUF is the repository and trusted TUF root; zero: public-good.
	TUF TUF
	// CacheDir is k8sverify's cache directory; the TUF client's state
	// lives below it, in tuf/ (default: DefaultCacheDir). No other
	// client's cache is ever read.
	CacheDir string
	// Fetcher fetches TUF metadata online (nil: go-tuf's default; a run
	// gives NewFetcher of its HTTP client).
	Fetcher fetcher.Fetcher
}

// Load loads the trusted material of a run, once.
func Load(s Source) (*sigverify.Trust, error) {
	switch {
	case s.File != "":
		return sigverify.LoadTrustedRoot(s.File)
	case s.Pack != nil:
		return trustFromPack(s.Pack, s)
	case s.PackDir != "":
		p, err := pack.Open(s.PackDir)
		if err != nil {
			return nil, err
		}
		defer p.Close()
		return trustFromPack(p, s)
	default:
		return publicGoodTrust(s.CacheDir, s.TUF, s.Fetcher)
	}
}

// trustFromPack verifies the pack's TUF metadata now or, when the source
// says so, as of when it was fetched, and says which in the trust's notes.
func trustFromPack(p *pack.Pack, s Source) (*sigverify.Trust, error) {
	if !s.PackAtFetchTime {
		return FromPack(p, s.TUF)
	}
	at := p.Manifest.TUFFetched
	if at.IsZero() {
		return nil, fmt.Errorf("%w: the pack %s does not record when its TUF metadata was fetched (written by an older k8sverify): it can be verified only as of now",
			ErrPackUntrusted, p.Dir)
	}
	tr, err := FromPackAt(p, s.TUF, at)
	if err != nil {
		return nil, err
	}
	tr.Notes = append(tr.Notes, fmt.Sprintf("the trusted root was verified as of %s, when the evidence pack's TUF metadata was fetched, not now: "+
		"whatever the Sigstore TUF repository has revoked or let expire since then is still trusted", at.UTC().Format(time.RFC3339)))
	return tr, nil
}

// DefaultCacheDir is k8sverify's cache directory: k8sverify below the
// user's cache directory ($XDG_CACHE_HOME or ~/.cache on Linux,
// ~/Library/Caches on macOS, %LocalAppData% on Windows).
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory: %w", err)
	}
	return filepath.Join(dir, "k8sverify"), nil
}

func publicGoodTrust(cacheDir string, src TUF, f fetcher.Fetcher) (*sigverify.Trust, error) {
	opts := src.options()
	if f != nil {
		opts.Fetcher = f
	}
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, fmt.Errorf("TUF cache: %w", err)
		}
	}
	opts.CachePath = filepath.Join(cacheDir, "tuf")
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err == nil {
		return &sigverify.Trust{Material: tr}, nil
	}
	// The cache may be what fails (truncated or garbage metadata, a
	// directory where a file should be, metadata that no longer
	// verifies): set it aside and fetch from an empty one. Only if that
	// works was the cache the problem; it is then discarded, and said so.
	tr, note, healErr := healTUFCache(opts)
	if healErr != nil {
		return nil, fmt.Errorf("fetch the Sigstore trusted root via TUF: %w", err)
	}
	return &sigverify.Trust{Material: tr, Notes: []string{fmt.Sprintf("%s (%v)", note, err)}}, nil
}

// healTUFCache moves the repository's TUF state aside (one rename) and
// fetches the trusted root from an empty state in its place. When that
// works the old state is removed and the note says so; when it fails too,
// the old state is put back (the cache was not the problem: the network
// or the repository was) and the error returned.
func healTUFCache(opts *tuf.Options) (*root.TrustedRoot, string, error) {
	live := filepath.Join(opts.CachePath, tuf.URLToPath(opts.RepositoryBaseURL))
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	aside := live + ".discarded-" + hex.EncodeToString(rnd[:])
	if err := os.Rename(live, aside); err != nil {
		return nil, "", err // nothing to set aside: the cache was not the problem
	}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		_ = os.RemoveAll(live)
		_ = os.Rename(aside, live)
		return nil, "", err
	}
	_ = os.RemoveAll(aside)
	return tr, "the TUF cache " + live + " could not be used: discarded, and the Sigstore trusted root fetched again", nil
}
