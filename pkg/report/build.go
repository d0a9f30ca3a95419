package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Section is the verdicts on one release's artifacts (Release nil for
// files and images known by themselves).
type Section struct {
	Release  *artifacts.Release
	Verdicts []verify.Verdict
	// NoIndexMirror: a mirror of what this section selected copies no
	// multi-arch index (a selection of platforms), so the mirror list
	// lists none.
	NoIndexMirror bool
	// Requested is the alias the release was asked for by ("latest-1.24"),
	// when it is not its version: the report says what it resolved to.
	Requested string
}

// NewVerification builds a verification report.
func NewVerification(tool Tool, now time.Time, sections []Section, warnings []string) *Report {
	r := &Report{SchemaVersion: SchemaVersion, Kind: KindVerification, Tool: tool, GeneratedAt: now.UTC(),
		Releases: []Release{}, Summary: &Summary{}, Artifacts: []Artifact{}, Incidents: []Incident{}, Warnings: orEmpty(warnings)}
	for _, s := range sections {
		var sum *Summary
		version := ""
		if s.Release != nil {
			version = s.Release.Version.String()
			sum = &Summary{}
			r.Releases = append(r.Releases, Release{Version: version, Requested: s.Requested, Date: s.Release.Date, Source: s.Release.Source, Summary: sum})
			for _, in := range s.Release.Incidents {
				r.Incidents = append(r.Incidents, incidentOf(in, version))
			}
		}
		for _, v := range s.Verdicts {
			if v.Err != nil {
				r.errs = append(r.errs, v.Err)
			}
			a := verdictArtifact(v)
			a.Release = version
			a.noMirror = s.NoIndexMirror && a.Kind == "image" && a.Platform == ""
			a.unboundName = s.Release != nil && v.Artifact.Kind == artifacts.KindBinary && v.Artifact.OmittedFromSBOM()
			r.Artifacts = append(r.Artifacts, a)
			r.Summary.add(a.Status)
			if sum != nil {
				sum.add(a.Status)
			}
		}
	}
	r.NotChecked = gaps(r.Artifacts)
	return r
}

// Caused reports whether target (errors.Is) caused a verdict of the
// report: what to advise is decided on errors, never on rendered reasons.
func (r *Report) Caused(target error) bool {
	return slices.ContainsFunc(r.errs, func(err error) bool { return errors.Is(err, target) })
}

// gaps says what the verdicts do not cover.
func gaps(as []Artifact) []Gap {
	served, unbound := 0, 0
	for _, a := range as {
		if a.Status == StatusVerified && a.Covers == CoversPublishedDigest {
			served++
		}
		if a.Status == StatusVerified && a.unboundName {
			unbound++
		}
	}
	var gs []Gap
	if served > 0 {
		gs = append(gs, Gap{Kind: GapServedFiles, Count: served,
			Description: fmt.Sprintf("the bytes the download site serves for %d %s verified by their published digest (not downloaded)", served, plural(served, "file", "files"))})
	}
	if unbound > 0 {
		gs = append(gs, Gap{Kind: GapUnboundArchives, Count: unbound,
			Description: fmt.Sprintf("the names and platforms of %d image %s (.tar), verified on their signature alone: the release SBOM leaves them out, so nothing but the download site binds each to its name and platform", unbound, plural(unbound, "archive", "archives"))})
	}
	return gs
}

// NewListing builds the listing report of release rel.
func NewListing(tool Tool, now time.Time, rel *artifacts.Release, diffs []artifacts.Difference, warnings []string) *Report {
	version := rel.Version.String()
	r := &Report{SchemaVersion: SchemaVersion, Kind: KindListing, Tool: tool, GeneratedAt: now.UTC(),
		Releases:  []Release{{Version: version, Date: rel.Date, Source: rel.Source}},
		Artifacts: []Artifact{}, Incidents: []Incident{}, Differences: []Difference{}, Warnings: orEmpty(warnings)}
	for _, a := range rel.Artifacts {
		la := listedArtifact(a)
		la.Release = version
		for _, in := range rel.IncidentsFor(a) {
			la.Incidents = append(la.Incidents, in.ID)
		}
		r.Artifacts = append(r.Artifacts, la)
	}
	for _, in := range rel.Incidents {
		r.Incidents = append(r.Incidents, incidentOf(in, version))
	}
	for _, d := range diffs {
		r.Differences = append(r.Differences, Difference{Artifact: listedArtifact(d.Artifact), OnlyIn: d.OnlyIn})
	}
	return r
}

func listedArtifact(a artifacts.Artifact) Artifact {
	out := Artifact{Kind: string(a.Kind), Name: a.Name, Platform: a.Platform.String(), Location: a.Location,
		Signer: identityOf(a.Signer), Signing: string(a.Signing), SigningNote: a.SigningNote,
		SHA256: a.Sum("sha256", artifacts.SumSBOM), SHA512: a.Sum("sha512", artifacts.SumCatalog)}
	for _, s := range a.Sums {
		out.Sums = append(out.Sums, Sum{Algorithm: s.Algorithm, Hex: s.Hex, Source: s.Source})
	}
	for _, u := range a.Unbound {
		out.Unbound = append(out.Unbound, Unbound{Channel: u.Channel, Reason: u.Reason})
	}
	return out
}

func verdictArtifact(v verify.Verdict) Artifact {
	a := listedArtifact(v.Artifact)
	a.SHA256, a.SHA512, a.Sums = "", "", nil
	a.Status, a.Reason, a.FailedCheck = Status(v.Status), v.Reason, string(v.FailedCheck)
	a.Digest, a.DigestSource = v.Digest, string(v.DigestSource)
	a.Checks = checks(v.Checks)
	a.Seconds = v.Elapsed.Seconds()
	if v.Status == verify.StatusVerified || v.Status == verify.StatusFailed {
		a.Covers = coversOf(v.DigestSource) // what was verified, or found wrong
	}
	a.canceled = errors.Is(v.Err, context.Canceled)
	for _, in := range v.Incidents {
		a.Incidents = append(a.Incidents, in.ID)
	}
	for _, s := range v.Signatures {
		a.Signatures = append(a.Signatures, signature(s))
	}
	return a
}

func signature(s *verify.SignatureResult) Signature {
	out := Signature{Source: string(s.Source), Location: s.Location, Verified: s.Verified(), LogIndex: s.LogIndex,
		IntegratedTime: s.IntegratedTime, SignedAt: s.SignedAt, DockerReference: s.DockerReference,
		AcceptedIncident: s.AcceptedIncident, References: s.References, Checks: checks(s.Checks), Notes: s.Notes, Error: s.Error}
	if s.Signer != nil {
		out.Signer = identityOf(*s.Signer)
	}
	if out.Checks == nil {
		out.Checks = []Check{}
	}
	return out
}

func checks(cs []sigverify.Check) []Check {
	var out []Check
	for _, c := range cs {
		out = append(out, Check{Name: string(c.Name), OK: c.OK, Expected: c.Expected, Actual: c.Actual, Error: c.Error})
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}
