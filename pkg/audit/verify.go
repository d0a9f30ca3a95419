package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// VerifyRequest asks for the verification of releases.
type VerifyRequest struct {
	// Versions are "v1.24.17", "1.24.17", "latest-1.24", or a line
	// "1.24" (every patch release of it the catalog knows).
	Versions  []string
	Selection Selection
	VerifyOptions
	// Listed, when set, is called once with the releases as selected,
	// before their artifacts are verified (e.g. to show progress).
	Listed func(releases []*artifacts.Release)
}

// VerifyOptions say how a release's artifacts are verified.
type VerifyOptions struct {
	// Download streams each release file and verifies what arrived,
	// instead of its published .sha256; OutDir keeps the files that
	// verified, below OutDir/<version>/. Online only.
	Download bool
	OutDir   string
}

// Result is the outcome of a verification request.
type Result struct {
	// Release is what was verified; nil for files and images known by
	// themselves.
	Release  *artifacts.Release
	Verdicts []verify.Verdict
	// Warnings deserve the user's attention (the SBOM could not be had,
	// the verdicts come from a pack fetched at some time).
	Warnings []string
	// Requested is the alias the release was asked for by, when it was
	// not its version ("latest-1.24" for v1.24.17): a report says what
	// it resolved to.
	Requested string
	// MirrorsIndexes says whether a mirror of what was selected would copy
	// the indexes (see MirrorsIndexes): a mirror list says what mirror
	// would copy.
	MirrorsIndexes bool
}

// Verify verifies the artifacts of the releases and calls emit (serially,
// in completion order) for each verdict; the results hold them per
// release, in each release's order. Every artifact of every release runs
// in one pool, under one trust and one connection pool. The session's
// source gives the evidence (fetched online, or read from its pack); the
// same judge decides either way.
func (s *Session) Verify(ctx context.Context, req VerifyRequest, emit func(*artifacts.Release, verify.Verdict)) ([]*Result, error) {
	if err := req.check(s.src.Mode()); err != nil {
		return nil, err
	}
	versions, err := s.ExpandVersions(req.Versions)
	if err != nil {
		return nil, err
	}
	if s.src.Mode() == FromPack && len(versions) > 1 {
		return nil, classify(ErrRequest, errors.New("an evidence pack holds one release"))
	}
	// The trust loads while the releases are listed, and requests the
	// run makes anyway are sent meanwhile; verification waits for the
	// trust (Judge runs once). A call that ends early ends the load and
	// waits for it: nothing of the call writes the trust cache after it
	// returned (a load cut short is not kept).
	loadCtx, cancelLoad := context.WithCancel(ctx)
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		_, _ = s.Judge(loadCtx)
	}()
	defer func() {
		cancelLoad()
		<-loaded
	}()
	stop := s.warm(ctx, versions, req.Selection)
	defer stop()
	listings := make([]*Listing, len(versions))
	errs := make([]error, len(versions))
	s.Each(len(versions), func(i int) {
		listings[i], errs[i] = s.ListToJudge(ctx, versions[i], req.Selection)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	listings, versions = distinctReleases(listings, versions)
	rels := make([]*artifacts.Release, len(listings))
	for i, l := range listings {
		rels[i] = l.Release
	}
	if req.Listed != nil {
		req.Listed(rels)
	}
	results, err := s.VerifyReleases(ctx, rels, req.VerifyOptions, emit)
	if err != nil {
		return nil, err
	}
	for i, r := range results {
		r.Warnings = append(listings[i].Warnings, r.Warnings...)
		r.MirrorsIndexes = MirrorsIndexes(req.Selection.Platforms)
		if versions[i] != r.Release.Version.String() {
			r.Requested = versions[i]
		}
	}
	return results, nil
}

// distinctReleases drops the listings of a release listed before, with
// the versions they were listed for: an alias resolves to a version also
// asked for ("latest-1.24 v1.24.17"), and each release is judged once.
// The release keeps an alias it was asked for by, in either order, for
// the report to say what the alias resolved to.
func distinctReleases(listings []*Listing, versions []string) ([]*Listing, []string) {
	var ls []*Listing
	var vs []string
	seen := map[artifacts.Version]int{}
	for i, l := range listings {
		if at, ok := seen[l.Release.Version]; ok {
			if vs[at] == l.Release.Version.String() {
				vs[at] = versions[i]
			}
			continue
		}
		seen[l.Release.Version] = len(ls)
		ls, vs = append(ls, l), append(vs, versions[i])
	}
	return ls, vs
}

// VerifyReleases verifies the artifacts of releases already listed (see
// LoadRelease), as Verify does.
func (s *Session) VerifyReleases(ctx context.Context, rels []*artifacts.Release, o VerifyOptions, emit func(*artifacts.Release, verify.Verdict)) ([]*Result, error) {
	return s.verifyReleases(ctx, rels, o, s.src, emit)
}

// verifyReleases is VerifyReleases with the evidence from src.
func (s *Session) verifyReleases(ctx context.Context, rels []*artifacts.Release, o VerifyOptions, src Source, emit func(*artifacts.Release, verify.Verdict)) ([]*Result, error) {
	if err := o.check(src.Mode()); err != nil {
		return nil, err
	}
	if len(rels) == 0 || (src.Mode() == FromPack && len(rels) > 1) {
		return nil, classify(ErrRequest, fmt.Errorf("%d releases (an evidence pack holds one)", len(rels)))
	}
	results := make([]*Result, len(rels))
	for i, rel := range rels {
		if err := src.admit(rel); err != nil {
			return nil, err
		}
		results[i] = &Result{Release: rel, Verdicts: make([]verify.Verdict, len(rel.Artifacts)), MirrorsIndexes: true}
		if ps, ok := src.(*packSource); ok {
			results[i].Warnings = ps.warnings("verified offline")
		}
	}
	judge, err := s.Judge(ctx)
	if err != nil {
		return untrusted(ctx, rels, results, err, emit)
	}
	results[0].Warnings = append(results[0].Warnings, s.takeTrustNotes()...)
	type job struct{ r, a int }
	var jobs []job
	for r, rel := range rels {
		for a := range rel.Artifacts {
			jobs = append(jobs, job{r, a})
		}
	}
	scheduleLongestFirst(jobs, func(j job) artifacts.Artifact { return rels[j.r].Artifacts[j.a] })
	// Without downloads an artifact's evidence is small: the concurrency
	// scales with the work. A download holds a transfer's buffers: those
	// keep the default.
	limit := s.limit(len(jobs))
	if o.Download {
		limit = s.limit(0)
	}
	var mu sync.Mutex
	s.eachAtOnce(limit, len(jobs), func(i int) {
		j := jobs[i]
		rel := rels[j.r]
		v := s.artifact(ctx, judge, src, o, rel, rel.Artifacts[j.a])
		mu.Lock()
		defer mu.Unlock()
		results[j.r].Verdicts[j.a] = v
		if emit != nil {
			emit(rel, v)
		}
	})
	return results, nil
}

// scheduleLongestFirst orders jobs so that the longest dependent chains
// start first: images (tag, manifest, configuration, index, signatures,
// log) before files (side files, log).
func scheduleLongestFirst[J any](jobs []J, artifact func(J) artifacts.Artifact) {
	rank := func(a artifacts.Artifact) int {
		switch {
		case a.Kind == artifacts.KindImage && !a.Platform.IsZero():
			return 0
		case a.Kind == artifacts.KindImage:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(jobs, func(x, y J) int { return rank(artifact(x)) - rank(artifact(y)) })
}

func (req VerifyOptions) check(m Mode) error {
	switch {
	case req.OutDir != "" && !req.Download:
		return classify(ErrRequest, errors.New("keeping downloaded files needs a download"))
	case m == FromPack && req.Download:
		return classify(ErrRequest, errors.New("downloading needs the network; an evidence pack is verified without it"))
	}
	return req.makeOutDir()
}

// makeOutDir makes the directory downloaded files are kept in before
// anything is fetched, so that one that cannot be (a file of that name,
// a directory not writable) is refused at once, not once per artifact.
func (req VerifyOptions) makeOutDir() error {
	if req.OutDir == "" {
		return nil
	}
	if fi, err := os.Stat(req.OutDir); err == nil && !fi.IsDir() {
		return classify(ErrLocalInput, fmt.Errorf("the directory to keep downloaded files in, %s, is not a directory", req.OutDir))
	}
	if err := os.MkdirAll(req.OutDir, 0o755); err != nil {
		return classify(ErrLocalInput, fmt.Errorf("the directory to keep downloaded files in: %w", err))
	}
	return nil
}

// artifact fetches (or reads) one artifact's evidence, has the judge
// decide, and keeps a downloaded file only when it verified. Once the
// request's context has ended, an artifact is an error saying why.
func (s *Session) artifact(ctx context.Context, judge *verify.Judge, src Source, o VerifyOptions, r *artifacts.Release, a artifacts.Artifact) verify.Verdict {
	start := time.Now()
	if ctx.Err() != nil {
		return judge.Judge(r, a, verify.Evidence{Unavailable: context.Cause(ctx)})
	}
	var kept *keptFile
	var opt EvidenceOptions
	if o.Download && a.Kind != artifacts.KindImage {
		var err error
		if kept, err = newKeptFile(o.OutDir, r, a); err != nil {
			return judge.Judge(r, a, verify.Evidence{Unavailable: classify(ErrLocalInput, err)})
		}
		if opt.Sink = kept.writer(); opt.Sink == nil {
			opt.Sink = io.Discard // downloaded and hashed, not kept
		}
	}
	ev := src.Evidence(transport.WithLabel(ctx, a.ID()), r, a, opt)
	v := judge.Judge(r, a, ev)
	if err := kept.finish(v.Status == verify.StatusVerified); err != nil {
		v = judge.Judge(r, a, verify.Evidence{Unavailable: fmt.Errorf("verified, but keeping the file failed: %w", err)})
	}
	v.Elapsed = time.Since(start)
	return overdue(ctx, judge, r, v)
}

// MirrorsIndexes says whether a mirror of these platforms copies the
// multi-arch indexes: an index lists every platform, so copying it would
// copy platforms not asked for; a mirror restricted to platforms leaves
// indexes out. The one rule for mirror (pkg/mirror) and for verify's
// mirror list.
func MirrorsIndexes(platforms []artifacts.Platform) bool { return len(platforms) == 0 }

// untrusted ends a verification whose trusted material could not be had
// (the TUF repository unreachable, or the deadline passing while it was
// read): every artifact is an error saying why, so that the reports are
// written as for any run that could not check. Local input that is no
// trusted material, and an interrupt, stay the call's error.
func untrusted(ctx context.Context, rels []*artifacts.Release, results []*Result, err error, emit func(*artifacts.Release, verify.Verdict)) ([]*Result, error) {
	if !errors.Is(err, sigverify.ErrNoTrust) || errors.Is(context.Cause(ctx), context.Canceled) {
		return nil, err
	}
	for r, rel := range rels {
		for a, art := range rel.Artifacts {
			v := verify.Verdict{Artifact: art, Status: verify.StatusError, Reason: "could not check without trusted material: " + err.Error(), Err: err}
			results[r].Verdicts[a] = v
			if emit != nil {
				emit(rel, v)
			}
		}
	}
	return results, nil
}
