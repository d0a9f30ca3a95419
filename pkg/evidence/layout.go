package evidence

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k8sverify/k8sverify/pkg/pack"
)

// CopyToLayout copies the manifest m (an image, or an index with every
// image it lists) into the pack's image layout under refName (see
// pack.ImageLayout.ReplaceIndex).
func (s *ImageSession) CopyToLayout(ctx context.Context, m *ImageManifest, l *pack.ImageLayout, refName string) error {
	d, err := name.NewDigest(m.Repository+"@"+m.Digest, s.f.NameOptions()...)
	if err != nil {
		return err
	}
	if m.Index {
		idx, err := remote.Index(d, s.options(ctx)...)
		if err != nil {
			return registryError("copy "+d.String(), err)
		}
		return l.ReplaceIndex(idx, refName)
	}
	img, err := remote.Image(d, s.options(ctx)...)
	if err != nil {
		return registryError("copy "+d.String(), err)
	}
	return l.ReplaceImage(img, refName)
}
