package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Fuzz targets for everything pkg/evidence reads from the download site,
// a registry's signature annotations and an evidence pack. Seeds:
// the f.Add calls (material signed afresh by a test Sigstore, in the
// encodings the real services use) and testdata/fuzz/<target>/ (the same
// material from one run). `make fuzz` runs each target; Rekor's answers
// have their own in pkg/rekor.

// fuzzFixture is a genuine blob signature with its Rekor entry in every
// encoding the fetcher reads, the trust that verifies it, and an evidence
// pack holding it.
type fuzzFixture struct {
	digest, sig, certDER, certPEM []byte
	sigFile, certFile             []byte // as dl.k8s.io publishes them
	uuid                          string
	entry                         models.LogEntryAnon
	verifier                      *sigverify.Verifier
	policy                        sigverify.Policy

	// An image signature, as cosign's .sig layer carries it.
	imageDigest        sigverify.Digest
	payload            []byte
	imageSig           string // base64
	imageCert          []byte // PEM
	imageAnnotation    []byte // the dev.sigstore.cosign/bundle annotation
	imageSigner        artifacts.Identity
	imageArtifactNames sigverify.ImageNames

	// An evidence pack holding both, and the judge that reads it.
	packDir, manifest string
	manifestData      []byte
	judge             *verify.Judge
	release           *artifacts.Release
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	s, err := testworld.NewSigstore("http://127.0.0.1:1")
	must(err)
	tr, err := s.TrustedRoot()
	must(err)
	fx := &fuzzFixture{}
	fx.verifier, err = sigverify.NewVerifier(&sigverify.Trust{Material: tr})
	must(err)
	fx.judge, err = verify.NewJudge(fx.verifier, verify.Rules{})
	must(err)

	sum := sha256.Sum256([]byte("kubectl v1.24.17 linux/amd64"))
	fx.digest = sum[:]
	fx.policy = sigverify.Policy{Identity: artifacts.BlobSigner, Digest: sigverify.SHA256Digest(fx.digest)}
	signed, err := s.SignDigest(fx.digest, testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer}})
	must(err)
	fx.sig, fx.certDER, fx.certPEM = signed.Sig, signed.Cert.Raw, signed.CertPEM
	fx.sigFile = []byte(base64.StdEncoding.EncodeToString(fx.sig))
	fx.certFile = []byte(base64.StdEncoding.EncodeToString(fx.certPEM))
	proof, err := s.Log.InclusionProof(signed.Entry)
	must(err)
	fx.uuid = signed.Entry.UUID
	fx.entry = s.Log.Anon(signed.Entry, signed.Entry.SET, proof)

	// An image signature as the promoter makes it.
	fx.imageSigner = artifacts.ImageSigner
	imageSum := sha256.Sum256([]byte(fuzzIndex))
	fx.imageDigest = sigverify.SHA256Digest(imageSum[:])
	fx.imageArtifactNames = sigverify.NamesFor("kube-apiserver", "")
	ref, err := name.NewDigest(testworld.BackingRegistry + "/kube-apiserver@" + fx.imageDigest.String())
	must(err)
	fx.payload, err = payload.Cosign{Image: ref}.MarshalJSON()
	must(err)
	payloadSum := sha256.Sum256(fx.payload)
	imageSigned, err := s.SignDigest(payloadSum[:], testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: fx.imageSigner.SAN, Issuer: fx.imageSigner.Issuer}})
	must(err)
	fx.imageSig = base64.StdEncoding.EncodeToString(imageSigned.Sig)
	fx.imageCert = imageSigned.CertPEM
	imageEntry := s.Log.Anon(imageSigned.Entry, imageSigned.Entry.SET, nil)
	fx.imageAnnotation, err = json.Marshal(cbundle.EntryToBundle(&imageEntry))
	must(err)

	fx.writePack(tb)
	return fx
}

// writePack writes an evidence pack as fetch does: a binary with its
// signature, an image with its manifest, configuration and signature.
func (fx *fuzzFixture) writePack(tb testing.TB) {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	v, err := artifacts.ParseVersion("v1.24.17")
	must(err)
	fx.release, err = artifacts.CatalogRelease(v, artifacts.DefaultLocations)
	must(err)
	fx.packDir = tb.TempDir()
	fx.manifest = filepath.Join(fx.packDir, pack.ManifestName)
	w, err := pack.Create(fx.packDir)
	must(err)
	defer w.Close()

	blob, err := MessageSignatureBundle(fx.digest, fx.sig, fx.certDER, []*models.LogEntryAnon{&fx.entry})
	must(err)
	kubectl := artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Location: "https://dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl", Signer: artifacts.BlobSigner, Signing: artifacts.SigningProbe}
	pb, err := w.Store(kubectl, "bin/linux/amd64/kubectl", verify.Evidence{
		Digests:    []verify.DigestClaim{{Digest: sigverify.SHA256Digest(fx.digest), Channel: verify.ChannelSHA256File}},
		Signatures: []verify.SignatureEvidence{{Source: verify.SourceSigCert, Location: kubectl.Location + ".sig", Bundle: blob}},
	})
	must(err)

	imageSig, err := base64.StdEncoding.DecodeString(fx.imageSig)
	must(err)
	block, _ := pem.Decode(fx.imageCert)
	var rb cbundle.RekorBundle
	must(json.Unmarshal(fx.imageAnnotation, &rb))
	tle, err := annotationEntry(&rb)
	must(err)
	payloadSum := sha256.Sum256(fx.payload)
	imageBundle, err := messageSignatureBundle(payloadSum[:], imageSig, block.Bytes, []*protorekor.TransparencyLogEntry{tle})
	must(err)
	index := artifacts.Artifact{Kind: artifacts.KindImage, Name: "kube-apiserver", Location: "registry.k8s.io/kube-apiserver:v1.24.17",
		Signer: artifacts.ImageSigner, Signing: artifacts.SigningExpected}
	pi, err := w.Store(index, "images/kube-apiserver", verify.Evidence{
		Digests: []verify.DigestClaim{{Digest: fx.imageDigest, Channel: verify.ChannelRegistry}},
		Image:   &verify.ImageEvidence{MediaType: "application/vnd.oci.image.index.v1+json", Manifest: []byte(fuzzIndex)},
		Signatures: []verify.SignatureEvidence{{Source: verify.SourceSignatureTag, Location: "registry.k8s.io/kube-apiserver", Bundle: imageBundle,
			Payload: fx.payload}},
	})
	must(err)
	must(w.Finish(&pack.Manifest{Tool: "k8sverify test", Created: time.Unix(1692748800, 0).UTC(), Release: "v1.24.17", Complete: true,
		Artifacts: []pack.Entry{pb, pi}}))
	fx.manifestData, err = os.ReadFile(fx.manifest)
	must(err)
}

// fuzzIndex is the image index the fixture's image signature signs.
const fuzzIndex = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`

// FuzzDecodeSigCert: a .sig and .cert pair decodes, or is rejected with
// verify.ErrEvidenceMalformed; what decodes, encoded again as dl.k8s.io does,
// decodes to the same signature and certificate.
func FuzzDecodeSigCert(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.sigFile, fx.certFile)
	f.Add(fx.sigFile, fx.certPEM)
	f.Add(append(fx.sigFile, '\n'), append(fx.certFile, '\n'))
	f.Add([]byte("<html>Not Found</html>"), fx.certFile)
	f.Add(fx.sigFile, append(append([]byte{}, fx.certPEM...), fx.certPEM...))
	f.Fuzz(func(t *testing.T, sigData, certData []byte) {
		sig, der, err := decodeSigCert(sigData, certData)
		if err != nil {
			if !errors.Is(err, verify.ErrEvidenceMalformed) {
				t.Fatalf("rejected without verify.ErrEvidenceMalformed: %v", err)
			}
			return
		}
		if len(sig) == 0 || len(der) == 0 {
			t.Fatalf("decoded an empty signature (%d bytes) or certificate (%d bytes)", len(sig), len(der))
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		for _, cert := range [][]byte{[]byte(base64.StdEncoding.EncodeToString(certPEM)), certPEM} {
			sig2, der2, err := decodeSigCert([]byte(base64.StdEncoding.EncodeToString(sig)), cert)
			if err != nil || !bytes.Equal(sig, sig2) || !bytes.Equal(der, der2) {
				t.Fatalf("does not round-trip: %v", err)
			}
		}
	})
}

// FuzzParseSum: a .sha256/.sha512 file parses to a digest of its
// algorithm, or is rejected with verify.ErrEvidenceMalformed; the digest's hex,
// alone or as sha256sum writes it, parses to the same digest.
func FuzzParseSum(f *testing.F) {
	f.Add([]byte("0b7b43a95a4a2a9e4ae4e1d0ac0e6f7d0e5d6b8a3f5a36bb5e35d1f2c2d6a8ff"), false)
	f.Add([]byte("0B7B43A95A4A2A9E4AE4E1D0AC0E6F7D0E5D6B8A3F5A36BB5E35D1F2C2D6A8FF  kubectl\n"), false)
	f.Add([]byte(strings.Repeat("ab", 64)), true)
	f.Add([]byte("<!DOCTYPE html><html>404</html>"), false)
	f.Add([]byte(""), true)
	f.Fuzz(func(t *testing.T, data []byte, sha512 bool) {
		alg := "sha256"
		if sha512 {
			alg = "sha512"
		}
		d, err := parseSum(data, alg)
		if err != nil {
			if !errors.Is(err, verify.ErrEvidenceMalformed) {
				t.Fatalf("rejected without verify.ErrEvidenceMalformed: %v", err)
			}
			return
		}
		if d.Algorithm != alg || len(d.Bytes()) != map[string]int{"sha256": 32, "sha512": 64}[alg] || d.Hex != strings.ToLower(d.Hex) {
			t.Fatalf("parsed %q as %v", data, d)
		}
		for _, again := range []string{d.Hex, strings.ToUpper(d.Hex) + "  kubectl\n"} {
			if d2, err := parseSum([]byte(again), alg); err != nil || d2 != d {
				t.Fatalf("%q parses to %v, %q to %v, %v", data, d, again, d2, err)
			}
		}
	})
}

// FuzzCosignSignature: a layer of cosign's .sig manifest — payload,
// signature, certificate and bundle annotations, whatever they hold — is
// normalised into a bundle or recorded as malformed, never a panic; and a
// signature verifies only over the very payload signed.
func FuzzCosignSignature(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.payload, fx.imageSig, fx.imageCert, fx.imageAnnotation)
	f.Add(fx.payload, fx.imageSig, fx.imageCert, []byte(nil))
	f.Add(fx.payload, "bm90IGEgc2lnbmF0dXJl", fx.imageCert, fx.imageAnnotation)
	f.Add([]byte(`{}`), fx.imageSig, []byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"), []byte(`{"SignedEntryTimestamp":"","Payload":{"body":1}}`))
	s := &ImageSession{f: &Fetcher{}}
	f.Fuzz(func(t *testing.T, pl []byte, b64sig string, cert, annotation []byte) {
		opts := []static.Option{static.WithCertChain(cert, nil)}
		if len(annotation) > 0 {
			var rb cbundle.RekorBundle
			if json.Unmarshal(annotation, &rb) != nil {
				return // cosign's reader rejects it before k8sverify sees it
			}
			opts = append(opts, static.WithBundle(&rb))
		}
		sig, err := static.NewSignature(pl, b64sig, opts...)
		if err != nil {
			return
		}
		se := s.cosignSignature(context.Background(), sig)
		if (se.Bundle != nil) != (se.Malformed == nil && se.Unavailable == nil) {
			t.Fatalf("bundle %v with malformed %v, unavailable %v", se.Bundle != nil, se.Malformed, se.Unavailable)
		}
		if se.Malformed != nil && !errors.Is(se.Malformed, verify.ErrEvidenceMalformed) {
			t.Fatalf("malformed without verify.ErrEvidenceMalformed: %v", se.Malformed)
		}
		if se.Bundle == nil {
			return
		}
		r := fx.verifier.ImageSignature(se.Bundle, se.Payload, fx.imageDigest, fx.imageArtifactNames, fx.imageSigner)
		if r.Verified() && !bytes.Equal(se.Payload, fx.payload) {
			t.Fatalf("a signature verifies over another payload %q", se.Payload)
		}
	})
}

// FuzzOpenPack: an evidence pack's manifest.json opens or is rejected
// with the pack's sentinels; what opens reads back as evidence the judge
// decides on without panicking, each signature either a bundle or a
// reason why not; and it round-trips through JSON.
func FuzzOpenPack(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.manifestData)
	f.Add(bytes.Replace(fx.manifestData, []byte(`"schemaVersion": 2`), []byte(`"schemaVersion": 1`), 1))
	f.Add(bytes.Replace(fx.manifestData, []byte(`"bundles/`), []byte(`"../bundles/`), 1))
	f.Add(bytes.Replace(fx.manifestData, []byte(`"bundles/`), []byte(`"/etc/`), 1))
	f.Add([]byte(`{"schemaVersion":2,"artifacts":[{"kind":"image","name":"x","location":"y","image":{"mediaType":"","manifest":"blobs/sha256/00"}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := fx.openPack(t, data)
		if p == nil {
			return
		}
		defer p.Close()
		for i := range p.Manifest.Artifacts {
			pa := &p.Manifest.Artifacts[i]
			ev := p.Evidence(pa)
			for _, se := range ev.Signatures {
				if (se.Bundle != nil) != (se.Malformed == nil && se.Unavailable == nil) {
					t.Fatalf("%s: bundle %v with malformed %v, unavailable %v", pa.Key(), se.Bundle != nil, se.Malformed, se.Unavailable)
				}
			}
			a := artifacts.Artifact{Kind: pa.Kind, Name: pa.Name, Platform: pa.Platform, Location: pa.Location, Signer: artifacts.BlobSigner, Signing: artifacts.SigningProbe}
			if pa.Kind == artifacts.KindImage {
				a.Signer = artifacts.ImageSigner
			}
			switch v := fx.judge.Judge(fx.release, a, ev); v.Status {
			case verify.StatusVerified, verify.StatusFailed, verify.StatusUnsigned, verify.StatusMissing, verify.StatusError:
			default:
				t.Fatalf("%s: status %q", pa.Key(), v.Status)
			}
		}
		again, err := json.Marshal(p.Manifest)
		if err != nil {
			t.Fatalf("the manifest read does not encode: %v", err)
		}
		p2 := fx.openPack(t, again)
		if p2 == nil {
			t.Fatalf("the manifest read does not open again:\n%s", again)
		}
		defer p2.Close()
		if third, err := json.Marshal(p2.Manifest); err != nil || !bytes.Equal(again, third) {
			t.Fatalf("the manifest does not round-trip:\n%s\n%s", again, third)
		}
	})
}

// openPack writes data as the fixture pack's manifest.json and opens the
// pack; nil when it is rejected, as it must be, with the pack's
// sentinels.
func (fx *fuzzFixture) openPack(t *testing.T, data []byte) *pack.Pack {
	t.Helper()
	if err := os.WriteFile(fx.manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := pack.Open(fx.packDir)
	if err != nil {
		if !errors.Is(err, pack.ErrMalformed) && !errors.Is(err, pack.ErrVersion) {
			t.Fatalf("rejected without pack.ErrMalformed or pack.ErrVersion: %v", err)
		}
		return nil
	}
	return p
}
