// Package audit runs the whole job for a set of release artifacts:
// fetch the evidence of each (pkg/evidence), verify it (pkg/verify), and
// stream one verdict per artifact, with bounded concurrency.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Auditor verifies artifacts. Build one per run: the trust is loaded once
// and HTTP connections are shared.
type Auditor struct {
	Fetcher *evidence.Fetcher
	Trust   *verify.Trust
	// Concurrency bounds the artifacts checked at once (default 16).
	Concurrency int
}

// Options of a release audit.
type Options struct {
	// Download streams each file and verifies what arrived, instead of
	// trusting the published .sha256.
	Download bool
	// OutDir keeps downloaded files that verified, below OutDir/<version>/.
	OutDir string
}

// Release verifies every artifact of r and calls emit (serially, in
// completion order) for each verdict; it returns the verdicts in the
// release's order.
func (a *Auditor) Release(ctx context.Context, r *artifacts.Release, o Options, emit func(verify.Verdict)) []verify.Verdict {
	out := make([]verify.Verdict, len(r.Artifacts))
	var mu sync.Mutex
	a.each(len(r.Artifacts), func(i int) {
		v := a.Artifact(ctx, r, r.Artifacts[i], o)
		mu.Lock()
		defer mu.Unlock()
		out[i] = v
		if emit != nil {
			emit(v)
		}
	})
	return out
}

// Artifact verifies one artifact of release r.
func (a *Auditor) Artifact(ctx context.Context, r *artifacts.Release, art artifacts.Artifact, o Options) verify.Verdict {
	var v verify.Verdict
	switch art.Kind {
	case artifacts.KindBinary, artifacts.KindTarball:
		v = a.Blob(ctx, r, art, o)
	case artifacts.KindImage:
		v = a.Image(ctx, r, art, o)
	default:
		v = verify.Verdict{Artifact: art, Status: verify.StatusError, Reason: fmt.Sprintf("verification of %s artifacts is not available in this build", art.Kind)}
	}
	if r != nil {
		v.Incidents = r.IncidentsFor(art)
	}
	return v
}

// Blob verifies a release file: its published signature and certificate,
// the transparency-log entry that records them, over the published SHA-256
// or (with Download) over what actually arrived.
func (a *Auditor) Blob(ctx context.Context, r *artifacts.Release, art artifacts.Artifact, o Options) (v verify.Verdict) {
	v = verify.Verdict{Artifact: art}
	ev, err := a.Fetcher.Blob(ctx, art.Location)
	if err != nil {
		return errorVerdict(v, err)
	}
	if ev.Missing {
		v.Status, v.Reason = verify.StatusMissing, "not published: "+evidence.Redact(art.Location)+" answers 404"
		return v
	}
	var digest string
	if o.Download {
		sums, kept, err := a.download(ctx, r, art, o)
		if errors.Is(err, evidence.ErrNotFound) {
			v.Status, v.Reason = verify.StatusMissing, "not published: "+evidence.Redact(art.Location)+" answers 404"
			return v
		}
		if err != nil {
			return errorVerdict(v, err)
		}
		defer kept.discard()
		v.Digest, v.DigestSource = "sha256:"+sums.SHA256, "download"
		if ev.SHA256 != "" && ev.SHA256 != sums.SHA256 {
			return failedVerdict(v, "published-sha256", verify.ErrDigestMismatch, "sha256:"+ev.SHA256+" (published .sha256)", "sha256:"+sums.SHA256+" (downloaded)")
		}
		if ev.SHA512 != "" && ev.SHA512 != sums.SHA512 {
			return failedVerdict(v, "published-sha512", verify.ErrDigestMismatch, "sha512:"+ev.SHA512+" (published .sha512)", "sha512:"+sums.SHA512+" (downloaded)")
		}
		digest = sums.SHA256
		defer func() {
			if v.Status == verify.StatusVerified {
				if err := kept.keep(); err != nil {
					v.Status, v.Reason, v.Err = verify.StatusError, "verified, but keeping the file failed: "+err.Error(), err
				}
			}
		}()
	} else {
		if ev.SumsError != nil && ev.SHA256 == "" {
			v.Status, v.Err = verify.StatusError, ev.SumsError
			v.Reason = "the published .sha256 is unusable (" + ev.SumsError.Error() + "); use --download to verify the file itself"
			return v
		}
		if ev.SHA256 == "" {
			v.Status = verify.StatusError
			v.Reason = "no .sha256 published: cannot check without downloading; use --download"
			return v
		}
		digest, v.Digest, v.DigestSource = ev.SHA256, "sha256:"+ev.SHA256, "published .sha256"
	}
	return a.blobDigest(ctx, v, ev, art, digest)
}

// blobDigest verifies the evidence's signature over digest (hex SHA-256).
func (a *Auditor) blobDigest(ctx context.Context, v verify.Verdict, ev *evidence.BlobEvidence, art artifacts.Artifact, digest string) verify.Verdict {
	if !ev.Signed {
		return unsignedVerdict(v, art)
	}
	d, err := verify.ParseDigest("sha256:" + digest)
	if err != nil {
		return errorVerdict(v, err)
	}
	// LogEvidence leaves malformed evidence alone.
	if err := a.Fetcher.LogEvidence(ctx, ev, d.Bytes()); err != nil {
		return errorVerdict(v, err)
	}
	if ev.Malformed != nil {
		return failedVerdict(v, "bundle", verify.ErrBundleInvalid, ".sig and .cert as cosign sign-blob writes them", ev.Malformed.Error())
	}
	res := verify.Bundle(ev.Bundle, a.Trust, verify.Policy{Identity: art.Signer, Digest: d})
	return fromResults(v, res)
}

// fromResults turns signature results into a verdict: verified when at
// least one signature passed everything.
func fromResults(v verify.Verdict, results ...*verify.SignatureResult) verify.Verdict {
	v.Signatures = results
	var firstErr error
	for _, r := range results {
		if r.Verified() {
			v.Status = verify.StatusVerified
			v.Reason = verifiedReason(r, len(results))
			return v
		}
		if firstErr == nil {
			firstErr = r.Err
		}
	}
	v.Status, v.Err = verify.StatusFailed, firstErr
	v.FailedCheck = verify.FailedCheckOf(firstErr)
	v.Reason = firstErr.Error()
	if len(results) > 1 {
		v.Reason = fmt.Sprintf("none of %d signatures verifies; first: %s", len(results), firstErr)
	}
	return v
}

func verifiedReason(r *verify.SignatureResult, n int) string {
	s := "signed by " + r.Signer.SAN
	if r.LogIndex != nil {
		s += fmt.Sprintf(", Rekor log index %d", *r.LogIndex)
	}
	if r.IntegratedTime != nil {
		s += ", logged " + r.IntegratedTime.Format("2006-01-02 15:04:05Z")
	}
	if n > 1 {
		s += fmt.Sprintf(" (%d signatures found)", n)
	}
	return s
}

func failedVerdict(v verify.Verdict, check string, sentinel error, expected, actual string) verify.Verdict {
	err := &verify.CheckError{Check: check, Sentinel: sentinel, Expected: expected, Actual: actual}
	v.Status, v.Err, v.FailedCheck, v.Reason = verify.StatusFailed, err, check, err.Error()
	return v
}

func errorVerdict(v verify.Verdict, err error) verify.Verdict {
	v.Status, v.Err, v.Reason = verify.StatusError, err, "could not check: "+err.Error()
	return v
}

func unsignedVerdict(v verify.Verdict, art artifacts.Artifact) verify.Verdict {
	v.Status = verify.StatusUnsigned
	switch art.Signing {
	case artifacts.SigningNotExpected:
		v.Reason = "not signed in this release (expected: this release predates signing of " + string(art.Kind) + "s)"
	case artifacts.SigningExpected:
		v.Reason = "no signature published, although this release signs its " + string(art.Kind) + "s"
	default:
		v.Reason = "no signature published"
	}
	return v
}

// sinkFile is a download in progress: a temporary file renamed into place
// only when kept, so a partial download never looks complete.
type sinkFile struct {
	tmp, final string
	f          *os.File
}

func (s *sinkFile) keep() error {
	if s == nil || s.f == nil {
		return nil
	}
	if err := s.f.Close(); err != nil {
		return err
	}
	s.f = nil
	return os.Rename(s.tmp, s.final)
}

func (s *sinkFile) discard() {
	if s == nil || s.tmp == "" {
		return
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	_ = os.Remove(s.tmp)
}

func (a *Auditor) download(ctx context.Context, r *artifacts.Release, art artifacts.Artifact, o Options) (evidence.Sums, *sinkFile, error) {
	var w io.Writer = io.Discard
	var sink *sinkFile
	if o.OutDir != "" {
		rel, err := localPath(r, art)
		if err != nil {
			return evidence.Sums{}, nil, err
		}
		final := filepath.Join(o.OutDir, rel)
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return evidence.Sums{}, nil, err
		}
		f, err := os.CreateTemp(filepath.Dir(final), ".k8sverify-partial-*")
		if err != nil {
			return evidence.Sums{}, nil, err
		}
		sink, w = &sinkFile{tmp: f.Name(), final: final, f: f}, f
	}
	sums, err := a.Fetcher.Download(ctx, art.Location, w)
	if err != nil {
		sink.discard()
		return sums, nil, err
	}
	return sums, sink, nil
}

// localPath is where a downloaded artifact is kept below --out: the
// release's own layout, built from the catalog, never from remote data.
func localPath(r *artifacts.Release, art artifacts.Artifact) (string, error) {
	u, err := url.Parse(art.Location)
	if err != nil {
		return "", err
	}
	_, below, ok := strings.Cut(u.Path, "/release/"+r.Version.String()+"/")
	rel := filepath.Join(r.Version.String(), filepath.FromSlash(below))
	if !ok || below == "" || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("refusing to write %q outside the output directory", art.Location)
	}
	return rel, nil
}

// Verdict turns signature results into a verdict on v's artifact.
func Verdict(v verify.Verdict, results ...*verify.SignatureResult) verify.Verdict {
	return fromResults(v, results...)
}
