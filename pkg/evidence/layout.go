package evidence

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

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

// RefNameAnnotation names an image in an OCI image layout.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// CopyToLayout copies the manifest m (an image, or an index with every
// image it lists) into the layout under refName, e.g.
// "kube-apiserver:v1.24.17" (name:tag, as tools such as skopeo address
// layout entries: oci:DIR:kube-apiserver:v1.24.17). An entry of the same
// name is replaced, so fetching the same image again adds nothing.
func (s *ImageSession) CopyToLayout(ctx context.Context, m *ImageManifest, l *ImageLayout, refName string) error {
	d, err := name.NewDigest(m.Repository+"@"+m.Digest, s.f.nameOptions()...)
	if err != nil {
		return err
	}
	ann := layout.WithAnnotations(map[string]string{RefNameAnnotation: refName})
	if m.Index {
		idx, err := remote.Index(d, s.options(ctx)...)
		if err != nil {
			return registryError("copy "+d.String(), err)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.path.ReplaceIndex(idx, match.Name(refName), ann)
	}
	img, err := remote.Image(d, s.options(ctx)...)
	if err != nil {
		return registryError("copy "+d.String(), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path.ReplaceImage(img, match.Name(refName), ann)
}
