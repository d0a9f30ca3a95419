package audit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// HashFile streams a regular file through SHA-256 in bounded memory (a
// 1 MiB buffer, whatever the file's size). SHA-256 is what the release
// team signs; it is all a file's verification needs.
func HashFile(p string) (verify.Digest, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return verify.Digest{}, err
	}
	if !fi.Mode().IsRegular() {
		return verify.Digest{}, fmt.Errorf("%s is not a regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return verify.Digest{}, err
	}
	defer f.Close()
	d, err := hashReader(f)
	if err != nil {
		return verify.Digest{}, fmt.Errorf("read %s: %w", p, err)
	}
	return d, nil
}

// File verifies a file on disk and says what it is. With a release, the
// file is identified among the release's files by their published sums
// and verified against its signature; without, the transparency log is
// searched for signatures of its digest by the release team.
func (a *Auditor) File(ctx context.Context, p string, r *artifacts.Release) verify.Verdict {
	v := verify.Verdict{Artifact: artifacts.Artifact{Kind: artifacts.KindBinary, Name: filepath.Base(p), Location: p, Signer: artifacts.BlobSigner}}
	d, err := HashFile(p)
	if err != nil {
		return errorVerdict(v, err)
	}
	v.Digest, v.DigestSource = d.String(), "file"
	if r == nil {
		return a.fileFromLog(ctx, v)
	}
	art, checked, err := a.identify(ctx, r, filepath.Base(p), d.Hex)
	if err != nil {
		return errorVerdict(v, err)
	}
	if art == nil {
		err := &verify.CheckError{Check: "identify", Sentinel: verify.ErrDigestMismatch,
			Expected: fmt.Sprintf("one of the published sums of %d %s files", checked, r.Version),
			Actual:   v.Digest}
		v.Status, v.Err, v.FailedCheck, v.Reason = verify.StatusFailed, err, "identify", "not a file of "+r.Version.String()+": "+err.Error()
		return v
	}
	v.Artifact = *art
	ev, err := a.Fetcher.Blob(ctx, art.Location)
	if err != nil {
		return errorVerdict(v, err)
	}
	v = a.blobDigest(ctx, v, ev, *art, d.Hex)
	v.Incidents = r.IncidentsFor(*art)
	if v.Status == verify.StatusVerified {
		v.Reason = fmt.Sprintf("%s %s %s: %s", art.Name, r.Version, art.Platform, v.Reason)
	}
	return v
}

// identify finds the release file whose published .sha256 is sum: first
// among files of the same name, then among all.
func (a *Auditor) identify(ctx context.Context, r *artifacts.Release, base, sum string) (*artifacts.Artifact, int, error) {
	var same, others []artifacts.Artifact
	for _, art := range r.Artifacts {
		if art.Kind == artifacts.KindImage {
			continue
		}
		if u, err := url.Parse(art.Location); err == nil && path.Base(u.Path) == base {
			same = append(same, art)
		} else {
			others = append(others, art)
		}
	}
	// The release SBOM's sums (online listing) identify without a request.
	for _, group := range [][]artifacts.Artifact{same, others} {
		for i := range group {
			if group[i].SHA256 == sum {
				return &group[i], len(same) + len(others), nil
			}
		}
	}
	checked := 0
	for _, group := range [][]artifacts.Artifact{same, others} {
		found, err := a.findSum(ctx, group, sum)
		checked += len(group)
		if err != nil || found != nil {
			return found, checked, err
		}
	}
	return nil, checked, nil
}

func (a *Auditor) findSum(ctx context.Context, group []artifacts.Artifact, sum string) (*artifacts.Artifact, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := max(a.Concurrency, 1)
	sem := make(chan struct{}, n)
	var (
		mu       sync.Mutex
		found    *artifacts.Artifact
		firstErr error
		wg       sync.WaitGroup
	)
	for _, art := range group {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := a.Fetcher.HTTP.Get(ctx, art.Location+".sha256", 4<<10)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, evidence.ErrNotFound) && !errors.Is(err, context.Canceled) && firstErr == nil {
					firstErr = err
				}
				return
			}
			if s, err := evidence.ParseSum(data); err == nil && s == sum && found == nil {
				found = &art
				cancel()
			}
		}()
	}
	wg.Wait()
	if found != nil {
		return found, nil
	}
	return nil, firstErr
}

// fileFromLog verifies a file by the signatures the transparency log
// records for its digest.
func (a *Auditor) fileFromLog(ctx context.Context, v verify.Verdict) verify.Verdict {
	d, _ := verify.ParseDigest(v.Digest)
	bundles, err := a.Fetcher.LogBundles(ctx, d.Bytes())
	if err != nil {
		return errorVerdict(v, err)
	}
	if len(bundles) == 0 {
		v.Status = verify.StatusUnsigned
		v.Reason = "the transparency log records no signature of " + v.Digest + ": not a signed release file (name the release with --version to check it against its published sums)"
		return v
	}
	var results []*verify.SignatureResult
	for _, b := range bundles {
		results = append(results, verify.Bundle(b, a.Trust, verify.Policy{Identity: artifacts.BlobSigner, Digest: d}))
	}
	v = fromResults(v, results...)
	if v.Status == verify.StatusVerified {
		v.Reason = v.Artifact.Name + ": " + v.Reason + " (found in the transparency log; name the release with --version to identify the artifact)"
	}
	return v
}
