package evidence

import (
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/k8sverify/k8sverify/pkg/verify"
)

// TrustSource says where the trusted root of a run comes from, in order
// of precedence: a trusted_root.json file the user names; else, offline,
// the TUF metadata of an evidence pack; else TUF online.
type TrustSource struct {
	// File is a trusted_root.json.
	File string
	// Pack, for offline verification, carries TUF metadata verified from
	// TUF.Root (never a trusted root merely lying in the pack).
	Pack *Pack
	// TUF is the repository and trusted TUF root; zero: public-good.
	TUF TUFSource
	// CacheDir caches TUF metadata online ("" : sigstore-go's default).
	CacheDir string
}

// LoadTrust loads the trusted material of a run, once.
func LoadTrust(s TrustSource) (*verify.Trust, error) {
	switch {
	case s.File != "":
		return verify.LoadTrustedRoot(s.File)
	case s.Pack != nil:
		return TrustFromPack(s.Pack, s.TUF)
	default:
		return PublicGoodTrust(s.CacheDir, s.TUF)
	}
}

// PublicGoodTrust returns the Sigstore trusted root, fetched and verified
// with TUF: by default from the public-good repository with the TUF root
// embedded in sigstore-go (refreshed online; cached in cacheDir, or the
// default cache when empty).
func PublicGoodTrust(cacheDir string, src TUFSource) (*verify.Trust, error) {
	opts := src.options()
	opts.DisableLocalCache = false
	if cacheDir != "" {
		opts = opts.WithCachePath(cacheDir)
	}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("fetch the Sigstore trusted root via TUF: %w (name a trusted_root.json with --trusted-root to work without it)", err)
	}
	return &verify.Trust{Material: tr}, nil
}
