package airgap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Request asks for an evidence pack of a release.
type Request struct {
	Version   string
	Selection audit.Selection
	// Tool names the program writing the pack ("k8sverify v1.2.3"),
	// recorded in its manifest.
	Tool string
	// Out is the pack's directory.
	Out string
	// WithFiles stores the release files themselves in the pack.
	WithFiles bool
	// WithImages stores the images as an OCI image layout in the pack.
	WithImages bool
	// TUF records the Sigstore TUF metadata into the pack so that the
	// trusted root can be verified offline; nil records none.
	TUF *trust.TUF
	// SBOM is the release SBOM as read, stored in the pack so that the
	// release is listed offline as it was here (Fetch sets it; nil stores
	// none, and offline the release files are then bound to their names
	// by nothing but the download site).
	SBOM []byte
	// Channels are the channel documents read for the release, stored in
	// the pack for its listing offline.
	Channels artifacts.ChannelDocuments
}

// Result is what a fetch wrote.
type Result struct {
	Release  *artifacts.Release
	Manifest *pack.Manifest
	// Kept counts the entries of an earlier fetch of the pack kept as
	// they were (the others are this fetch's).
	Kept     int
	Warnings []string
}

// Fetch writes the evidence of every selected artifact of a release into
// an evidence pack: the very values the online judge reads, so that
// verifying the pack offline gives the verdicts verifying online gives.
// Nothing is decided. The manifest is written last, marked complete only
// when every artifact's evidence could be fetched.
func Fetch(ctx context.Context, s *audit.Session, req Request) (*Result, error) {
	if err := fetching(s); err != nil {
		return nil, err
	}
	listing, err := s.ListWithDocuments(ctx, req.Version, req.Selection)
	if err != nil {
		return nil, err
	}
	req.SBOM = listing.SBOM
	req.Channels = listing.Channels
	res, err := FetchRelease(ctx, s, listing.Release, req)
	if err != nil {
		return nil, err
	}
	res.Warnings = listing.Warnings
	return res, nil
}

// FetchRelease writes the evidence pack of a release already listed, as
// Fetch does (the request's version and selection are not used). A pack
// of the same release already in the directory is added to: its entries
// of the artifacts fetched again are replaced, the others kept. A pack of
// another release is refused.
func FetchRelease(ctx context.Context, s *audit.Session, r *artifacts.Release, req Request) (*Result, error) {
	if err := fetching(s); err != nil {
		return nil, err
	}
	pw, prev, err := pack.Extend(req.Out, r.Version.String())
	if err != nil {
		return nil, audit.Classify(audit.ErrLocalInput, err)
	}
	defer pw.Close()
	m := &pack.Manifest{Tool: req.Tool, Created: time.Now().UTC(), Release: r.Version.String()}
	if prev != nil {
		m.TUF, m.Images, m.SBOM = prev.TUF, prev.Images, prev.SBOM
		m.Changelog, m.Promoter = prev.Changelog, prev.Promoter
	}
	for _, d := range []struct {
		data  []byte
		name  string
		field *string
	}{{req.Channels.Changelog, pack.ChangelogName, &m.Changelog}, {req.Channels.Promoter, pack.PromoterName, &m.Promoter}} {
		if d.data == nil {
			continue
		}
		if err := pw.WriteFile(d.name, d.data); err != nil {
			return nil, err
		}
		*d.field = d.name
	}
	if req.SBOM != nil {
		if err := pw.WriteFile(pack.SBOMName, req.SBOM); err != nil {
			return nil, err
		}
		m.SBOM = pack.SBOMName
	}
	if prev != nil {
		m.TUFFetched = prev.TUFFetched
	}
	if req.TUF != nil {
		if err := recordTUF(ctx, s, pw, *req.TUF, m); err != nil {
			return nil, err
		}
	}
	var images *pack.ImageLayout
	if req.WithImages {
		if images, err = pw.ImageLayout("oci"); err != nil {
			return nil, err
		}
		m.Images = "oci"
	}
	entries := make([]pack.Entry, len(r.Artifacts))
	errs := make([]error, len(r.Artifacts))
	s.Each(len(r.Artifacts), func(i int) {
		entries[i], errs[i] = fetchOne(ctx, s.Source(), r, r.Artifacts[i], pw, images, req)
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Artifacts[i].ID(), err)
		}
	}
	m.Artifacts = mergeEntries(prev, entries)
	m.Complete = true
	for _, e := range m.Artifacts {
		if e.Unavailable != "" {
			m.Complete = false
		}
	}
	if err := pw.Finish(m); err != nil {
		return nil, err
	}
	return &Result{Release: r, Manifest: m, Kept: len(m.Artifacts) - len(entries)}, nil
}

// recordTUF records the TUF metadata into the pack: from an empty TUF
// state, replayed from the pack's own files before the manifest says
// anything of them.
func recordTUF(ctx context.Context, s *audit.Session, pw *pack.Writer, tuf trust.TUF, m *pack.Manifest) error {
	_, fetched, err := trust.Record(pw, "tuf", tuf, trust.NewFetcher(ctx, s.HTTP()))
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx) // interrupted, or the deadline passed: not a TUF failure
	}
	if err != nil {
		return err
	}
	m.TUF, m.TUFFetched = "tuf", fetched
	return nil
}

// fetching: a pack is written from evidence fetched online.
func fetching(s *audit.Session) error {
	if s.Source().Mode() != audit.Online {
		return audit.Classify(audit.ErrRequest, errors.New("an evidence pack is fetched online, not from another pack"))
	}
	return nil
}

// fetchOne fetches one artifact's evidence into the pack. Its error is a
// failure to write the pack; a failure to fetch is recorded in the entry.
func fetchOne(ctx context.Context, src audit.Source, r *artifacts.Release, a artifacts.Artifact, pw *pack.Writer, images *pack.ImageLayout, req Request) (pack.Entry, error) {
	base, err := packPath(r, a)
	if err != nil {
		return pack.Entry{}, err
	}
	var ev verify.Evidence
	file := ""
	switch {
	case a.Kind == artifacts.KindImage:
		ev = src.Evidence(ctx, r, a, audit.EvidenceOptions{})
		if images != nil && ev.Unavailable == nil && ev.Missing == "" {
			if err := copyImage(ctx, src, a, ev.Image, images); err != nil {
				ev.Unavailable = err
			}
		}
	case req.WithFiles:
		file = "files/" + r.Version.String() + "/" + base
		err = pw.Write(file, func(w io.Writer) error {
			ev = src.Evidence(ctx, r, a, audit.EvidenceOptions{Sink: w})
			if ev.Unavailable != nil || ev.Missing != "" {
				return errFileNotFetched
			}
			return nil
		})
		switch {
		case errors.Is(err, errFileNotFetched):
			file = ""
		case err != nil:
			return pack.Entry{}, err
		}
	default:
		ev = src.Evidence(ctx, r, a, audit.EvidenceOptions{})
	}
	if ev.Unavailable != nil && ctx.Err() != nil {
		ev.Unavailable = context.Cause(ctx) // the deadline passed, or the fetch was interrupted
	}
	e, err := pw.Store(a, base, ev)
	e.File = file
	return e, err
}

var errFileNotFetched = errors.New("the file was not fetched")

// mergeEntries keeps the entries of an earlier fetch of the pack that the
// new entries do not replace, in their order, then the new entries.
func mergeEntries(prev *pack.Manifest, entries []pack.Entry) []pack.Entry {
	if prev == nil {
		return entries
	}
	fresh := map[string]bool{}
	for _, e := range entries {
		fresh[e.Key()] = true
	}
	var out []pack.Entry
	for _, e := range prev.Artifacts {
		if !fresh[e.Key()] {
			out = append(out, e)
		}
	}
	return append(out, entries...)
}

// copyImage copies the image whose manifest was judged (an index with
// every image it lists) into the pack's OCI layout, named as layoutName
// says.
func copyImage(ctx context.Context, src audit.Source, a artifacts.Artifact, im *verify.ImageEvidence, images *pack.ImageLayout) error {
	if im == nil {
		return errors.New("no manifest to copy")
	}
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(im.Manifest))
	if types.MediaType(im.MediaType).IsIndex() {
		idx, err := src.Index(ctx, a, digest)
		if err != nil {
			return err
		}
		return images.ReplaceIndex(idx, layoutName(a))
	}
	img, err := src.Image(ctx, a, digest)
	if err != nil {
		return err
	}
	return images.ReplaceImage(img, layoutName(a))
}

// layoutName names an image in the pack's OCI layout as name:tag, the
// name below the registry (kube-apiserver, kube-apiserver-amd64) and no
// registry host: the image is the release's, wherever it is pushed. The
// tag is the release's (from the artifact's location in the catalog).
func layoutName(a artifacts.Artifact) string {
	n := a.Name
	if !a.Platform.IsZero() {
		n += "-" + a.Platform.Arch
	}
	if _, tag, _ := artifacts.SplitImageReference(a.Location); tag != "" {
		return n + ":" + tag
	}
	return n
}

// packPath is where an artifact's evidence goes in the pack: below its
// kind, in the release's own layout (from the catalog, never from remote
// data).
func packPath(r *artifacts.Release, a artifacts.Artifact) (string, error) {
	if a.Kind == artifacts.KindImage {
		p := a.Name
		if !a.Platform.IsZero() {
			p += "-" + a.Platform.Arch
		}
		return checkPackPath("images/" + p)
	}
	rel, err := r.FilePath(a)
	if err != nil {
		return "", err
	}
	return checkPackPath(rel)
}

func checkPackPath(p string) (string, error) {
	p = path.Clean(p)
	if p == "." || strings.HasPrefix(p, "../") || p == ".." || path.IsAbs(p) {
		return "", fmt.Errorf("refusing path %q outside the pack", p)
	}
	return p, nil
}
