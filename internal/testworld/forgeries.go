package testworld

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// applySubstitutions serves, in the newest release, the genuinely signed
// artifacts the substitution faults name in place of the genuine ones.
func (w *World) applySubstitutions(ctx context.Context) error {
	rs := w.Releases[len(w.Releases)-1]
	for _, f := range w.Faults {
		var err error
		switch f.Kind {
		case FaultCrossArch:
			err = w.crossArch(ctx, rs, f.Target)
		case FaultIndexAtArch:
			err = w.indexAtArch(ctx, rs, f.Target)
		case FaultRollback:
			err = w.rollback(ctx, rs, f.Target)
		case FaultForeignReferrer:
			err = w.foreignReferrer(ctx, rs, f.Target)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("fault %s: %w", f, err)
		}
	}
	return nil
}

// otherArch is the architecture a cross-arch substitution takes: arm64,
// or amd64 for an arm64 target.
func otherArch(arch string) string {
	if arch == "arm64" {
		return "amd64"
	}
	return "arm64"
}

func (w *World) crossArch(ctx context.Context, rs *ReleaseState, target string) error {
	if f, ok := rs.Files[target]; ok {
		arch := f.Artifact.Platform.Arch
		src := strings.Replace(target, "/"+arch+"/", "/"+otherArch(arch)+"/", 1)
		if f.Artifact.Kind == artifacts.KindTarball {
			src = strings.Replace(target, "-"+arch+".", "-"+otherArch(arch)+".", 1)
		}
		return w.copySite(rs, src, rs, target)
	}
	im := rs.Images[target]
	arch := strings.TrimPrefix(im.Platform, "linux/")
	src := strings.TrimSuffix(target, arch) + otherArch(arch)
	return w.copyImage(ctx, src, rs.Version.String(), target, rs.Version.String(), true)
}

func (w *World) indexAtArch(ctx context.Context, rs *ReleaseState, target string) error {
	im := rs.Images[target]
	index := strings.TrimSuffix(target, "-"+strings.TrimPrefix(im.Platform, "linux/"))
	if _, ok := rs.Images[index]; !ok || im.Platform == "" {
		return fmt.Errorf("%s is not a platform image of an index", target)
	}
	return w.copyImage(ctx, index, rs.Version.String(), target, rs.Version.String(), true)
}

// rollback serves the previous release's artifact at this one's place.
func (w *World) rollback(ctx context.Context, rs *ReleaseState, target string) error {
	prev := w.previous(rs)
	if prev == nil {
		return fmt.Errorf("the world has no release before %s", rs.Version)
	}
	if _, ok := rs.Files[target]; ok {
		return w.copySite(prev, target, rs, target)
	}
	repos := []string{target}
	if rs.Images[target].Platform == "" { // the whole image: the index and each platform's
		for repo, im := range rs.Images {
			if strings.HasPrefix(repo, target+"-") && im.Platform != "" {
				repos = append(repos, repo)
			}
		}
	}
	for _, repo := range repos {
		if err := w.copyImage(ctx, repo, prev.Version.String(), repo, rs.Version.String(), false); err != nil {
			return err
		}
	}
	return nil
}

func (w *World) previous(rs *ReleaseState) *ReleaseState {
	var prev *ReleaseState
	for _, r := range w.Releases {
		if r.Version.Less(rs.Version) && (prev == nil || prev.Version.Less(r.Version)) {
			prev = r
		}
	}
	return prev
}

// foreignReferrer serves another image's index at target's tag with a
// referrer bundle, by the release team, naming that other image.
func (w *World) foreignReferrer(ctx context.Context, rs *ReleaseState, target string) error {
	other := ""
	for repo, im := range rs.Images {
		if im.Platform == "" && repo != target && (other == "" || repo < other) {
			other = repo
		}
	}
	if other == "" || rs.Images[target] == nil || rs.Images[target].Platform != "" {
		return fmt.Errorf("%s is not one of several indexes", target)
	}
	tag := rs.Version.String()
	if err := w.copyImage(ctx, other, tag, target, tag, false); err != nil {
		return err
	}
	digest := rs.Images[other].Digest
	at := ImagesSignedAt(rs.Release)
	b, err := w.Sigstore.SignDSSEBundle(CosignSignStatementNamed(digest, PublicRegistry+"/"+other, CosignSignPredicateType),
		SignOptions{CertOptions: CertOptions{Identity: artifacts.ImageSigner.SAN, Issuer: artifacts.ImageSigner.Issuer, NotBefore: at.Add(-time.Minute)}, IntegratedTime: at})
	if err != nil {
		return err
	}
	return w.AttachBundle(target, digest, b)
}

// copySite serves the file at path src of release from (and its side
// files) at path dst of release to.
func (w *World) copySite(from *ReleaseState, src string, to *ReleaseState, dst string) error {
	copied := false
	for _, ext := range []string{"", ".sha256", ".sha512", ".sig", ".cert"} {
		data, ok := w.site[from.prefix()+src+ext]
		delete(w.site, to.prefix()+dst+ext)
		if ok {
			w.site[to.prefix()+dst+ext] = data
			copied = true
		}
	}
	if !copied {
		return fmt.Errorf("no file %s in %s", src, from.Version)
	}
	return nil
}

// copyImage serves the manifest at src:srcTag at dst:dstTag; with sigs,
// its cosign signature tag is copied into dst too (a signature lives in
// the repository of what it signs).
func (w *World) copyImage(ctx context.Context, src, srcTag, dst, dstTag string, sigs bool) error {
	opts := []remote.Option{remote.WithTransport(w.transport), remote.WithContext(ctx)}
	from, err := name.NewTag(w.Registry + "/" + src + ":" + srcTag)
	if err != nil {
		return err
	}
	to, err := name.NewTag(w.Registry + "/" + dst + ":" + dstTag)
	if err != nil {
		return err
	}
	desc, err := remote.Get(from, opts...)
	if err != nil {
		return err
	}
	if err := writeDescriptor(desc, to, opts); err != nil {
		return err
	}
	if !sigs {
		return nil
	}
	sigTag := strings.Replace(desc.Digest.String(), ":", "-", 1) + ".sig"
	sigFrom, err := name.NewTag(w.Registry + "/" + src + ":" + sigTag)
	if err != nil {
		return err
	}
	sigTo, err := name.NewTag(w.Registry + "/" + dst + ":" + sigTag)
	if err != nil {
		return err
	}
	sd, err := remote.Get(sigFrom, opts...)
	if err != nil {
		return err
	}
	return writeDescriptor(sd, sigTo, opts)
}

func writeDescriptor(desc *remote.Descriptor, to name.Tag, opts []remote.Option) error {
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return remote.WriteIndex(to, idx, opts...)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return remote.Write(to, img, opts...)
}

// applyLogCopies logs, in the active shard and now, a copy of every log
// entry of the artifacts the log-copy fault names.
func (w *World) applyLogCopies() error {
	rs := w.Releases[len(w.Releases)-1]
	for _, f := range w.Faults {
		if f.Kind != FaultLogCopy {
			continue
		}
		var sigs []*Signature
		if file, ok := rs.Files[f.Target]; ok {
			sigs = append(sigs, file.Signature)
		} else if im, ok := rs.Images[f.Target]; ok {
			sigs = im.Signatures
		}
		for _, s := range sigs {
			if s == nil || s.Entry == nil {
				continue
			}
			if _, err := w.Sigstore.Log.Append(s.Entry.Body, s.Entry.ArtifactHash, time.Now()); err != nil {
				return err
			}
		}
	}
	return nil
}
