package testworld

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrmutate "github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/signed"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Registries the world's signature payloads name in docker-reference:
// before promo-tools#928 (2023-06-19), like the real promoter's, an
// Artifact Registry backend behind registry.k8s.io (BackingRegistry is
// one; signedReference picks the region); after, registry.k8s.io.
const (
	BackingRegistry = "europe-west1" + backendPath
	PublicRegistry  = "registry.k8s.io"
)

// Image is one manifest of the world's registry: an index or a
// per-platform image, and where it is published.
type Image struct {
	// Repository is the repository name below the registry, e.g.
	// "kube-apiserver-amd64"; Tag the release version.
	Repository, Tag string
	// Platform is "" for an index, else "linux/<arch>".
	Platform string
	Digest   v1.Hash
	// Signatures are the cosign signatures published for the digest.
	Signatures []*Signature
}

// buildImages creates the per-arch images and the index of one image name.
func buildImages(arches []string, layerSize int64) (v1.ImageIndex, map[string]v1.Image, error) {
	imgs := map[string]v1.Image{}
	var adds []ggcrmutate.IndexAddendum
	for _, arch := range arches {
		img, err := random.Image(layerSize, 2)
		if err != nil {
			return nil, nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		img, err = ggcrmutate.ConfigFile(img, cf)
		if err != nil {
			return nil, nil, err
		}
		img = ggcrmutate.MediaType(img, types.DockerManifestSchema2)
		imgs[arch] = img
		adds = append(adds, ggcrmutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.DockerManifestSchema2,
				Platform:  &v1.Platform{OS: "linux", Architecture: arch},
			},
		})
	}
	idx := ggcrmutate.IndexMediaType(ggcrmutate.AppendManifests(emptyIndex(), adds...), types.DockerManifestList)
	return idx, imgs, nil
}

// imageSignature is a cosign signature for an image digest whose payload
// names reference (host/repository), with optional annotations:
// payload, signature, certificate and chain, Rekor bundle.
func (w *World) imageSignature(reference string, annotations map[string]any, digest v1.Hash, o SignOptions, fault FaultKind) (oci.Signature, *Signature, error) {
	signedDigest := digest
	if fault == FaultPayloadDigest {
		sum := sha256.Sum256([]byte("another image " + digest.String()))
		signedDigest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	if fault == FaultPayloadName {
		dir, last := path.Split(reference)
		other := "kube-scheduler"
		if strings.HasPrefix(last, "kube-scheduler") {
			other = "kube-proxy"
		}
		reference = dir + other
	}
	backing, err := name.NewDigest(reference + "@" + signedDigest.String())
	if err != nil {
		return nil, nil, err
	}
	pl, err := payload.Cosign{Image: backing, Annotations: annotations}.MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(pl)
	sig, err := w.signer(fault).SignDigest(sum[:], o)
	if err != nil {
		return nil, nil, err
	}
	opts := []static.Option{static.WithCertChain(sig.CertPEM, w.signer(fault).ChainPEM())}
	if sig.Entry != nil {
		set := sig.Entry.SET
		if fault == FaultForgedSET {
			set = w.Rekor.ForgedSET(sig.Entry)
		}
		opts = append(opts, static.WithBundle(&cbundle.RekorBundle{
			SignedEntryTimestamp: set,
			Payload: cbundle.RekorPayload{
				Body:           base64.StdEncoding.EncodeToString(sig.Entry.Body),
				IntegratedTime: sig.Entry.IntegratedTime,
				LogIndex:       sig.Entry.Index,
				LogID:          w.Sigstore.Log.LogIDHex(),
			},
		}))
	}
	b64 := base64.StdEncoding.EncodeToString(sig.Sig)
	if fault == FaultGarbageSignature {
		b64 = "not a signature!"
		opts[0] = static.WithCertChain([]byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"), nil)
	}
	s, err := static.NewSignature(pl, b64, opts...)
	if err != nil {
		return nil, nil, err
	}
	return s, sig, nil
}

// writeSignatures publishes sigs under repo's sha256-<digest>.sig tag with
// cosign's own writer.
func (w *World) writeSignatures(repo string, digest v1.Hash, entity oci.SignedEntity, sigs []oci.Signature) error {
	var err error
	for _, s := range sigs {
		entity, err = mutate.AttachSignatureToEntity(entity, s)
		if err != nil {
			return err
		}
	}
	r, err := name.NewRepository(w.Registry + "/" + repo)
	if err != nil {
		return err
	}
	if err := ociremote.WriteSignatures(r, entity, ociremote.WithRemoteOptions(remote.WithTransport(w.transport))); err != nil {
		return fmt.Errorf("write signatures of %s@%s: %w", repo, digest, err)
	}
	return nil
}

func signedEntity(img v1.Image, idx v1.ImageIndex) oci.SignedEntity {
	if idx != nil {
		return signed.ImageIndex(idx)
	}
	return signed.Image(img)
}

// pushImage pushes an image or an index under repo:tag, unless the fault
// says it is missing.
func (w *World) pushImage(ctx context.Context, repo, tag string, img v1.Image, idx v1.ImageIndex, fault FaultKind) error {
	if fault == FaultMissing {
		return nil
	}
	ref, err := name.NewTag(w.Registry + "/" + repo + ":" + tag)
	if err != nil {
		return err
	}
	opts := []remote.Option{remote.WithTransport(w.transport), remote.WithContext(ctx)}
	if idx != nil {
		err = remote.WriteIndex(ref, idx, opts...)
	} else {
		err = remote.Write(ref, img, opts...)
	}
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}
