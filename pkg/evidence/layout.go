package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrNotInLayout: the pack's OCI layout has no manifest of that digest.
var ErrNotInLayout = errors.New("not in the pack's OCI image layout")

// ImageLayout is an OCI image layout inside a pack (fetch --with-images):
// the images themselves, for mirroring from the air-gapped side.
type ImageLayout struct {
	mu   sync.Mutex
	path layout.Path
}

// ImageLayout creates (or opens) an OCI image layout at rel in the pack.
func (w *PackWriter) ImageLayout(rel string) (*ImageLayout, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	dir := filepath.Join(w.dir, filepath.FromSlash(rel))
	if p, err := layout.FromPath(dir); err == nil {
		return &ImageLayout{path: p}, nil
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("evidence pack: OCI layout: %w", err)
	}
	return &ImageLayout{path: p}, nil
}

// CopyToLayout copies the manifest m (an image, or an index with every
// image it lists) into the layout, annotated with its reference.
func (s *ImageSession) CopyToLayout(ctx context.Context, m *ImageManifest, l *ImageLayout) error {
	d, err := name.NewDigest(m.Repository + "@" + m.Digest)
	if err != nil {
		return err
	}
	ann := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": m.PinnedReference()})
	if m.Index {
		idx, err := remote.Index(d, s.options(ctx)...)
		if err != nil {
			return registryError("copy "+d.String(), err)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.path.AppendIndex(idx, ann)
	}
	img, err := remote.Image(d, s.options(ctx)...)
	if err != nil {
		return registryError("copy "+d.String(), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path.AppendImage(img, ann)
}

// LayoutManifest checks that the pack's OCI layout holds the manifest of
// digest ("sha256:…"), content-addressed: the blob must hash to it.
func (p *Pack) LayoutManifest(digest string) error {
	if p.Manifest.Images == "" {
		return fmt.Errorf("%w: the pack carries no images", ErrNotInLayout)
	}
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	if _, err := hex.DecodeString(hexDigest); !ok || err != nil || len(hexDigest) != 64 {
		return fmt.Errorf("%w: digest %q", ErrBadPack, digest)
	}
	f, err := p.Open(p.Manifest.Images + "/blobs/sha256/" + hexDigest)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotInLayout, digest)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxManifest+1)); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexDigest {
		return fmt.Errorf("%w: the layout's blob %s holds content of sha256:%s", ErrBadPack, digest, got)
	}
	return nil
}
