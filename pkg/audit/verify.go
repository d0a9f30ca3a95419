package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
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
	// verified, below OutDir/<version>/.
	Download bool
	OutDir   string
	// Pack verifies offline from the evidence pack in this directory
	// (written by Fetch): no request leaves the machine. FilesDir holds
	// release files to hash and bind (laid out as OutDir).
	Pack     string
	FilesDir string
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
}

// Verify verifies the artifacts of the releases and calls emit (serially,
// in completion order) for each verdict; the results hold them per
// release, in each release's order. Every artifact of every release runs
// in one pool, under one trust and one connection pool. Online, the
// evidence is fetched; with Pack it is read from the pack. Either way the
// same judge decides.
func (s *Session) Verify(ctx context.Context, req VerifyRequest, emit func(*artifacts.Release, verify.Verdict)) ([]*Result, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := req.check(); err != nil {
		return nil, err
	}
	versions, err := s.ExpandVersions(req.Versions)
	if err != nil {
		return nil, err
	}
	if req.Pack != "" && len(versions) > 1 {
		return nil, classify(ErrRequest, errors.New("an evidence pack holds one release"))
	}
	if req.Pack == "" {
		// The trust (TUF online, or a file) loads while the releases are
		// listed; verification waits for it (judgeOf runs once).
		go func() { _, _ = s.judgeOf(ctx, nil) }()
	}
	listings := make([]*Listing, len(versions))
	errs := make([]error, len(versions))
	s.each(len(versions), func(i int) {
		if req.Pack != "" {
			// Offline: listed from the catalog and the SBOM the pack keeps.
			listings[i], errs[i] = s.listToJudge(ctx, versions[i], req.Selection, nil, packSBOM{dir: req.Pack})
			return
		}
		listings[i], errs[i] = s.listToJudge(ctx, versions[i], req.Selection, s.http, s.http)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
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
	}
	return results, nil
}

// VerifyReleases verifies the artifacts of releases already listed (see
// LoadRelease), as Verify does.
func (s *Session) VerifyReleases(ctx context.Context, rels []*artifacts.Release, o VerifyOptions, emit func(*artifacts.Release, verify.Verdict)) ([]*Result, error) {
	return s.verifyReleases(ctx, rels, o, s.fetcher, emit)
}

// verifyReleases is VerifyReleases with the evidence fetched online by f.
func (s *Session) verifyReleases(ctx context.Context, rels []*artifacts.Release, o VerifyOptions, f *evidence.Fetcher, emit func(*artifacts.Release, verify.Verdict)) ([]*Result, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := o.check(); err != nil {
		return nil, err
	}
	if len(rels) == 0 || (o.Pack != "" && len(rels) > 1) {
		return nil, classify(ErrRequest, fmt.Errorf("%d releases (an evidence pack holds one)", len(rels)))
	}
	results := make([]*Result, len(rels))
	sources := make([]source, len(rels))
	defer func() {
		for _, src := range sources {
			if src != nil {
				src.close()
			}
		}
	}()
	for i, rel := range rels {
		src, warnings, err := s.source(o, rel, f)
		if err != nil {
			return nil, err
		}
		sources[i] = src
		results[i] = &Result{Release: rel, Verdicts: make([]verify.Verdict, len(rel.Artifacts)), Warnings: warnings}
	}
	judge, err := s.judgeOf(ctx, sources[0].pack())
	if err != nil {
		return nil, err
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
	var mu sync.Mutex
	s.each(len(jobs), func(i int) {
		j := jobs[i]
		rel := rels[j.r]
		v := s.artifact(ctx, judge, sources[j.r], rel, rel.Artifacts[j.a])
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

func (req VerifyOptions) check() error {
	switch {
	case req.OutDir != "" && !req.Download:
		return classify(ErrRequest, errors.New("keeping downloaded files needs a download"))
	case req.FilesDir != "" && req.Pack == "":
		return classify(ErrRequest, errors.New("a directory of release files is verified against an evidence pack"))
	case req.Pack != "" && req.Download:
		return classify(ErrRequest, errors.New("downloading needs the network; an evidence pack is verified without it"))
	}
	return nil
}

// artifact fetches (or reads) one artifact's evidence, has the judge
// decide, and keeps a downloaded file only when it verified. Once the
// request's context has ended, an artifact is an error saying why.
func (s *Session) artifact(ctx context.Context, judge *verify.Judge, src source, r *artifacts.Release, a artifacts.Artifact) verify.Verdict {
	start := time.Now()
	if ctx.Err() != nil {
		return judge.Judge(r, a, verify.Evidence{Unavailable: context.Cause(ctx)})
	}
	ev, kept := src.evidence(ctx, r, a)
	v := judge.Judge(r, a, ev)
	if err := kept.finish(v.Status == verify.StatusVerified); err != nil {
		v = judge.Judge(r, a, verify.Evidence{Unavailable: fmt.Errorf("verified, but keeping the file failed: %w", err)})
	}
	v.Elapsed = time.Since(start)
	return overdue(ctx, judge, r, v)
}

// source gives the evidence of a release's artifacts.
type source interface {
	evidence(ctx context.Context, r *artifacts.Release, a artifacts.Artifact) (verify.Evidence, *keptFile)
	pack() *evidence.Pack
	close()
}

func (s *Session) source(req VerifyOptions, rel *artifacts.Release, f *evidence.Fetcher) (source, []string, error) {
	if req.Pack == "" {
		return &onlineSource{f: f, download: req.Download, outDir: req.OutDir}, nil, nil
	}
	return openPackSource(req.Pack, req.FilesDir, rel)
}

// onlineSource fetches evidence from the network.
type onlineSource struct {
	f        *evidence.Fetcher
	download bool
	outDir   string
}

func (o *onlineSource) pack() *evidence.Pack { return nil }
func (o *onlineSource) close()               {}

func (o *onlineSource) evidence(ctx context.Context, r *artifacts.Release, a artifacts.Artifact) (verify.Evidence, *keptFile) {
	if a.Kind == artifacts.KindImage {
		return o.f.Image(ctx, a), nil
	}
	if !o.download {
		return o.f.Blob(ctx, a, evidence.BlobOptions{}), nil
	}
	sink, err := newKeptFile(o.outDir, r, a)
	if err != nil {
		return verify.Evidence{Unavailable: classify(ErrLocalInput, err)}, nil
	}
	ev := o.f.Blob(ctx, a, evidence.BlobOptions{Download: true, Sink: sink.writer()})
	return ev, sink
}

// packSource reads evidence from an evidence pack, and hashes release
// files from a directory or the pack itself.
type packSource struct {
	p     *evidence.Pack
	files *filesDir
}

func openPackSource(dir, filesDir string, rel *artifacts.Release) (source, []string, error) {
	p, err := evidence.OpenPack(dir)
	if err != nil {
		return nil, nil, err
	}
	if p.Manifest.Release != rel.Version.String() {
		p.Close()
		return nil, nil, classify(ErrLocalInput, fmt.Errorf("the evidence pack %s holds %s, not %s", dir, p.Manifest.Release, rel.Version))
	}
	if err := checkDuplicates(p.Manifest); err != nil {
		p.Close()
		return nil, nil, err
	}
	src := &packSource{p: p}
	if filesDir != "" {
		if src.files, err = openFilesDir(filesDir); err != nil {
			p.Close()
			return nil, nil, err
		}
	}
	warnings := []string{"verified offline from the evidence pack " + dir + ", fetched " + p.Manifest.Created.UTC().Format("2006-01-02T15:04:05Z")}
	if !p.Manifest.Complete {
		warnings = append(warnings, "the evidence pack is incomplete: some artifacts' evidence could not be fetched")
	}
	return src, warnings, nil
}

func checkDuplicates(m *evidence.Manifest) error {
	seen := map[string]bool{}
	for _, e := range m.Artifacts {
		if seen[e.Key()] {
			return fmt.Errorf("%w: %s is listed twice", evidence.ErrBadPack, e.Key())
		}
		seen[e.Key()] = true
	}
	return nil
}

func (p *packSource) pack() *evidence.Pack { return p.p }

func (p *packSource) close() {
	p.p.Close()
	if p.files != nil {
		p.files.Close()
	}
}

func (p *packSource) evidence(_ context.Context, r *artifacts.Release, a artifacts.Artifact) (verify.Evidence, *keptFile) {
	e, ok := p.p.Lookup(a)
	if !ok {
		return verify.Evidence{Unavailable: errors.New("not in the evidence pack: fetch it again")}, nil
	}
	ev := p.p.Evidence(e)
	if a.Kind == artifacts.KindImage || ev.Missing != "" || ev.Unavailable != nil {
		return ev, nil
	}
	claims, err := p.fileClaims(r, a, e)
	if err != nil {
		return verify.Evidence{Unavailable: err}, nil
	}
	ev.Digests = append(ev.Digests, claims...)
	return ev, nil
}

// fileClaims hashes the artifact's file, from the files directory or the
// pack; none when neither has it.
func (p *packSource) fileClaims(r *artifacts.Release, a artifacts.Artifact, e *evidence.PackArtifact) ([]verify.DigestClaim, error) {
	if p.files != nil {
		rel, err := releasePath(r, a)
		if err != nil {
			return nil, err
		}
		return p.files.hash(r.Version.String() + "/" + rel)
	}
	if e.File == "" {
		return nil, nil
	}
	f, err := p.p.Open(e.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums, err := hashReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s in the pack: %w", e.File, err)
	}
	return sums, nil
}
