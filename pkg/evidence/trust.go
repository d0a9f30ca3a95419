package evidence

import (
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/k8sverify/k8sverify/pkg/verify"
)

// PublicGoodTrust returns the Sigstore trusted root, fetched and verified
// with TUF: by default from the public-good repository with the TUF root
// embedded in sigstore-go (refreshed online; cached in cacheDir, or the
// default cache when empty).
func PublicGoodTrust(cacheDir string, src TUFSource) (*verify.Trust, error) {
	opts := tuf.DefaultOptions()
	if src.RepositoryURL != "" {
		opts.RepositoryBaseURL = src.RepositoryURL
	}
	if src.Root != nil {
		opts.Root = src.Root
	}
	if cacheDir != "" {
		opts = opts.WithCachePath(cacheDir)
	}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("fetch the Sigstore public-good trusted root via TUF: %w (name a trusted_root.json with --trusted-root to work without it)", err)
	}
	return &verify.Trust{Material: tr}, nil
}
