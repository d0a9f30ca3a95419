package pack

import (
	"fmt"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
)

// ImageLayout is an OCI image layout inside a pack (fetch --with-images):
// the images themselves, for mirroring from the air-gapped side.
type ImageLayout struct {
	mu   sync.Mutex
	path layout.Path
}

// ImageLayout creates (or opens) an OCI image layout at rel in the pack.
func (w *Writer) ImageLayout(rel string) (*ImageLayout, error) {
	if err := CheckPath(rel); err != nil {
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

// ReplaceIndex puts idx (with every image it lists) into the layout under
// refName, e.g. "kube-apiserver:v1.24.17" (name:tag, as tools such as
// skopeo address layout entries: oci:DIR:kube-apiserver:v1.24.17). An
// entry of the same name is replaced, so storing the same image again adds
// nothing.
func (l *ImageLayout) ReplaceIndex(idx v1.ImageIndex, refName string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path.ReplaceIndex(idx, match.Name(refName), layout.WithAnnotations(map[string]string{RefNameAnnotation: refName}))
}

// ReplaceImage puts img into the layout under refName, as ReplaceIndex.
func (l *ImageLayout) ReplaceImage(img v1.Image, refName string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path.ReplaceImage(img, match.Name(refName), layout.WithAnnotations(map[string]string{RefNameAnnotation: refName}))
}
