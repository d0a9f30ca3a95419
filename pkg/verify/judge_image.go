package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// maxManifest bounds a manifest or configuration parsed here.
const maxManifest = 4 << 20

// checkImage binds an image artifact to what was served ("image", then
// "platform"): the manifest is the one of the digest; an index where the
// artifact is an index, an image manifest where it is a platform's image,
// whose configuration (content-addressed by the manifest) names the
// artifact's platform; and the release's index lists this very digest for
// the platform.
func (c *decision) checkImage(ev Evidence, subject sigverify.Digest) bool {
	im := ev.Image
	a := c.v.Artifact
	if im == nil || len(im.Manifest) == 0 {
		c.set(StatusError, "the evidence holds no manifest of "+subject.String(), nil)
		return false
	}
	if got := sha256Of(im.Manifest); got != subject {
		c.failCheck(CheckImage, sigverify.ErrDigestMismatch, "the manifest of "+subject.String(), "content of "+got.String(), nil)
		return false
	}
	index := isIndex(im.MediaType, im.Manifest)
	switch {
	case a.Platform.IsZero() && !index:
		c.failCheck(CheckImage, ErrPlatformMismatch, "a multi-platform index", "an image manifest ("+im.MediaType+")", nil)
		return false
	case a.Platform.IsZero():
		c.passCheck(CheckImage, "a multi-platform index", im.MediaType)
		return true
	case index:
		c.failCheck(CheckImage, ErrPlatformMismatch, "the image manifest of "+a.Platform.String(), "a multi-platform index ("+im.MediaType+")", nil)
		return false
	}
	c.passCheck(CheckImage, "an image manifest", im.MediaType)
	return c.checkPlatform(im, subject)
}

func (c *decision) checkPlatform(im *ImageEvidence, subject sigverify.Digest) bool {
	a := c.v.Artifact
	want := a.Platform.String()
	got, err := configPlatform(im)
	if err != nil {
		c.failCheck(CheckPlatform, ErrPlatformMismatch, "an image configuration for "+want, "", err)
		return false
	}
	if got.OS != a.Platform.OS || got.Architecture != a.Platform.Arch {
		c.failCheck(CheckPlatform, ErrPlatformMismatch, "an image for "+want, "an image for "+platformString(got), nil)
		return false
	}
	actual := "configuration says " + platformString(got)
	if len(im.Index) > 0 {
		listed, err := indexChild(im.Index, im.IndexRef, a.Platform)
		switch {
		case err != nil:
			c.failCheck(CheckPlatform, ErrPlatformMismatch, "the release index "+im.IndexRef+" listing "+want, "", err)
			return false
		case listed != subject:
			c.failCheck(CheckPlatform, ErrPlatformMismatch, fmt.Sprintf("%s, which the release index %s lists for %s", listed, im.IndexRef, want), subject.String(), nil)
			return false
		}
		actual += "; the release index " + im.IndexRef + " lists this digest for " + want
	}
	c.passCheck(CheckPlatform, want, actual)
	return true
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func sha256Of(b []byte) sigverify.Digest {
	sum := sha256.Sum256(b)
	return sigverify.SHA256Digest(sum[:])
}

// isIndex reports whether a manifest is a multi-platform index, by its
// media type as served or as the manifest itself declares it.
func isIndex(mediaType string, manifest []byte) bool {
	if types.MediaType(mediaType).IsIndex() {
		return true
	}
	var m struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(manifest, &m) != nil {
		return false
	}
	return types.MediaType(m.MediaType).IsIndex() || m.Manifests != nil
}

// configPlatform reads the platform of an image manifest's configuration,
// which must be the blob the manifest names.
func configPlatform(im *ImageEvidence) (v1.Platform, error) {
	if len(im.Manifest) > maxManifest || len(im.Config) > maxManifest {
		return v1.Platform{}, fmt.Errorf("manifest or configuration larger than %d bytes", maxManifest)
	}
	m, err := v1.ParseManifest(bytes.NewReader(im.Manifest))
	if err != nil {
		return v1.Platform{}, fmt.Errorf("manifest: %w", err)
	}
	if len(im.Config) == 0 {
		return v1.Platform{}, fmt.Errorf("the evidence holds no configuration %s", m.Config.Digest)
	}
	if got := sha256Of(im.Config); got.String() != m.Config.Digest.String() {
		return v1.Platform{}, fmt.Errorf("the configuration in the evidence is %s, the manifest names %s", got, m.Config.Digest)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(im.Config))
	if err != nil {
		return v1.Platform{}, fmt.Errorf("configuration: %w", err)
	}
	return v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}, nil
}

// indexChild returns the digest an index lists for platform; the index
// must be the content of the digest its reference pins, if it pins one.
func indexChild(index []byte, ref string, p artifacts.Platform) (sigverify.Digest, error) {
	if _, pinned, ok := strings.Cut(ref, "@"); ok {
		if got := sha256Of(index); got.String() != pinned {
			return sigverify.Digest{}, fmt.Errorf("the index in the evidence is %s, not %s", got, pinned)
		}
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(index))
	if err != nil {
		return sigverify.Digest{}, fmt.Errorf("index: %w", err)
	}
	var found []string
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == p.OS && m.Platform.Architecture == p.Arch {
			found = append(found, m.Digest.String())
		}
	}
	switch len(found) {
	case 0:
		return sigverify.Digest{}, fmt.Errorf("the index lists no %s manifest", p)
	case 1:
		return sigverify.ParseDigest(found[0])
	}
	return sigverify.Digest{}, fmt.Errorf("the index lists %d %s manifests: %s", len(found), p, strings.Join(found, ", "))
}
