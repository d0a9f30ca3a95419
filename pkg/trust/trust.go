package trust

import (
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"

	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/verify"
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
	// TUF is the repository and trusted TUF root; zero: public-good.
	TUF TUF
	// CacheDir caches TUF metadata online ("" : sigstore-go's default).
	CacheDir string
	// Fetcher fetches TUF metadata online (nil: go-tuf's default; a run
	// gives NewFetcher of its HTTP client).
	Fetcher fetcher.Fetcher
}

// Load loads the trusted material of a run, once.
func Load(s Source) (*verify.Trust, error) {
	switch {
	case s.File != "":
		return verify.LoadTrustedRoot(s.File)
	case s.Pack != nil:
		return FromPack(s.Pack, s.TUF)
	case s.PackDir != "":
		p, err := pack.Open(s.PackDir)
		if err != nil {
			return nil, err
		}
		defer p.Close()
		return FromPack(p, s.TUF)
	default:
		return publicGoodTrust(s.CacheDir, s.TUF, s.Fetcher)
	}
}

// publicGoodTrust returns the Sigstore trusted root, fetched and verified
// with TUF: by default from the public-good repository with the TUF root
// embedded in sigstore-go (refreshed online; cached in cacheDir, or the
// default cache when empty).
func publicGoodTrust(cacheDir string, src TUF, f fetcher.Fetcher) (*verify.Trust, error) {
	opts := src.options()
	if f != nil {
		opts.Fetcher = f
	}
	opts.DisableLocalCache = false
	if cacheDir != "" {
		opts = opts.WithCachePath(cacheDir)
	}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("fetch the Sigstore trusted root via TUF: %w", err)
	}
	return &verify.Trust{Material: tr}, nil
}
