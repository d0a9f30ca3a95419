package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Store writes an artifact's evidence into the pack — bundles below
// bundles/<base>, payloads beside them, image manifests and
// configurations content-addressed below blobs/sha256/ — and returns its
// manifest entry. base is the artifact's place in the pack, from the
// catalog (never from remote data).
func (w *Writer) Store(a artifacts.Artifact, base string, ev verify.Evidence) (Entry, error) {
	e := Entry{Kind: a.Kind, Name: a.Name, Platform: a.Platform, Location: a.Location,
		Missing: ev.Missing, Unavailable: errString(ev.Unavailable), Malformed: errString(ev.Malformed)}
	for _, d := range ev.Digests {
		e.Digests = append(e.Digests, Digest{Digest: d.Digest.String(), Channel: d.Channel})
	}
	if ev.Image != nil {
		img, err := w.storeImage(ev.Image)
		if err != nil {
			return e, err
		}
		e.Image = img
	}
	for i, s := range ev.Signatures {
		ps := Signature{Source: s.Source, Location: s.Location, Malformed: errString(s.Malformed),
			Unavailable: errString(s.Unavailable), LogLookup: errString(s.LogLookup), References: s.References}
		if s.Bundle != nil {
			ps.Bundle = fmt.Sprintf("bundles/%s/%d.sigstore.json", base, i)
			if err := w.WriteBundle(ps.Bundle, s.Bundle); err != nil {
				return e, err
			}
		}
		if s.Payload != nil {
			ps.Payload = fmt.Sprintf("bundles/%s/%d.payload.json", base, i)
			if err := w.WriteFile(ps.Payload, s.Payload); err != nil {
				return e, err
			}
		}
		e.Signatures = append(e.Signatures, ps)
	}
	return e, nil
}

func (w *Writer) storeImage(im *verify.ImageEvidence) (*Image, error) {
	out := &Image{MediaType: im.MediaType, IndexRef: im.IndexRef}
	for _, b := range []struct {
		data []byte
		path *string
	}{{im.Manifest, &out.Manifest}, {im.Config, &out.Config}, {im.Index, &out.Index}} {
		if len(b.data) == 0 {
			continue
		}
		sum := sha256.Sum256(b.data)
		*b.path = "blobs/sha256/" + hex.EncodeToString(sum[:])
		if err := w.WriteFile(*b.path, b.data); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func stringErr(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// Lookup returns the pack's entry of artifact a.
func (p *Pack) Lookup(a artifacts.Artifact) (*Entry, bool) {
	id := a.ID()
	for i := range p.Manifest.Artifacts {
		if p.Manifest.Artifacts[i].Key() == id {
			return &p.Manifest.Artifacts[i], true
		}
	}
	return nil, false
}

// Evidence reads an entry's evidence back: the value fetch stored. A
// bundle or payload the pack does not hold, or holds malformed, is a
// malformed signature; an image blob it lacks makes the evidence
// unavailable.
func (p *Pack) Evidence(e *Entry) verify.Evidence {
	ev := verify.Evidence{Missing: e.Missing, Unavailable: stringErr(e.Unavailable), Malformed: stringErr(e.Malformed)}
	for _, d := range e.Digests {
		digest, err := sigverify.ParseDigest(d.Digest)
		if err != nil {
			return verify.Evidence{Unavailable: fmt.Errorf("%w: %s: %v", ErrMalformed, e.Key(), err)}
		}
		ev.Digests = append(ev.Digests, verify.DigestClaim{Digest: digest, Channel: d.Channel})
	}
	if e.Image != nil {
		im, err := p.image(e.Image)
		if err != nil {
			return verify.Evidence{Unavailable: fmt.Errorf("%s: %w", e.Key(), err)}
		}
		ev.Image = im
	}
	for _, s := range e.Signatures {
		ev.Signatures = append(ev.Signatures, p.signature(s))
	}
	return ev
}

func (p *Pack) signature(s Signature) verify.SignatureEvidence {
	se := verify.SignatureEvidence{Source: s.Source, Location: s.Location, Malformed: stringErr(s.Malformed),
		Unavailable: stringErr(s.Unavailable), LogLookup: stringErr(s.LogLookup), References: s.References}
	if se.Malformed != nil || se.Unavailable != nil {
		return se
	}
	var err error
	if s.Bundle == "" {
		se.Malformed = fmt.Errorf("%w: the pack records a signature without its bundle", ErrMalformed)
		return se
	}
	if se.Bundle, err = p.ReadBundle(s.Bundle); err != nil {
		se.Bundle, se.Malformed = nil, err
		return se
	}
	if s.Payload != "" {
		if se.Payload, err = p.read(s.Payload, maxPayload); err != nil {
			se.Bundle, se.Payload, se.Malformed = nil, nil, err
		}
	}
	return se
}

func (p *Pack) image(pi *Image) (*verify.ImageEvidence, error) {
	im := &verify.ImageEvidence{MediaType: pi.MediaType, IndexRef: pi.IndexRef}
	for _, b := range []struct {
		path string
		data *[]byte
	}{{pi.Manifest, &im.Manifest}, {pi.Config, &im.Config}, {pi.Index, &im.Index}} {
		if b.path == "" {
			continue
		}
		data, err := p.read(b.path, maxPackBlob)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is not in the pack", ErrMalformed, b.path)
		}
		if err != nil {
			return nil, err
		}
		*b.data = data
	}
	return im, nil
}
