package audit

import (
	"context"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// What a session gives the code that acts on its verdicts (pkg/mirror
// copies what verified): each artifact judged from the session's source,
// the source itself to read content from, a source for the place the
// copies went, and the notes its reports carry.

// Judged is an artifact, its evidence from the session's source and the
// judge's verdict on it.
type Judged struct {
	Artifact artifacts.Artifact
	Evidence verify.Evidence
	Verdict  verify.Verdict
}

// JudgeRelease judges every artifact of a release already listed (see
// ListToJudge) from the session's source, with the session's concurrency,
// and returns them in the release's order with the judge (for verdicts
// on what is found later, such as a failed copy).
func (s *Session) JudgeRelease(ctx context.Context, rel *artifacts.Release) ([]Judged, *verify.Judge, error) {
	if err := s.src.admit(rel); err != nil {
		return nil, nil, err
	}
	judge, err := s.Judge(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Judged, len(rel.Artifacts))
	s.Each(len(rel.Artifacts), func(i int) {
		a := rel.Artifacts[i]
		ev := s.src.Evidence(ctx, rel, a, EvidenceOptions{})
		out[i] = Judged{Artifact: a, Evidence: ev, Verdict: judge.Judge(rel, a, ev)}
	})
	return out, judge, nil
}

// HTTP is the session's HTTP client: one per run (shared connections, the
// request log, the hosts given up on), for what else the run fetches (TUF
// metadata recorded into a pack).
func (s *Session) HTTP() *transport.Client { return s.http }

// Source is the session's source of evidence and image content.
func (s *Session) Source() Source { return s.src }

// Destination returns a source reading the registries a mirror writes to,
// and its fetcher (the writer's HTTP settings and credentials): the
// session's own registry access online; from a pack, one without a
// transparency log (only the destination is reached: copies verify on
// the log proofs they carry).
func (s *Session) Destination() (Source, *evidence.Fetcher, error) {
	if s.src.Mode() == Online {
		return s.src, s.fetcher, nil // the session's own registry access
	}
	f, err := evidence.NewFetcher(evidence.FetcherConfig{HTTP: s.http, AllowHTTPRegistry: s.cfg.AllowHTTPRegistry})
	if err != nil {
		return nil, nil, err
	}
	return &onlineSource{f: f}, f, nil
}

// VerifyFrom verifies a release already listed, as VerifyReleases does,
// with the evidence from src (a Destination).
func (s *Session) VerifyFrom(ctx context.Context, src Source, rel *artifacts.Release) (*Result, error) {
	results, err := s.verifyReleases(ctx, []*artifacts.Release{rel}, VerifyOptions{}, src, nil)
	if err != nil {
		return nil, err
	}
	return results[0], nil
}

// Notes are what a report of this session's work must say of where its
// evidence came from: from a pack, what was done (done: "copied") from
// which pack fetched when; how the trust was had.
func (s *Session) Notes(done string) []string {
	var notes []string
	if ps, ok := s.src.(*packSource); ok {
		notes = ps.warnings(done)
	}
	return append(notes, s.takeTrustNotes()...)
}

// Classify marks err as of kind (ErrRequest, ErrLocalInput, …), as the
// session's own errors are, for callers that tell them apart with
// errors.Is.
func Classify(kind, err error) error { return classify(kind, err) }
