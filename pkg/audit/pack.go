package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// FetchOptions shape an evidence pack.
type FetchOptions struct {
	// Tool names the writer in the manifest.
	Tool string
	// WithFiles stores the release files themselves in the pack.
	WithFiles bool
	// WithImages stores the images as an OCI image layout in the pack.
	WithImages bool
	// TUF, when set, records the Sigstore TUF metadata into the pack so
	// that the trusted root can be verified offline.
	TUF *evidence.TUFSource
}

// Fetch writes the evidence of every artifact of r into the pack: one
// Sigstore bundle per signature (and the signed payload of image
// signatures), the TUF metadata of the trusted root, optionally the files.
// Nothing is verified. The manifest is written last, marked complete only
// when every artifact's evidence was fetched; the returned error says
// which were not.
func (a *Auditor) Fetch(ctx context.Context, r *artifacts.Release, pw *evidence.PackWriter, o FetchOptions) (*evidence.Manifest, error) {
	m := &evidence.Manifest{Tool: o.Tool, Created: time.Now().UTC(), Release: r.Version.String()}
	var errs []error
	if o.TUF != nil {
		if _, err := evidence.RecordTUF(pw, "tuf", *o.TUF, nil); err != nil {
			errs = append(errs, err)
		} else {
			m.TUF = "tuf"
		}
	}
	var images *evidence.ImageLayout
	if o.WithImages {
		var err error
		if images, err = pw.ImageLayout("oci"); err != nil {
			return m, err
		}
		m.Images = "oci"
	}
	entries := make([]evidence.PackArtifact, len(r.Artifacts))
	var mu sync.Mutex
	a.each(len(r.Artifacts), func(i int) {
		art := r.Artifacts[i]
		e := evidence.PackArtifact{Kind: art.Kind, Name: art.Name, Platform: art.Platform, Location: art.Location}
		var err error
		if art.Kind == artifacts.KindImage {
			err = a.fetchImage(ctx, r, art, pw, &e, images)
		} else {
			err = a.fetchBlob(ctx, r, art, pw, &e, o)
		}
		if err != nil {
			e.State, e.Detail = evidence.StateError, err.Error()
			mu.Lock()
			errs = append(errs, fmt.Errorf("%s: %w", art.ID(), err))
			mu.Unlock()
		}
		entries[i] = e
	})
	m.Artifacts = entries
	m.Complete = len(errs) == 0
	if err := pw.Finish(m); err != nil {
		return m, err
	}
	return m, errors.Join(errs...)
}

// packPath is where an artifact's evidence goes in the pack: below its
// kind, in the release's own layout (from the catalog, never from remote
// data).
func packPath(r *artifacts.Release, art artifacts.Artifact) (string, error) {
	if art.Kind == artifacts.KindImage {
		p := art.Name
		if !art.Platform.IsZero() {
			p += "-" + art.Platform.Arch
		}
		return checkPackPath("images/" + p)
	}
	u, err := url.Parse(art.Location)
	if err != nil {
		return "", err
	}
	_, below, ok := strings.Cut(u.Path, "/release/"+r.Version.String()+"/")
	if !ok {
		return "", fmt.Errorf("%s is not below /release/%s/", evidence.Redact(art.Location), r.Version)
	}
	return checkPackPath(below)
}

func checkPackPath(p string) (string, error) {
	p = path.Clean(p)
	if p == "." || strings.HasPrefix(p, "../") || p == ".." || path.IsAbs(p) {
		return "", fmt.Errorf("refusing path %q outside the pack", p)
	}
	return p, nil
}

func (a *Auditor) fetchBlob(ctx context.Context, r *artifacts.Release, art artifacts.Artifact, pw *evidence.PackWriter, e *evidence.PackArtifact, o FetchOptions) error {
	rel, err := packPath(r, art)
	if err != nil {
		return err
	}
	ev, err := a.Fetcher.Blob(ctx, art.Location)
	if err != nil {
		return err
	}
	if ev.Missing {
		e.State = evidence.StateMissing
		return nil
	}
	if ev.SHA256 != "" {
		e.Digest, e.DigestSource = "sha256:"+ev.SHA256, "published .sha256"
	}
	if o.WithFiles {
		file := "files/" + r.Version.String() + "/" + rel
		var sums evidence.Sums
		err := pw.Write(file, func(w io.Writer) error {
			var err error
			sums, err = a.Fetcher.Download(ctx, art.Location, w)
			return err
		})
		if err != nil {
			return err
		}
		e.File = file
		if e.Digest == "" {
			e.Digest, e.DigestSource = "sha256:"+sums.SHA256, "download"
		}
	}
	if !ev.Signed {
		e.State = evidence.StateUnsigned
		return nil
	}
	e.State = evidence.StateSigned
	if e.Digest == "" {
		return errors.New("no .sha256 published: fetch it with --with-files")
	}
	d, err := verify.ParseDigest(e.Digest)
	if err != nil {
		return err
	}
	// LogEvidence leaves malformed evidence alone.
	if err := a.Fetcher.LogEvidence(ctx, ev, d.Bytes()); err != nil {
		return err
	}
	if ev.Malformed != nil {
		e.Signatures = []evidence.PackSignature{{Source: evidence.SourceDownloadSite, Malformed: ev.Malformed.Error()}}
		return nil
	}
	b := "bundles/" + rel + ".sigstore.json"
	if err := pw.WriteBundle(b, ev.Bundle); err != nil {
		return err
	}
	e.Signatures = []evidence.PackSignature{{Source: evidence.SourceDownloadSite, Bundle: b}}
	return nil
}

func (a *Auditor) fetchImage(ctx context.Context, r *artifacts.Release, art artifacts.Artifact, pw *evidence.PackWriter, e *evidence.PackArtifact, images *evidence.ImageLayout) error {
	rel, err := packPath(r, art)
	if err != nil {
		return err
	}
	s, err := a.Fetcher.ImageSession()
	if err != nil {
		return err
	}
	m, err := s.Resolve(ctx, art.Location)
	if errors.Is(err, evidence.ErrNotFound) {
		e.State = evidence.StateMissing
		return nil
	}
	if err != nil {
		return err
	}
	e.Digest, e.DigestSource = m.Digest, "registry"
	if images != nil {
		cs, err := a.Fetcher.ContentSession()
		if err != nil {
			return err
		}
		if err := cs.CopyToLayout(ctx, m, images); err != nil {
			return err
		}
	}
	sigs, err := s.Signatures(ctx, m.Repository, m.Digest)
	if err != nil {
		return err
	}
	if len(sigs) == 0 {
		e.State = evidence.StateUnsigned
		return nil
	}
	e.State = evidence.StateSigned
	base := "bundles/" + rel + "/" + strings.TrimPrefix(m.Digest, "sha256:")
	for i, sig := range sigs {
		ps := evidence.PackSignature{Source: sig.Source}
		switch {
		case sig.Err != nil:
			return sig.Err
		case sig.Malformed != nil:
			ps.Malformed = sig.Malformed.Error()
		default:
			ps.Bundle = fmt.Sprintf("%s/%d.sigstore.json", base, i)
			if err := pw.WriteBundle(ps.Bundle, sig.Bundle); err != nil {
				return err
			}
			if sig.Payload != nil {
				ps.Payload = fmt.Sprintf("%s/%d.payload.json", base, i)
				if err := pw.WriteFile(ps.Payload, sig.Payload); err != nil {
					return err
				}
			}
		}
		e.Signatures = append(e.Signatures, ps)
	}
	return nil
}

// OfflineOptions shape offline verification.
type OfflineOptions struct {
	// FilesDir holds release files (as --out or fetch --with-files lay
	// them out: <version>/bin/<os>/<arch>/<name>); each is hashed and
	// must be what was signed.
	FilesDir string
}

// maxPayload bounds an image signature payload read from a pack.
const maxPayload = 1 << 20

// VerifyPack verifies the artifacts of r (the catalog's release: what the
// release is made of and who must have signed it never comes from the
// pack) from the evidence pack alone. It reads no network.
func (a *Auditor) VerifyPack(ctx context.Context, r *artifacts.Release, p *evidence.Pack, o OfflineOptions) ([]verify.Verdict, error) {
	if p.Manifest.Release != r.Version.String() {
		return nil, fmt.Errorf("%w: the pack is for %s, not %s", evidence.ErrBadPack, p.Manifest.Release, r.Version)
	}
	byKey := map[string]*evidence.PackArtifact{}
	for i := range p.Manifest.Artifacts {
		e := &p.Manifest.Artifacts[i]
		if _, dup := byKey[e.Key()]; dup {
			return nil, fmt.Errorf("%w: %s is listed twice", evidence.ErrBadPack, e.Key())
		}
		byKey[e.Key()] = e
	}
	var files *filesDir
	if o.FilesDir != "" {
		var err error
		if files, err = openFilesDir(o.FilesDir); err != nil {
			return nil, err
		}
		defer files.Close()
	}
	out := make([]verify.Verdict, len(r.Artifacts))
	a.each(len(r.Artifacts), func(i int) {
		art := r.Artifacts[i]
		v := a.offlineArtifact(ctx, r, art, byKey[art.ID()], p, files)
		v.Incidents = r.IncidentsFor(art)
		out[i] = v
	})
	return out, nil
}

func (a *Auditor) offlineArtifact(ctx context.Context, r *artifacts.Release, art artifacts.Artifact, e *evidence.PackArtifact, p *evidence.Pack, files *filesDir) verify.Verdict {
	v := verify.Verdict{Artifact: art}
	if ctx.Err() != nil {
		return errorVerdict(v, ctx.Err())
	}
	if e == nil {
		v.Status, v.Reason = verify.StatusError, "not in the evidence pack: fetch it with k8sverify fetch"
		return v
	}
	switch e.State {
	case evidence.StateMissing:
		v.Status, v.Reason = verify.StatusMissing, "not published when the pack was fetched (as the pack says; not verifiable offline)"
		return v
	case evidence.StateUnsigned:
		v = unsignedVerdict(v, art)
		v.Reason += " (as the pack says; not verifiable offline)"
		return v
	case evidence.StateError:
		v.Status, v.Reason = verify.StatusError, "could not be fetched into the pack: "+e.Detail
		return v
	case evidence.StateSigned:
	default:
		v.Status, v.Reason = verify.StatusError, fmt.Sprintf("the pack records an unknown state %q", e.State)
		return v
	}
	digest, err := verify.ParseDigest(e.Digest)
	if err != nil {
		return errorVerdict(v, fmt.Errorf("%w: %v", evidence.ErrBadPack, err))
	}
	v.Digest, v.DigestSource = digest.String(), "evidence pack ("+e.DigestSource+")"
	if art.Kind != artifacts.KindImage {
		if fileDigest, source, err := a.offlineFileDigest(r, art, e, p, files); err != nil {
			return errorVerdict(v, err)
		} else if source != "" {
			v.Digest, v.DigestSource = fileDigest.String(), source
			if fileDigest != digest {
				return failedVerdict(v, "file", verify.ErrDigestMismatch, digest.String()+" (recorded in the pack)", fileDigest.String()+" ("+source+")")
			}
		}
		var results []*verify.SignatureResult
		for _, s := range e.Signatures {
			results = append(results, a.offlineBlobSignature(p, s, art, digest))
		}
		if len(results) == 0 {
			return failedVerdict(v, "bundle", verify.ErrBundleInvalid, "a signature in the pack", "none")
		}
		return fromResults(v, results...)
	}
	if p.Manifest.Images != "" {
		if err := p.LayoutManifest(digest.String()); err != nil {
			if errors.Is(err, evidence.ErrBadPack) {
				return failedVerdict(v, "image-layout", verify.ErrDigestMismatch, "the manifest "+digest.String()+" in the pack's OCI layout", err.Error())
			}
			return errorVerdict(v, err)
		}
		v.DigestSource = "evidence pack (OCI layout)"
	}
	var sigs []*evidence.ImageSignature
	for _, s := range e.Signatures {
		is := &evidence.ImageSignature{Source: s.Source}
		switch {
		case s.Malformed != "":
			is.Malformed = fmt.Errorf("%w: %s", evidence.ErrMalformedEvidence, s.Malformed)
		default:
			if is.Bundle, err = p.ReadBundle(s.Bundle); err != nil {
				is.Bundle, is.Malformed = nil, err
			} else if s.Payload != "" {
				if is.Payload, err = p.ReadFile(s.Payload, maxPayload); err != nil {
					is.Bundle, is.Malformed = nil, err
				}
			}
		}
		sigs = append(sigs, is)
	}
	if len(sigs) == 0 {
		return failedVerdict(v, "bundle", verify.ErrBundleInvalid, "a signature in the pack", "none")
	}
	return a.judgeImage(v, sigs, art.Name)
}

func (a *Auditor) offlineBlobSignature(p *evidence.Pack, s evidence.PackSignature, art artifacts.Artifact, d verify.Digest) *verify.SignatureResult {
	if s.Malformed != "" {
		return verify.MalformedSignature(".sig and .cert as cosign sign-blob writes them", fmt.Errorf("%w: %s", evidence.ErrMalformedEvidence, s.Malformed))
	}
	b, err := p.ReadBundle(s.Bundle)
	if err != nil {
		return verify.MalformedSignature("a readable bundle in the pack", err)
	}
	return verify.Bundle(b, a.Trust, verify.Policy{Identity: art.Signer, Digest: d})
}

// offlineFileDigest hashes the artifact's file, from --files or from the
// pack; source is "" when neither has it.
func (a *Auditor) offlineFileDigest(r *artifacts.Release, art artifacts.Artifact, e *evidence.PackArtifact, p *evidence.Pack, files *filesDir) (verify.Digest, string, error) {
	if files != nil {
		rel, err := packPath(r, art)
		if err != nil {
			return verify.Digest{}, "", err
		}
		d, err := files.hash(r.Version.String() + "/" + rel)
		if err != nil {
			return verify.Digest{}, "", err
		}
		return d, "file in --files", nil
	}
	if e.File != "" {
		f, err := p.Open(e.File)
		if err != nil {
			return verify.Digest{}, "", err
		}
		defer f.Close()
		d, err := hashReader(f)
		if err != nil {
			return verify.Digest{}, "", fmt.Errorf("read %s in the pack: %w", e.File, err)
		}
		return d, "file in the pack", nil
	}
	return verify.Digest{}, "", nil
}
