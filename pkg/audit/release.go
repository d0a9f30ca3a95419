package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sbom"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// ErrNoSuchRelease: the version asked for does not exist (its stable
// marker or SBOM answers 404) or is not in the catalog offline.
var ErrNoSuchRelease = errors.New("no such release")

// Selection says which artifacts of a release a request is about. Its
// zero value selects every artifact a release signs: files never signed
// by the release process (.docker_tag) only when asked for.
type Selection struct {
	Kinds     []artifacts.Kind
	Platforms []artifacts.Platform
	// NeverSigned also selects files the release process never signs.
	NeverSigned bool
}

// Listing is a release as a request found it, restricted to the selection.
type Listing struct {
	Release *artifacts.Release
	// Differences are what the SBOM and the catalog disagree on, about
	// the selected artifacts.
	Differences []artifacts.Difference
	// Warnings say what went wrong on the way (the SBOM could not be had).
	Warnings []string
	// SBOM is the release SBOM as read, when kept (for an evidence pack).
	SBOM []byte
	// Channels are the channel documents read for the release (for an
	// evidence pack): none when the catalog holds its sums.
	Channels artifacts.ChannelDocuments
}

// LoadRelease resolves version ("v1.24.17", "1.24.17", "latest-1.24") and
// lists the release as the session's source has it: online from its SBOM
// and the catalog, from an evidence pack with the SBOM the pack keeps,
// offline from the catalog alone; restricted to the selection, which must
// select something.
func (s *Session) LoadRelease(ctx context.Context, version string, sel Selection) (*Listing, error) {
	resolve, sbom := s.src.openers()
	return s.loadRelease(ctx, version, sel, resolve, sbom, false)
}

// ListWithDocuments lists a release as LoadRelease does, keeping the
// documents it was listed from (the SBOM's bytes, the channel documents
// read) in the listing, for an evidence pack to list it offline as it was
// listed here.
func (s *Session) ListWithDocuments(ctx context.Context, version string, sel Selection) (*Listing, error) {
	resolve, sbom := s.src.openers()
	return s.loadRelease(ctx, version, sel, resolve, sbom, true)
}

// loadRelease lists a release, resolving its version through resolve and
// reading its SBOM through openSBOM (nil: offline, the catalog only); keep
// keeps the SBOM's bytes in the listing.
func (s *Session) loadRelease(ctx context.Context, version string, sel Selection, resolve, openSBOM artifacts.Opener, keep bool) (*Listing, error) {
	v, err := artifacts.ResolveVersion(ctx, version, s.cfg.Endpoints.DownloadURL, resolve)
	if err != nil {
		return nil, releaseError(err)
	}
	listing, err := sbom.LoadRelease(ctx, sbom.ReleaseRequest{
		Version:   v,
		Locations: artifacts.Locations{DownloadURL: s.cfg.Endpoints.DownloadURL, Registry: s.cfg.Endpoints.Registry},
		SBOMURL:   s.cfg.Endpoints.SBOMURL,
		Open:      openSBOM,
		Catalog:   s.cfg.Catalog,
		KeepSBOM:  keep,
	})
	if err != nil {
		return nil, releaseError(err)
	}
	rel, err := sel.Apply(listing.Release)
	if err != nil {
		return nil, err
	}
	out := &Listing{Release: rel, Differences: selectDifferences(listing.Differences, rel), Warnings: listing.Warnings, SBOM: listing.SBOM}
	if !s.cfg.Catalog.HoldsSums(v) {
		var warnings []string
		out.Channels, warnings = s.channels.Bind(ctx, rel)
		out.Warnings = append(out.Warnings, warnings...)
	}
	return out, nil
}

// ListToJudge lists a release whose artifacts are to be judged, as verify
// and mirror list it: as LoadRelease does, except that a selection of
// images alone reads no SBOM when the catalog covers the release (the
// SBOM binds release files; such a release's images are listed and bound
// by the catalog: an air-gapped site verifying its own registry has no
// SBOM to read). An empty version is the session's evidence pack's
// release.
func (s *Session) ListToJudge(ctx context.Context, version string, sel Selection) (*Listing, error) {
	if ps, ok := s.src.(*packSource); ok && version == "" {
		version = ps.p.Manifest.Release
	}
	if version == "" {
		return nil, classify(ErrRequest, errors.New("no version"))
	}
	resolve, sbom := s.src.openers()
	if sel.imagesOnly() {
		if v, err := artifacts.ParseVersion(version); err == nil {
			if _, err := s.cfg.Catalog.Release(v, artifacts.Locations{}); err == nil {
				sbom = nil
			}
		}
	}
	return s.loadRelease(ctx, version, sel, resolve, sbom, false)
}

// releaseError classifies an error of listing: what was asked for does
// not exist or needs the network (a request error), or could not be had.
func releaseError(err error) error {
	switch {
	case errors.Is(err, artifacts.ErrMalformedVersion), errors.Is(err, artifacts.ErrNeedsNetwork):
		return classify(ErrRequest, err)
	case errors.Is(err, artifacts.ErrUnknownVersion), errors.Is(err, transport.ErrNotFound):
		return classify(ErrNoSuchRelease, err)
	}
	return err
}

// Apply restricts a release to the selection; a selection that matches
// nothing is an error naming what the release has.
func (sel Selection) Apply(all *artifacts.Release) (*artifacts.Release, error) {
	rel := all.Filter(sel.Kinds, sel.Platforms)
	if !sel.NeverSigned {
		rel.Artifacts = slices.DeleteFunc(rel.Artifacts, func(a artifacts.Artifact) bool { return a.Signing == artifacts.SigningNever })
	}
	what := sel.kindNames()
	for _, p := range sel.Platforms {
		if !slices.ContainsFunc(rel.Artifacts, func(a artifacts.Artifact) bool { return a.Platform == p }) {
			return nil, classify(ErrRequest, fmt.Errorf("%s publishes no %s for %s; it has them for: %s", all.Version, what, p, platformList(all.Platforms(sel.Kinds...))))
		}
	}
	if len(rel.Artifacts) == 0 {
		return nil, classify(ErrRequest, fmt.Errorf("%s publishes no %s", all.Version, what))
	}
	return rel, nil
}

// imagesOnly: the selection holds images and nothing else.
func (sel Selection) imagesOnly() bool {
	return len(sel.Kinds) > 0 && !slices.ContainsFunc(sel.Kinds, func(k artifacts.Kind) bool { return k != artifacts.KindImage })
}

func (sel Selection) kindNames() string {
	if len(sel.Kinds) == 0 {
		return "artifacts"
	}
	var s []string
	for _, k := range sel.Kinds {
		s = append(s, string(k)+"s")
	}
	return strings.Join(s, " or ")
}

func platformList(ps []artifacts.Platform) string {
	if len(ps) == 0 {
		return "no platform"
	}
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// selectDifferences keeps the differences about selected artifacts.
func selectDifferences(diffs []artifacts.Difference, selected *artifacts.Release) []artifacts.Difference {
	ids := map[string]bool{}
	for _, a := range selected.Artifacts {
		ids[a.ID()] = true
	}
	var out []artifacts.Difference
	for _, d := range diffs {
		if ids[d.Artifact.ID()] {
			out = append(out, d)
		}
	}
	return out
}

// ExpandVersions expands release lines ("1.24": every patch release of
// the line the session's catalog knows) among versions; a version is
// written as the release names it ("1.24.17" is "v1.24.17"), an alias
// ("latest-1.24") kept as it is, to be resolved when listed. Duplicates
// are dropped, in the order first given: "1.24 v1.24.17" judges v1.24.17
// once.
func (s *Session) ExpandVersions(versions []string) ([]string, error) {
	if len(versions) == 0 {
		return nil, classify(ErrRequest, errors.New("no version"))
	}
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range versions {
		line, ok := artifacts.ParseLine(v)
		if !ok {
			if pv, err := artifacts.ParseVersion(v); err == nil {
				v = pv.String()
			}
			add(v)
			continue
		}
		found := false
		for _, cv := range s.cfg.Catalog.Versions() {
			if cv.Line() == line {
				add(cv.String())
				found = true
			}
		}
		if !found {
			return nil, classify(ErrRequest, fmt.Errorf("%w: the catalog knows no release of line %s (it covers %s)", artifacts.ErrUnknownVersion, line, s.cfg.Catalog.Coverage()))
		}
	}
	return out, nil
}
