package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Image verifies one image manifest of release r, an index or a
// per-platform image: its tag is resolved to the digest the registry
// serves, and every signature published for that digest is verified
// against the artifact's expected signer. The image is verified when at
// least one signature passes every check; the reason says how many were
// found and why the others were rejected.
func (a *Auditor) Image(ctx context.Context, r *artifacts.Release, art artifacts.Artifact, o Options) verify.Verdict {
	v := verify.Verdict{Artifact: art}
	s, err := a.Fetcher.ImageSession()
	if err != nil {
		return errorVerdict(v, err)
	}
	m, err := s.Resolve(ctx, art.Location)
	if errors.Is(err, evidence.ErrNotFound) {
		v.Status, v.Reason = verify.StatusMissing, "not published: the registry does not know "+art.Location
		return v
	}
	if err != nil {
		return errorVerdict(v, err)
	}
	v.Digest, v.DigestSource = m.Digest, "registry"
	return a.imageSignatures(ctx, s, v, m.Repository, art.Name)
}

// ImageRef verifies an image by reference, a tag or a digest, as
// verify-image does: for an index, one verdict for the index and one per
// platform manifest it lists (restricted to platform when given), each
// signed in the index's repository; for an image manifest, one verdict.
// The expected signer is the release team's image identity. Each verdict's
// artifact location is the digest-pinned reference.
func (a *Auditor) ImageRef(ctx context.Context, ref string, platform *artifacts.Platform) []verify.Verdict {
	art := artifacts.Artifact{Kind: artifacts.KindImage, Name: ref, Location: ref, Signer: artifacts.ImageSigner, Signing: artifacts.SigningProbe}
	v := verify.Verdict{Artifact: art}
	r, err := evidence.ParseImageReference(ref)
	if err != nil {
		return []verify.Verdict{errorVerdict(v, err)}
	}
	v.Artifact.Name = r.Context().RepositoryStr()
	s, err := a.Fetcher.ImageSession()
	if err != nil {
		return []verify.Verdict{errorVerdict(v, err)}
	}
	m, err := s.Resolve(ctx, ref)
	if errors.Is(err, evidence.ErrNotFound) {
		v.Status, v.Reason = verify.StatusMissing, "not published: the registry does not know "+r.String()
		return []verify.Verdict{v}
	}
	if err != nil {
		return []verify.Verdict{errorVerdict(v, err)}
	}
	v.Artifact.Location, v.Digest, v.DigestSource = m.PinnedReference(), m.Digest, "registry"
	jobs := []verify.Verdict{v}
	var out []verify.Verdict
	if m.Index {
		for _, c := range m.Children {
			if c.Platform.OS == "" || c.Platform.OS == "unknown" { // attestations, not images
				continue
			}
			if platform != nil && c.Platform != *platform {
				continue
			}
			cv := v
			cv.Artifact.Platform = c.Platform
			cv.Artifact.Location, cv.Digest, cv.DigestSource = m.Repository+"@"+c.Digest, c.Digest, "registry (index "+m.Digest+")"
			jobs = append(jobs, cv)
		}
		if platform != nil && len(jobs) == 1 {
			mv := v
			mv.Artifact.Platform, mv.Digest, mv.DigestSource = *platform, "", ""
			mv.Status, mv.Reason = verify.StatusMissing, fmt.Sprintf("not published: the index %s lists no %s manifest", m.PinnedReference(), platform)
			out = append(out, mv)
		}
	}
	verdicts := make([]verify.Verdict, len(jobs))
	a.each(len(jobs), func(i int) {
		verdicts[i] = a.imageSignatures(ctx, s, jobs[i], m.Repository, "")
	})
	return append(verdicts, out...)
}

// each runs fn(0..n-1) with the auditor's concurrency.
func (a *Auditor) each(n int, fn func(i int)) {
	limit := a.Concurrency
	if limit < 1 {
		limit = 16
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// imageSignatures fetches and verifies the signatures of v.Digest in
// repository (registry/repository).
//
// name is the image's name in its release ("kube-apiserver"), which the
// signed payloads must name; "" for an image known only by reference.
func (a *Auditor) imageSignatures(ctx context.Context, s *evidence.ImageSession, v verify.Verdict, repository, name string) verify.Verdict {
	sigs, err := s.Signatures(ctx, repository, v.Digest)
	if err != nil {
		return errorVerdict(v, err)
	}
	return a.judgeImage(v, sigs, name)
}

// judgeImage verifies every signature found for v's digest. Verified when
// one passes; failed when every one is rejected; error when none passes
// and some could not be fetched (they might have passed); unsigned when
// none is published.
func (a *Auditor) judgeImage(v verify.Verdict, sigs []*evidence.ImageSignature, name string) verify.Verdict {
	d, err := verify.ParseDigest(v.Digest)
	if err != nil {
		return errorVerdict(v, err)
	}
	var (
		results     []*verify.SignatureResult
		from        []*evidence.ImageSignature
		unavailable []error
	)
	for _, s := range sigs {
		var res *verify.SignatureResult
		switch {
		case s.Err != nil:
			unavailable = append(unavailable, s.Err)
			continue
		case s.Malformed != nil:
			res = verify.MalformedSignature("a readable signature ("+s.Source+")", s.Malformed)
		case s.Source == evidence.SourceReferrer:
			res = verify.ImageBundle(s.Bundle, d, a.Trust, v.Artifact.Signer)
		default:
			res = verify.ImageSignatureOf(s.Bundle, s.Payload, d, name, a.Trust, v.Artifact.Signer)
		}
		results, from = append(results, res), append(from, s)
	}
	if len(results) == 0 && len(unavailable) == 0 {
		return unsignedVerdict(v, v.Artifact)
	}
	if len(results) == 0 {
		return errorVerdict(v, errors.Join(unavailable...))
	}
	v = fromResults(v, results...)
	var rejected []string
	for i, r := range results {
		if !r.Verified() {
			rejected = append(rejected, fmt.Sprintf("%s: %v", describe(from[i], r), r.Err))
		}
	}
	switch v.Status {
	case verify.StatusVerified:
		for i, r := range results {
			if r.Verified() && from[i].LogLookupError != nil {
				v.Reason += "; online log lookup failed (" + from[i].LogLookupError.Error() + "): the signed entry timestamp was verified instead"
				break
			}
		}
		if len(rejected) > 0 {
			v.Reason += fmt.Sprintf("; %d of %d signatures rejected: %s", len(rejected), len(results), strings.Join(rejected, "; "))
		}
	case verify.StatusFailed:
		if len(unavailable) > 0 {
			v.Status, v.FailedCheck = verify.StatusError, ""
			v.Err = errors.Join(append([]error{v.Err}, unavailable...)...)
			v.Reason = fmt.Sprintf("could not check %d signature(s): %v; %d rejected: %s",
				len(unavailable), errors.Join(unavailable...), len(rejected), strings.Join(rejected, "; "))
		} else if len(results) > 1 {
			v.Reason = fmt.Sprintf("none of %d signatures verifies: %s", len(results), strings.Join(rejected, "; "))
		}
	}
	return v
}

// describe names a signature in a reason: where it was found and who it
// claims to be by.
func describe(s *evidence.ImageSignature, r *verify.SignatureResult) string {
	d := "signature"
	if s.Source == evidence.SourceReferrer {
		d = "referrer bundle"
	}
	if r.Signer != nil && r.Signer.SAN != "" {
		d += " by " + r.Signer.SAN
	}
	return d
}
