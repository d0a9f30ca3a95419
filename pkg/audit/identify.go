package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// maxReleasesSearched bounds the releases whose SBOM is read to identify a
// file known by its content alone: those released nearest the time the
// release team's signature of it was logged. Each costs one request, once
// per run however many files are identified.
const maxReleasesSearched = 3

// fileFinder identifies files by their content among the releases the
// catalog knows, reading each release's SBOM at most once.
type fileFinder struct {
	s        *Session
	listings map[artifacts.Version]*Listing
	failed   map[artifacts.Version]error
}

// found is a file identified: artifact a of release r, and how.
type found struct {
	r   *artifacts.Release
	a   *artifacts.Artifact
	how string
}

// fileFromContent verifies file p known by its content alone. The
// transparency log is searched for the release team's signatures of its
// SHA-256; a file so signed is identified from the releases' published
// sums — the catalog's CHANGELOG sums (no request), then the SBOMs of the
// releases out nearest its signing time — and verified as that release
// file. A file signed by the release team that none of them lists is
// never verified (signed by whom, but no release file).
func (s *Session) fileFromContent(ctx context.Context, judge *verify.Judge, p string, unknown artifacts.Artifact, sum verify.DigestClaim, finder *fileFinder) verify.Verdict {
	logged := judge.FromLog(unknown, s.fetcher.LogSearch(ctx, sum.Digest))
	if logged.Status != verify.StatusVerified {
		return logged
	}
	f, err := finder.find(ctx, p, sum.Digest.Hex, signedAt(logged))
	if err != nil {
		return judge.Judge(nil, unknown, verify.Evidence{Unavailable: err})
	}
	if f.a == nil {
		return judge.NotOfAnyRelease(logged, f.how)
	}
	ev, err := s.fileEvidence(ctx, *f.a, p, []verify.DigestClaim{sum})
	if err != nil {
		return judge.Judge(nil, unknown, verify.Evidence{Unavailable: err})
	}
	return misnamed(judge, f.r, judge.IdentifiedAs(f.r, *f.a, ev, p, f.how), unknown.Name)
}

// signedAt is when the deciding signature of a verified verdict was
// logged (zero: unknown).
func signedAt(v verify.Verdict) time.Time {
	for _, sig := range v.Signatures {
		if sig.Verified() && sig.SignedAt != nil {
			return *sig.SignedAt
		}
	}
	return time.Time{}
}

// find looks for the file whose SHA-256 is sum (hex): in the catalog's
// CHANGELOG sums (SHA-512 of the tarballs), then in the SBOMs of the
// releases out nearest signed. It says where it looked and what that
// cost.
func (f *fileFinder) find(ctx context.Context, p, sum string, signed time.Time) (found, error) {
	near := f.nearest(signed)
	requests := 0
	listing := func(v artifacts.Version) *Listing {
		if l, ok := f.listings[v]; ok {
			return l
		}
		if _, ok := f.failed[v]; ok {
			return nil
		}
		requests++
		l, err := f.s.LoadRelease(ctx, v.String(), Selection{Kinds: []artifacts.Kind{artifacts.KindBinary, artifacts.KindTarball}, NeverSigned: true})
		if err == nil && l.Release.SBOMError != "" {
			err = errors.New(l.Release.SBOMError) // the catalog's listing alone holds no SHA-256
		}
		if err != nil {
			f.failed[v] = err
			return nil
		}
		f.listings[v] = l
		return l
	}
	cost := func() string {
		return fmt.Sprintf("%d %s to identify it", requests, plural(requests, "request", "requests"))
	}
	if v, sha512, ok := f.changelogMatch(p); ok {
		if l := listing(v); l != nil {
			if a := withSum(l.Release, "sha512", artifacts.SumCatalog, sha512); a != nil {
				return found{r: l.Release, a: a, how: fmt.Sprintf("identified by the CHANGELOG sum of %s in the %s; %s", v, f.s.cfg.Catalog.Name(), cost())}, nil
			}
		}
	}
	var read, unread []string
	for _, v := range near {
		l := listing(v)
		if l == nil {
			unread = append(unread, fmt.Sprintf("%s (%v)", v, f.failed[v]))
			continue
		}
		read = append(read, v.String())
		if a := withSum(l.Release, "sha256", artifacts.SumSBOM, sum); a != nil {
			return found{r: l.Release, a: a, how: fmt.Sprintf("identified by its SHA-256 in the release SBOM of %s; %s", v, cost())}, nil
		}
	}
	how := fmt.Sprintf("looked for in the CHANGELOG sums of the %s and the release SBOMs of %s, the releases out nearest its signing time; %s",
		f.s.cfg.Catalog.Name(), orNone(strings.Join(read, ", ")), cost())
	if len(unread) > 0 {
		how += "; unread: " + strings.Join(unread, ", ")
	}
	return found{how: how}, nil
}

// changelogMatch returns the release whose CHANGELOG sums, as the
// catalog holds them, include the file's SHA-512, and that SHA-512.
func (f *fileFinder) changelogMatch(p string) (artifacts.Version, string, bool) {
	sums, err := hashFile(p, "sha512")
	if err != nil {
		return artifacts.Version{}, "", false
	}
	hex := sums[0].Digest.Hex
	for _, v := range f.s.cfg.Catalog.Versions() {
		if rel, err := f.s.cfg.Catalog.Release(v, artifacts.Locations{}); err == nil && withSum(rel, "sha512", artifacts.SumCatalog, hex) != nil {
			return v, hex, true
		}
	}
	return artifacts.Version{}, "", false
}

// nearest returns up to maxReleasesSearched releases of the catalog, those
// out nearest signed: on or after the day it was signed first (a file is
// signed while its release is cut), then earlier ones; undated ones last,
// newest first.
func (f *fileFinder) nearest(signed time.Time) []artifacts.Version {
	type cand struct {
		v    artifacts.Version
		dist time.Duration
	}
	var cs []cand
	for _, v := range f.s.cfg.Catalog.Versions() {
		rel, err := f.s.cfg.Catalog.Release(v, artifacts.Locations{})
		day, derr := time.Parse("2006-01-02", rel.Date)
		d := time.Duration(1 << 62)
		if err == nil && derr == nil && !signed.IsZero() {
			d = day.Add(24 * time.Hour).Sub(signed)
			if d < 0 {
				d = -d + 365*24*time.Hour // out before it was signed: unlikely
			}
		}
		cs = append(cs, cand{v, d})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.dist != b.dist {
			return int((a.dist - b.dist) / time.Second)
		}
		return b.v.Compare(a.v)
	})
	var vs []artifacts.Version
	for _, c := range cs[:min(len(cs), maxReleasesSearched)] {
		vs = append(vs, c.v)
	}
	return vs
}

// withSum returns the artifact of r with the sum of source.
func withSum(r *artifacts.Release, alg, source, hex string) *artifacts.Artifact {
	for i, a := range r.Artifacts {
		if a.SumFrom(alg, source) == hex {
			return &r.Artifacts[i]
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
