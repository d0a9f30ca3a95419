package pack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrNoImages: the pack holds no OCI image layout (fetched without
// images), or not the image asked for.
var ErrNoImages = errors.New("the evidence pack holds no such image")

// Image returns the image (a platform's manifest, its configuration and
// layers) of digest from the pack's OCI image layout. Like every read of
// a pack it stays inside the pack; manifests are checked against their
// digest, layers are streamed as they are (a registry they are written to
// checks them).
func (p *Pack) Image(digest string) (v1.Image, error) {
	raw, mt, err := p.layoutManifest(digest)
	if err != nil {
		return nil, err
	}
	if mt.IsIndex() {
		return nil, fmt.Errorf("%w: %s is an index, not an image", ErrMalformed, digest)
	}
	return partial.CompressedToImage(&packImage{p: p, raw: raw, mt: mt})
}

// ImageIndex returns the index of digest, and the images it lists, from
// the pack's OCI image layout.
func (p *Pack) ImageIndex(digest string) (v1.ImageIndex, error) {
	raw, mt, err := p.layoutManifest(digest)
	if err != nil {
		return nil, err
	}
	if !mt.IsIndex() {
		return nil, fmt.Errorf("%w: %s is not an index", ErrMalformed, digest)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: index %s: %v", ErrMalformed, digest, err)
	}
	if len(im.Manifests) > maxIndexChildren {
		return nil, fmt.Errorf("%w: index %s lists %d manifests, more than %d", ErrMalformed, digest, len(im.Manifests), maxIndexChildren)
	}
	return &packIndex{p: p, raw: raw, mt: mt, im: im}, nil
}

// layoutBlob is the path of a blob in the pack's layout.
func (p *Pack) layoutBlob(h v1.Hash) (string, error) {
	if p.Manifest.Images == "" {
		return "", fmt.Errorf("%w: it was fetched without the images", ErrNoImages)
	}
	if h.Algorithm != "sha256" {
		return "", fmt.Errorf("%w: digest %s", ErrMalformed, h)
	}
	rel := path.Join(p.Manifest.Images, "blobs", h.Algorithm, h.Hex)
	if err := CheckPath(rel); err != nil {
		return "", err
	}
	return rel, nil
}

// layoutManifest reads a manifest or index of the layout, checked against
// its digest, and its media type.
func (p *Pack) layoutManifest(digest string) ([]byte, types.MediaType, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, "", fmt.Errorf("%w: digest %q: %v", ErrMalformed, digest, err)
	}
	rel, err := p.layoutBlob(h)
	if err != nil {
		return nil, "", err
	}
	raw, err := p.read(rel, maxImageManifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: %s is not in its OCI layout", ErrNoImages, digest)
	}
	if err != nil {
		return nil, "", err
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(raw)); got != h {
		return nil, "", fmt.Errorf("%w: the layout's blob %s has digest %s", ErrMalformed, h, got)
	}
	var m struct {
		MediaType types.MediaType   `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", fmt.Errorf("%w: manifest %s: %v", ErrMalformed, digest, err)
	}
	mt := m.MediaType
	switch {
	case mt != "":
	case m.Manifests != nil:
		mt = types.OCIImageIndex
	default:
		mt = types.OCIManifestSchema1
	}
	return raw, mt, nil
}

// packImage is an image of the pack's layout.
type packImage struct {
	p   *Pack
	raw []byte
	mt  types.MediaType
}

func (i *packImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *packImage) MediaType() (types.MediaType, error) { return i.mt, nil }

func (i *packImage) RawConfigFile() ([]byte, error) {
	m, err := v1.ParseManifest(bytes.NewReader(i.raw))
	if err != nil {
		return nil, err
	}
	rel, err := i.p.layoutBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	return i.p.read(rel, maxImageConfig)
}

func (i *packImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := v1.ParseManifest(bytes.NewReader(i.raw))
	if err != nil {
		return nil, err
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if d.Digest == h {
			return &packLayer{p: i.p, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("%w: the manifest lists no blob %s", ErrMalformed, h)
}

// packLayer is a blob of the pack's layout, streamed.
type packLayer struct {
	p    *Pack
	desc v1.Descriptor
}

func (l *packLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *packLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *packLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *packLayer) Compressed() (io.ReadCloser, error) {
	rel, err := l.p.layoutBlob(l.desc.Digest)
	if err != nil {
		return nil, err
	}
	return l.p.Open(rel)
}

// packIndex is an index of the pack's layout.
type packIndex struct {
	p   *Pack
	raw []byte
	mt  types.MediaType
	im  *v1.IndexManifest
}

func (x *packIndex) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *packIndex) Digest() (v1.Hash, error)            { return partial.Digest(x) }
func (x *packIndex) Size() (int64, error)                { return partial.Size(x) }
func (x *packIndex) IndexManifest() (*v1.IndexManifest, error) {
	return x.im.DeepCopy(), nil
}
func (x *packIndex) RawManifest() ([]byte, error)                { return x.raw, nil }
func (x *packIndex) Image(h v1.Hash) (v1.Image, error)           { return x.p.Image(h.String()) }
func (x *packIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) { return x.p.ImageIndex(h.String()) }
