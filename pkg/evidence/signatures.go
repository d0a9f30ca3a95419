package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-openapi/strfmt"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	gcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"

	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Signatures fetches every signature published for digest in repository
// (registry/repository): cosign's sha256-<hex>.sig tag, and Sigstore
// bundles attached as OCI referrers (the referrers API, or its tag schema
// where the registry lacks it). No signature is no error: an unsigned
// image has none. A failure to read the .sig tag is an error; a signature
// that cannot be fetched or read is recorded in it (Unavailable,
// Malformed). Each cosign signature carries the log entries found for
// it: the one in its bundle annotation and, when the fetcher has Rekor,
// those Rekor holds — alternatives for the judge, never replacements.
func (s *ImageSession) Signatures(ctx context.Context, repository, digest string) ([]verify.SignatureEvidence, error) {
	repo, err := name.NewRepository(repository, s.f.NameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repository, err)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, fmt.Errorf("digest %q: %w", digest, err)
	}
	d := repo.Digest(h.String())
	var (
		wg               sync.WaitGroup
		tagged, referred []verify.SignatureEvidence
		tagErr           error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		tagged, tagErr = s.cosignSignatures(ctx, d)
	}()
	go func() {
		defer wg.Done()
		referred = s.referrerBundles(ctx, d)
	}()
	wg.Wait()
	if tagErr != nil {
		return nil, tagErr
	}
	return append(tagged, referred...), nil
}

// cosignSignatures reads the sha256-<hex>.sig manifest with cosign's own
// reader and normalises each layer.
func (s *ImageSession) cosignSignatures(ctx context.Context, d name.Digest) ([]verify.SignatureEvidence, error) {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(s.options(ctx)...)}
	tag, err := ociremote.SignatureTag(d, opts...)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(tag, opts...) // no .sig tag: no signatures
	if err != nil {
		return nil, registryError("signatures "+tag.String(), err)
	}
	m, err := sigs.Manifest()
	if err != nil {
		return nil, registryError("signatures "+tag.String(), err)
	}
	if n := len(m.Layers); n > MaxImageSignatures {
		return nil, fmt.Errorf("signatures %s: %w: %d layers, at most %d are read", tag, ErrTooManySignatures, n, MaxImageSignatures)
	}
	list, err := sigs.Get()
	if err == nil && len(list) != len(m.Layers) {
		err = fmt.Errorf("%d signatures for %d layers", len(list), len(m.Layers))
	}
	if err != nil {
		return nil, registryError("signatures "+tag.String(), err)
	}
	out := make([]verify.SignatureEvidence, len(list))
	sem := make(chan struct{}, signatureFetchers)
	var wg sync.WaitGroup
	for i, sig := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = s.cosignSignature(ctx, s.parsedLayer(ctx, tag.Context(), sig, m.Layers[i]))
			out[i].Location = d.Context().Name()
			out[i].References = []string{tag.String()}
		}()
	}
	wg.Wait()
	return out, nil
}

// parsedSignature is a layer of a .sig manifest parsed once: cosign's
// accessors for its annotations, its size and digest from its descriptor,
// its payload read by digest. Cosign's own layer parses the manifest again
// for its size and its payload (go-containerregistry's
// partial.BlobDescriptor): a cost growing with the square of the layers.
type parsedSignature struct {
	cosignLayer // embedded by a name that does not hide its Signature method
	desc        v1.Descriptor
	blob        func() (v1.Layer, error)
}

type cosignLayer = oci.Signature

func (s *ImageSession) parsedLayer(ctx context.Context, repo name.Repository, sig oci.Signature, desc v1.Descriptor) parsedSignature {
	return parsedSignature{cosignLayer: sig, desc: desc, blob: func() (v1.Layer, error) {
		return remote.Layer(repo.Digest(desc.Digest.String()), s.options(ctx)...)
	}}
}

func (p parsedSignature) Size() (int64, error)     { return p.desc.Size, nil }
func (p parsedSignature) Digest() (v1.Hash, error) { return p.desc.Digest, nil }

// Payload reads the layer's bytes by digest, exactly as many as its
// descriptor says; go-containerregistry checks the digest at their end.
func (p parsedSignature) Payload() ([]byte, error) {
	l, err := p.blob()
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, p.desc.Size+1))
	if err == nil && int64(len(b)) != p.desc.Size {
		err = fmt.Errorf("layer %s: %d bytes, its descriptor says %d", p.desc.Digest, len(b), p.desc.Size)
	}
	return b, err
}

// cosignSignature normalises one layer of a .sig manifest: payload,
// signature and certificate annotations, and its log entries.
func (s *ImageSession) cosignSignature(ctx context.Context, sig oci.Signature) verify.SignatureEvidence {
	se := verify.SignatureEvidence{Source: verify.SourceSignatureTag}
	malformed := func(format string, a ...any) verify.SignatureEvidence {
		se.Malformed = fmt.Errorf("%w: %s", verify.ErrEvidenceMalformed, fmt.Sprintf(format, a...))
		return se
	}
	if size, err := sig.Size(); err == nil && size > maxSignatureBlob {
		return malformed("payload of %d bytes exceeds %d", size, maxSignatureBlob)
	}
	early := s.f.lookupAhead(ctx, sig)
	defer early.stop()
	payload, err := sig.Payload()
	if err != nil {
		se.Unavailable = registryError("signature payload", err)
		return se
	}
	se.Payload = payload
	b64, err := sig.Base64Signature()
	if err != nil {
		return malformed("%v", err)
	}
	sigBytes, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sigBytes) == 0 {
		return malformed("signature annotation is not base64: %q", shorten(b64))
	}
	cert, err := sig.Cert()
	if err != nil {
		return malformed("certificate annotation: %v", err)
	}
	if cert == nil {
		return malformed("no certificate annotation: not a keyless signature")
	}
	rb, err := sig.Bundle()
	if err != nil {
		return malformed("bundle annotation: %v", err)
	}
	var annotated []*protorekor.TransparencyLogEntry
	if rb != nil {
		entry, err := annotationEntry(rb)
		if err != nil {
			return malformed("bundle annotation: %v", err)
		}
		annotated = append(annotated, entry)
	}
	digest := sha256.Sum256(payload)
	found, err := s.f.lookupWith(ctx, early, digest[:], sigBytes, cert.Raw)
	switch {
	case err != nil && len(annotated) == 0:
		se.Unavailable = err
		return se
	case err != nil:
		se.LogLookup = err // the annotation's signed entry timestamp stands on its own
	}
	// Rekor's entries first: the same entry from the annotation adds
	// nothing to one with its inclusion proof.
	entries := appendEntries(found, annotated...)
	if se.Bundle, err = messageSignatureBundle(digest[:], sigBytes, cert.Raw, entries); err != nil {
		se.Malformed = err
	}
	return se
}

// appendEntries adds entries not already there (the same log and index).
func appendEntries(entries []*protorekor.TransparencyLogEntry, more ...*protorekor.TransparencyLogEntry) []*protorekor.TransparencyLogEntry {
	for _, e := range more {
		dup := false
		for _, x := range entries {
			if x.GetLogIndex() == e.GetLogIndex() && string(x.GetLogId().GetKeyId()) == string(e.GetLogId().GetKeyId()) {
				dup = true
				break
			}
		}
		if !dup {
			entries = append(entries, e)
		}
	}
	return entries
}

// aheadLookup is a log lookup started from a .sig layer's descriptor
// (its digest is the payload's SHA-256, its annotations the signature and
// certificate) while the payload downloads: the lookup the payload would
// ask for once read, a round trip earlier.
type aheadLookup struct {
	digest       []byte
	sig, certDER []byte
	cancel       context.CancelFunc
	done         chan struct{}
	found        []*protorekor.TransparencyLogEntry
	err          error
}

// lookupAhead starts the log lookup of a cosign signature layer from its
// descriptor, when the descriptor says all a lookup needs (nil: it does
// not, or there is no log; lookupWith then looks up as it would have).
func (f *Fetcher) lookupAhead(ctx context.Context, sig oci.Signature) *aheadLookup {
	if f.log == nil {
		return nil
	}
	h, err := sig.Digest()
	if err != nil || h.Algorithm != "sha256" {
		return nil
	}
	digest, err := hex.DecodeString(h.Hex)
	if err != nil || len(digest) != sha256.Size {
		return nil
	}
	b64, err := sig.Base64Signature()
	if err != nil {
		return nil
	}
	sigBytes, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sigBytes) == 0 {
		return nil
	}
	cert, err := sig.Cert()
	if err != nil || cert == nil {
		return nil
	}
	l := &aheadLookup{digest: digest, sig: sigBytes, certDER: cert.Raw, done: make(chan struct{})}
	lctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	go func() {
		defer close(l.done)
		l.found, l.err = f.lookupEntries(lctx, l.digest, l.sig, l.certDER)
	}()
	return l
}

// lookupWith returns the log entries recording this signature: those
// the lookup l started ahead found when it asked for exactly these (the
// payload's digest is the one its descriptor announced), else those of a
// lookup made now. Either answer, errors included, is the one a lookup
// made now would have had.
func (f *Fetcher) lookupWith(ctx context.Context, l *aheadLookup, digest, sig, certDER []byte) ([]*protorekor.TransparencyLogEntry, error) {
	if l != nil && bytes.Equal(l.digest, digest) && bytes.Equal(l.sig, sig) && bytes.Equal(l.certDER, certDER) {
		<-l.done
		return l.found, l.err
	}
	l.stop() // not this signature's: leave it
	return f.lookupEntries(ctx, digest, sig, certDER)
}

// stop leaves a lookup whose answer is not needed (the payload could not
// be read, or its signature is malformed) and waits for it to end.
func (l *aheadLookup) stop() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
}

// lookupEntries finds the Rekor entries that record exactly this
// signature (RekorClient.FindEntries), in the bundle's form; none without
// a Rekor client.
func (f *Fetcher) lookupEntries(ctx context.Context, digest, sig, certDER []byte) ([]*protorekor.TransparencyLogEntry, error) {
	if f.log == nil {
		return nil, nil
	}
	entries, err := f.log.FindEntries(ctx, hex.EncodeToString(digest), sig, certDER)
	if err != nil {
		return nil, err
	}
	var out []*protorekor.TransparencyLogEntry
	for _, e := range entries {
		t, err := logEntry(e)
		if err != nil {
			continue // not usable; pkg/verify would reject it anyway
		}
		out = append(out, t)
	}
	return out, nil
}

// referrerBundles finds Sigstore bundles attached to d as OCI referrers
// and reads each with cosign's reader. Failures are recorded as signatures
// that could not be fetched or read.
func (s *ImageSession) referrerBundles(ctx context.Context, d name.Digest) []verify.SignatureEvidence {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(s.options(ctx)...)}
	where := d.Context().Name()
	// No artifactType filter: some registries report a referrer's config
	// media type as its artifactType, and filtering would hide it.
	idx, err := ociremote.Referrers(d, "", opts...)
	if errors.Is(registryError("", err), transport.ErrNotFound) {
		return nil // no such repository: no referrers
	}
	if err != nil {
		return []verify.SignatureEvidence{{Source: verify.SourceReferrer, Location: where, Unavailable: registryError("referrers of "+d.String(), err)}}
	}
	var found []v1.Descriptor
	for _, m := range idx.Manifests {
		if isBundleReferrer(m) {
			found = append(found, m)
		}
	}
	if len(found) > MaxImageSignatures {
		err := fmt.Errorf("referrers of %s: %w: %d bundles, at most %d are read", d, ErrTooManySignatures, len(found), MaxImageSignatures)
		return []verify.SignatureEvidence{{Source: verify.SourceReferrer, Location: where, Unavailable: err}}
	}
	out := make([]verify.SignatureEvidence, len(found))
	var wg sync.WaitGroup
	sem := make(chan struct{}, signatureFetchers)
	for i, m := range found {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ref := d.Context().Digest(m.Digest.String())
			se := verify.SignatureEvidence{Source: verify.SourceReferrer, Location: where, References: []string{ref.String()}}
			b, err := ociremote.Bundle(ref, opts...)
			var te *gcrtransport.Error
			switch {
			case errors.As(err, &te), isNetworkError(err):
				se.Unavailable = registryError("referrer "+m.Digest.String(), err)
			case err != nil:
				se.Malformed = fmt.Errorf("%w: referrer %s: %v", verify.ErrEvidenceMalformed, m.Digest, err)
			default:
				se.Bundle = b
			}
			out[i] = se
		}()
	}
	wg.Wait()
	return out
}

// isBundleReferrer selects the referrers that are Sigstore bundles: by
// artifactType, or by the annotation cosign writes beside it where a
// registry reports the config media type instead.
func isBundleReferrer(d v1.Descriptor) bool {
	if d.ArtifactType == MediaTypeBundle03 {
		return true
	}
	_, annotated := d.Annotations["dev.sigstore.bundle.content"]
	return annotated && (d.ArtifactType == "" || d.ArtifactType == MediaTypeEmptyConfig)
}

// MediaTypeEmptyConfig is the OCI empty configuration's media type.
const MediaTypeEmptyConfig = "application/vnd.oci.empty.v1+json"

// annotationEntry turns cosign's bundle annotation (a Rekor signed entry
// timestamp and the entry it signs) into a log entry without inclusion
// proof.
func annotationEntry(rb *cbundle.RekorBundle) (*protorekor.TransparencyLogEntry, error) {
	body, ok := rb.Payload.Body.(string)
	if !ok || body == "" {
		return nil, errors.New("entry body is not a base64 string")
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, errors.New("no signed entry timestamp")
	}
	it, idx, logID := rb.Payload.IntegratedTime, rb.Payload.LogIndex, rb.Payload.LogID
	return logEntry(&models.LogEntryAnon{
		Body: body, IntegratedTime: &it, LogIndex: &idx, LogID: &logID,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: strfmt.Base64(rb.SignedEntryTimestamp)},
	})
}
