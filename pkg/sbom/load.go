package sbom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// MaxSize bounds the release SBOM LoadRelease reads (those of
// Kubernetes are a few MiB); a larger one is not used, whatever its lines.
const MaxSize = 64 << 20

// ErrTooLarge: the release SBOM exceeds MaxSize.
var ErrTooLarge = errors.New("the SBOM exceeds the size limit")

// ReleaseRequest asks LoadRelease for a release.
type ReleaseRequest struct {
	Version artifacts.Version
	// Locations are where the release's artifacts are published.
	Locations artifacts.Locations
	// SBOMURL is the SBOM site: the release SBOM is
	// <SBOMURL>/<version>/release.
	SBOMURL string
	// Open fetches the SBOM. Nil means offline: the catalog only.
	Open artifacts.Opener
	// Catalog is the release catalog (nil: the embedded one).
	Catalog *artifacts.Catalog
	// KeepSBOM keeps the release SBOM as read in the listing (to store it
	// in an evidence pack).
	KeepSBOM bool
}

// ReleaseListing is a release as LoadRelease found it.
type ReleaseListing struct {
	Release *artifacts.Release
	// Differences are what the SBOM and the catalog disagree on.
	Differences []artifacts.Difference
	// Warnings say what went wrong on the way, e.g. that the SBOM could not
	// be fetched and only the catalog was used. They deserve the user's
	// attention.
	Warnings []string
	// SBOM is the release SBOM as read, when it was used and
	// ReleaseRequest.KeepSBOM asked for it.
	SBOM []byte
}

// LoadRelease returns the release req asks for. Offline it is the
// catalog's (an error wrapping artifacts.ErrUnknownVersion for versions the catalog
// does not cover). Online it is the release SBOM merged with the catalog
// when the catalog covers the version, with their differences; when the
// SBOM cannot be had (or exceeds MaxSize), the catalog alone, with a
// warning saying so; and an error when neither is available.
func LoadRelease(ctx context.Context, req ReleaseRequest) (*ReleaseListing, error) {
	if req.Catalog == nil {
		req.Catalog = artifacts.Embedded()
	}
	catalog, catErr := req.Catalog.Release(req.Version, req.Locations)
	if req.Open == nil {
		if catErr != nil {
			return nil, catErr
		}
		return &ReleaseListing{Release: catalog}, nil
	}
	url := fmt.Sprintf("%s/%s/release", strings.TrimRight(req.SBOMURL, "/"), req.Version)
	online, raw, err := fetchSBOMRelease(ctx, req, url)
	if err != nil {
		if catErr != nil {
			return nil, fmt.Errorf("%w (%v)", err, catErr)
		}
		catalog.SBOMError = err.Error()
		return &ReleaseListing{Release: catalog, Warnings: []string{
			fmt.Sprintf("could not use the release SBOM of %s: %v", req.Version, err),
			fmt.Sprintf("listing %s from the release catalog ONLY: what was actually published was not checked, and release files are bound to their names and platforms by nothing but the download site", req.Version),
		}}, nil
	}
	if catErr != nil {
		return &ReleaseListing{Release: online, SBOM: raw, Warnings: []string{newerThanCatalog(req)}}, nil
	}
	return &ReleaseListing{Release: Merge(catalog, online), Differences: Diff(catalog, online), SBOM: raw}, nil
}

// fetchSBOMRelease reads the release SBOM at url, and keeps its bytes
// when req asks for them.
func fetchSBOMRelease(ctx context.Context, req ReleaseRequest, url string) (*artifacts.Release, []byte, error) {
	body, err := req.Open.Open(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("get the release SBOM: %w", err)
	}
	defer body.Close()
	var in io.Reader = &sizeCap{r: body, left: MaxSize}
	var kept *bytes.Buffer
	if req.KeepSBOM {
		kept = &bytes.Buffer{}
		in = io.TeeReader(in, kept)
	}
	s, err := Parse(in)
	if err != nil {
		return nil, nil, fmt.Errorf("release SBOM %s: %w", url, err)
	}
	r, err := s.Release(req.Version, req.Locations, req.Catalog)
	if err != nil {
		return nil, nil, fmt.Errorf("release SBOM %s: %w", url, err)
	}
	if kept != nil {
		return r, kept.Bytes(), nil
	}
	return r, nil, nil
}

// sizeCap fails a read past left bytes with ErrTooLarge.
type sizeCap struct {
	r    io.Reader
	left int64
}

func (c *sizeCap) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.err()
	}
	n, err := c.r.Read(p)
	if c.left -= int64(n); c.left < 0 {
		return n, c.err()
	}
	return n, err
}

func (c *sizeCap) err() error {
	return fmt.Errorf("%w: more than %d MiB", ErrTooLarge, MaxSize>>20)
}

// newerThanCatalog says what a release the catalog does not know is
// listed from, and what it goes without.
func newerThanCatalog(req ReleaseRequest) string {
	return fmt.Sprintf("%s is not in the release catalog (it covers %s): listed from its release SBOM alone, its sums and digests from the SBOM and the channels read for it; no release date (the signing-time rule has no previous release to hold its signatures to), no documented incidents of its own, no layout of its line to compare the SBOM with",
		req.Version, req.Catalog.Coverage())
}
