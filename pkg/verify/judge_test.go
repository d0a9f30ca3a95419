package verify_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld/signing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// The judge's decision table, driven by hand-built evidence: no network,
// no loopback world, only an in-memory Sigstore to sign with.

var v12417 = artifacts.Version{Major: 1, Minor: 24, Patch: 17}

func release(previousDate string) *artifacts.Release {
	return &artifacts.Release{Version: v12417, Previous: &artifacts.ReleaseDate{Version: artifacts.Version{Major: 1, Minor: 24, Patch: 16}, Date: previousDate},
		Incidents: []artifacts.Incident{{ID: "promoter-identity", Summary: "signed by the promoter", Source: "https://example.com/incident",
			Kinds:      []artifacts.Kind{artifacts.KindBinary, artifacts.KindImage},
			Identities: []artifacts.Identity{{SAN: testworld.PromoterIdentity, Issuer: artifacts.GoogleIssuer}}}}}
}

func sha(s string) sigverify.Digest {
	sum := sha256.Sum256([]byte(s))
	return sigverify.SHA256Digest(sum[:])
}

func sha512Of(s string) sigverify.Digest {
	d, _ := sigverify.ParseDigest("sha512:" + strings.Repeat(fmt.Sprintf("%02x", len(s)), 64))
	return d
}

type judgeCase struct {
	name     string
	release  *artifacts.Release
	artifact artifacts.Artifact
	evidence verify.Evidence
	rules    verify.Rules
	status   verify.Status
	check    string // the failed check, for StatusFailed
	sentinel error
	reason   string // a part of the reason
}

func runJudgeCases(t *testing.T, f *signing.Sigstore, cases []judgeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j, err := verify.NewJudge(f.Verifier, tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			v := j.Judge(tc.release, tc.artifact, tc.evidence)
			if v.Status != tc.status {
				t.Fatalf("%s (%s), want %s", v.Status, v.Reason, tc.status)
			}
			if tc.status == verify.StatusFailed && string(v.FailedCheck) != tc.check {
				t.Errorf("failed check %q, want %q: %s", v.FailedCheck, tc.check, v.Reason)
			}
			if tc.sentinel != nil && !errors.Is(v.Err, tc.sentinel) {
				t.Errorf("error %v is not %v", v.Err, tc.sentinel)
			}
			if !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", v.Reason, tc.reason)
			}
		})
	}
}

func TestJudgeReleaseFiles(t *testing.T) {
	f := signing.New(t)
	d := sha("kubectl v1.24.17 linux/amd64")
	other := sha("kubectl v1.24.17 linux/arm64")
	kubectl := artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Location: "https://dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl", Signer: artifacts.BlobSigner, Signing: artifacts.SigningExpected}
	withSums := func(sums ...artifacts.Sum) artifacts.Artifact {
		a := kubectl
		a.Sums = sums
		return a
	}
	never := kubectl
	never.Name, never.Signing, never.SigningNote = "kube-proxy.docker_tag", artifacts.SigningNever, "krel sign blobs skips .docker_tag files"
	published := func(ds ...sigverify.Digest) []verify.DigestClaim {
		var out []verify.DigestClaim
		for _, x := range ds {
			ch := verify.ChannelSHA256File
			if x.Algorithm == "sha512" {
				ch = verify.ChannelSHA512File
			}
			out = append(out, verify.DigestClaim{Digest: x, Channel: ch})
		}
		return out
	}
	signed := func(b *bundle.Bundle) []verify.SignatureEvidence {
		return []verify.SignatureEvidence{{Source: verify.SourceSigCert, Bundle: b}}
	}
	genuine := f.Bundle(t, d.Bytes(), artifacts.BlobSigner)
	promoter := f.Bundle(t, d.Bytes(), artifacts.Identity{SAN: testworld.PromoterIdentity, Issuer: artifacts.GoogleIssuer})
	statement, err := testworld.InTotoStatement(d.Bytes(), "kubectl", "https://slsa.dev/provenance/v1")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.Sigstore.SignDSSEBundle(statement, testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer}})
	if err != nil {
		t.Fatal(err)
	}
	dsse, err := sigverify.ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	s512 := sha512Of("kubernetes-server")
	ok := release("2023-07-19")

	runJudgeCases(t, f, []judgeCase{
		{"genuine", ok, kubectl, verify.Evidence{Digests: published(d), Signatures: signed(genuine)}, verify.Rules{}, verify.StatusVerified, "", nil, "signed by krel-staging"},
		{"missing", ok, kubectl, verify.Evidence{Missing: "it answers 404"}, verify.Rules{}, verify.StatusMissing, "", nil, "not published"},
		{"unavailable", ok, kubectl, verify.Evidence{Unavailable: errors.New("connection refused")}, verify.Rules{}, verify.StatusError, "", nil, "connection refused"},
		{"malformed sum", ok, kubectl, verify.Evidence{Malformed: errors.New(".sha256 is an HTML page")}, verify.Rules{}, verify.StatusFailed, "digest", verify.ErrEvidenceMalformed, "expected checksum files as the release publishes them, got none: .sha256 is an HTML page [check: digest]"},
		{"no .sha256", ok, kubectl, verify.Evidence{Signatures: signed(genuine)}, verify.Rules{}, verify.StatusError, "", nil, "no .sha256"},
		{".sha256 and SBOM disagree", ok, withSums(artifacts.Sum{Algorithm: "sha256", Hex: other.Hex, Source: artifacts.SumSBOM}),
			verify.Evidence{Digests: published(d), Signatures: signed(genuine)}, verify.Rules{}, verify.StatusFailed, "digest", sigverify.ErrDigestMismatch, "expected " + other.String() + " (release SBOM), got " + d.String()},
		{"download and .sha256 disagree", ok, kubectl, verify.Evidence{Digests: append(published(d), verify.DigestClaim{Digest: other, Channel: verify.ChannelDownload}), Signatures: signed(genuine)},
			verify.Rules{}, verify.StatusFailed, "digest", sigverify.ErrDigestMismatch, "expected " + d.String()},
		{"a forged .sha256 beside a download the SBOM names", ok, withSums(artifacts.Sum{Algorithm: "sha256", Hex: other.Hex, Source: artifacts.SumSBOM}),
			verify.Evidence{Digests: append([]verify.DigestClaim{{Digest: other, Channel: verify.ChannelDownload}}, published(d)...), Signatures: signed(genuine)},
			verify.Rules{}, verify.StatusFailed, "digest", sigverify.ErrDigestMismatch, "expected " + other.String() + " (release SBOM), got " + d.String()},
		{"CHANGELOG sum and no served SHA-512", ok, withSums(artifacts.Sum{Algorithm: "sha512", Hex: s512.Hex, Source: artifacts.SumCatalog}),
			verify.Evidence{Digests: published(d), Signatures: signed(genuine)}, verify.Rules{}, verify.StatusError, "", nil, "CHANGELOG"},
		{"CHANGELOG sum disagrees with .sha512", ok, withSums(artifacts.Sum{Algorithm: "sha512", Hex: s512.Hex, Source: artifacts.SumCatalog}),
			verify.Evidence{Digests: published(d, sha512Of("another")), Signatures: signed(genuine)}, verify.Rules{}, verify.StatusFailed, "digest", sigverify.ErrDigestMismatch, "expected " + s512.String() + " (release catalog)"},
		{"CHANGELOG sum agrees with .sha512", ok, withSums(artifacts.Sum{Algorithm: "sha512", Hex: s512.Hex, Source: artifacts.SumCatalog}),
			verify.Evidence{Digests: published(d, s512), Signatures: signed(genuine)}, verify.Rules{}, verify.StatusVerified, "", nil, "signed by"},
		{"unsigned, although signed in this release", ok, kubectl, verify.Evidence{Digests: published(d)}, verify.Rules{}, verify.StatusUnsigned, "", nil, "although this release signs"},
		{"never signed", ok, never, verify.Evidence{Digests: published(d)}, verify.Rules{}, verify.StatusUnsigned, "", nil, "never signed: krel sign blobs skips"},
		{"signature could not be fetched", ok, kubectl, verify.Evidence{Digests: published(d), Signatures: []verify.SignatureEvidence{{Source: verify.SourceSigCert, Unavailable: errors.New("rekor: 503")}}},
			verify.Rules{}, verify.StatusError, "", nil, "rekor: 503"},
		{"malformed signature", ok, kubectl, verify.Evidence{Digests: published(d), Signatures: []verify.SignatureEvidence{{Source: verify.SourceSigCert, Malformed: errors.New(".sig is not base64")}}},
			verify.Rules{}, verify.StatusFailed, "bundle", sigverify.ErrBundleInvalid, "not base64"},
		{"signature of another file", ok, kubectl, verify.Evidence{Digests: published(other), Signatures: signed(genuine)}, verify.Rules{}, verify.StatusFailed, "signature", sigverify.ErrDigestMismatch, ""},
		{"an in-toto statement of another predicate", ok, kubectl, verify.Evidence{Digests: published(d), Signatures: signed(dsse)}, verify.Rules{}, verify.StatusFailed, "payload", sigverify.ErrPayloadMismatch, "https://slsa.dev/provenance/v1"},
		{"an in-toto statement of an accepted predicate", ok, kubectl, verify.Evidence{Digests: published(d), Signatures: signed(dsse)},
			verify.Rules{BlobPredicateTypes: []string{"https://slsa.dev/provenance/v1"}}, verify.StatusVerified, "", nil, "signed by"},
		{"signed before the previous release was out", release("2099-01-01"), kubectl, verify.Evidence{Digests: published(d), Signatures: signed(genuine)},
			verify.Rules{}, verify.StatusFailed, "signing-time", verify.ErrSignedTooEarly, "before the previous patch release"},
		{"another identity", release("2023-07-19"), kubectl, verify.Evidence{Digests: published(d), Signatures: signed(promoter)}, verify.Rules{}, verify.StatusFailed, "identity", sigverify.ErrIdentityMismatch, testworld.PromoterIdentity},
		{"another identity, its incident accepted", release("2023-07-19"), kubectl, verify.Evidence{Digests: published(d), Signatures: signed(promoter)},
			verify.Rules{AcceptIncidents: []string{"promoter-identity"}}, verify.StatusVerified, "", nil, "(incident promoter-identity accepted)"},
		{"one genuine among rejected", ok, kubectl, verify.Evidence{Digests: published(d), Signatures: append(signed(promoter), signed(genuine)...)},
			verify.Rules{}, verify.StatusVerified, "", nil, "1 of 2 signatures rejected"},
	})
}

// image is a hand-made image manifest of a platform, its configuration
// and digest.
type image struct {
	manifest, config []byte
	digest           sigverify.Digest
}

func newImage(t testing.TB, os, arch, seed string) image {
	t.Helper()
	config := []byte(fmt.Sprintf(`{"architecture":%q,"os":%q,"config":{"Labels":{"seed":%q}},"rootfs":{"type":"layers","diff_ids":[]}}`, arch, os, seed))
	cd := sha256.Sum256(config)
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"sha256:%x"},"layers":[]}`, len(config), cd))
	md := sha256.Sum256(manifest)
	return image{manifest: manifest, config: config, digest: sigverify.SHA256Digest(md[:])}
}

// newImageOf is newImage with the configuration's platform fields as
// given (a JSON fragment).
func newImageOf(t testing.TB, platform, seed string) image {
	t.Helper()
	config := []byte(fmt.Sprintf(`{%s,"config":{"Labels":{"seed":%q}},"rootfs":{"type":"layers","diff_ids":[]}}`, platform, seed))
	return imageWithConfig(config)
}

func imageWithConfig(config []byte) image {
	cd := sha256.Sum256(config)
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"sha256:%x"},"layers":[]}`, len(config), cd))
	md := sha256.Sum256(manifest)
	return image{manifest: manifest, config: config, digest: sigverify.SHA256Digest(md[:])}
}

// padManifest pads an image's configuration and manifest with trailing
// white space (valid JSON still) to size bytes each.
func padManifest(t testing.TB, im image, size int) image {
	t.Helper()
	config := append(append([]byte(nil), im.config...), []byte(strings.Repeat(" ", size-len(im.config)))...)
	padded := imageWithConfig(config)
	manifest := append(append([]byte(nil), padded.manifest...), []byte(strings.Repeat(" ", size-len(padded.manifest)))...)
	md := sha256.Sum256(manifest)
	return image{manifest: manifest, config: config, digest: sigverify.SHA256Digest(md[:])}
}

func indexOf(children map[string]sigverify.Digest) []byte {
	var ms []string
	for arch, d := range children {
		ms = append(ms, fmt.Sprintf(`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":1,"digest":%q,"platform":{"architecture":%q,"os":"linux"}}`, d, arch))
	}
	return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` + strings.Join(ms, ",") + `]}`)
}

// cosignSignature signs a simple-signing payload of digest naming ref.
func cosignSignature(t *testing.T, f *signing.Sigstore, ref string, d sigverify.Digest) verify.SignatureEvidence {
	t.Helper()
	p := signing.CosignPayload(t, ref, d)
	return verify.SignatureEvidence{Source: verify.SourceSignatureTag, Payload: p, Bundle: f.BundleOf(t, p, artifacts.ImageSigner)}
}

func TestJudgeImages(t *testing.T) {
	f := signing.New(t)
	amd64 := newImage(t, "linux", "amd64", "kube-apiserver")
	arm64 := newImage(t, "linux", "arm64", "kube-apiserver")
	index := indexOf(map[string]sigverify.Digest{"amd64": amd64.digest, "arm64": arm64.digest})
	indexDigest := sha256.Sum256(index)
	indexRef := fmt.Sprintf("registry.k8s.io/kube-apiserver:v1.24.17@sha256:%x", indexDigest)
	art := artifacts.Artifact{Kind: artifacts.KindImage, Name: "kube-apiserver", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Location: "registry.k8s.io/kube-apiserver-amd64:v1.24.17", Signer: artifacts.ImageSigner, Signing: artifacts.SigningExpected}
	indexArt := art
	indexArt.Platform, indexArt.Location = artifacts.Platform{}, "registry.k8s.io/kube-apiserver:v1.24.17"
	served := func(im image, sigs ...verify.SignatureEvidence) verify.Evidence {
		return verify.Evidence{Digests: []verify.DigestClaim{{Digest: im.digest, Channel: verify.ChannelRegistry}},
			Image: &verify.ImageEvidence{MediaType: "application/vnd.docker.distribution.manifest.v2+json", Manifest: im.manifest, Config: im.config, Index: index, IndexRef: indexRef}, Signatures: sigs}
	}
	backing := testworld.BackingRegistry
	own := cosignSignature(t, f, backing+"/kube-apiserver-amd64", amd64.digest)
	recursive := cosignSignature(t, f, "registry.k8s.io/kube-apiserver", amd64.digest)
	arm64Sig := cosignSignature(t, f, backing+"/kube-apiserver-arm64", arm64.digest)
	otherName := cosignSignature(t, f, backing+"/kube-proxy-amd64", amd64.digest)
	otherArch := cosignSignature(t, f, backing+"/kube-apiserver-arm64", amd64.digest)
	h := v1.Hash{Algorithm: "sha256", Hex: amd64.digest.Hex}
	referrer := func(subject string) verify.SignatureEvidence {
		raw, err := f.Sigstore.SignDSSEBundle(testworld.CosignSignStatementNamed(h, subject, sigverify.CosignSignPredicateType),
			testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.ImageSigner.SAN, Issuer: artifacts.ImageSigner.Issuer}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := sigverify.ParseBundle(raw)
		if err != nil {
			t.Fatal(err)
		}
		return verify.SignatureEvidence{Source: verify.SourceReferrer, Bundle: b}
	}
	indexServed := verify.Evidence{Digests: []verify.DigestClaim{{Digest: sigverify.SHA256Digest(indexDigest[:]), Channel: verify.ChannelRegistry}},
		Image:      &verify.ImageEvidence{MediaType: "application/vnd.docker.distribution.manifest.list.v2+json", Manifest: index},
		Signatures: []verify.SignatureEvidence{cosignSignature(t, f, backing+"/kube-apiserver", sigverify.SHA256Digest(indexDigest[:]))}}
	arm64AtAmd64 := served(arm64, arm64Sig)
	indexAtAmd64 := indexServed
	tampered := served(amd64, own)
	tampered.Image = &verify.ImageEvidence{MediaType: tampered.Image.MediaType, Manifest: arm64.manifest, Config: amd64.config}
	otherIndex := served(amd64, own)
	otherIndex.Image.Index = indexOf(map[string]sigverify.Digest{"amd64": sha("another")})
	otherIndex.Image.IndexRef = "registry.k8s.io/kube-apiserver:v1.24.17"
	// An arm64 image passed off as amd64 by serving amd64's configuration
	// beside its manifest (from a pack, nothing else binds the two).
	swappedConfig := served(arm64, cosignSignature(t, f, "registry.k8s.io/kube-apiserver", arm64.digest))
	swappedConfig.Image.Config, swappedConfig.Image.Index, swappedConfig.Image.IndexRef = amd64.config, nil, ""
	// Another release's genuinely signed amd64 image, with the pinned
	// release index rewritten to list it.
	oldRelease := newImage(t, "linux", "amd64", "kube-apiserver v1.24.16")
	tamperedIndex := served(oldRelease, cosignSignature(t, f, "registry.k8s.io/kube-apiserver", oldRelease.digest))
	tamperedIndex.Image.Index = indexOf(map[string]sigverify.Digest{"amd64": oldRelease.digest, "arm64": arm64.digest})
	// A platform image known without its release index (by digest).
	noIndex := served(amd64, own)
	noIndex.Image.Index, noIndex.Image.IndexRef = nil, ""
	// An arm/v7 image served at the amd64 tag.
	armv7 := newImageOf(t, `"architecture":"arm","os":"linux","variant":"v7"`, "kube-apiserver")
	armv7AtAmd64 := served(armv7, cosignSignature(t, f, "registry.k8s.io/kube-apiserver", armv7.digest))
	armv7AtAmd64.Image.Index, armv7AtAmd64.Image.IndexRef = nil, ""
	// The index served without a media type: what it is shows in it.
	indexUntyped := indexServed
	indexUntyped.Image = &verify.ImageEvidence{Manifest: index}
	// A manifest and a configuration of the largest size read.
	largest := padManifest(t, newImageOf(t, `"architecture":"amd64","os":"linux"`, "largest"), 4<<20)
	largestServed := served(largest, cosignSignature(t, f, "registry.k8s.io/kube-apiserver", largest.digest))
	largestServed.Image.Index, largestServed.Image.IndexRef = nil, ""
	ok := release("2023-07-19")

	runJudgeCases(t, f, []judgeCase{
		{"a platform image without its release index", ok, art, noIndex, verify.Rules{}, verify.StatusVerified, "", nil, "signed by krel-trust"},
		{"another platform's variant", ok, art, armv7AtAmd64, verify.Rules{}, verify.StatusFailed, "platform", verify.ErrPlatformMismatch, "got an image for linux/arm/v7 [check: platform]"},
		{"another architecture, no variant", ok, art, arm64AtAmd64, verify.Rules{}, verify.StatusFailed, "platform", verify.ErrPlatformMismatch, "got an image for linux/arm64 [check: platform]"},
		{"the index served without a media type", ok, indexArt, indexUntyped, verify.Rules{}, verify.StatusVerified, "", nil, "signed by krel-trust"},
		{"a manifest and configuration of the largest size read", ok, art, largestServed, verify.Rules{}, verify.StatusVerified, "", nil, "signed by krel-trust"},
		{"a configuration that is not the one its manifest names", ok, art, swappedConfig, verify.Rules{}, verify.StatusFailed, "platform", verify.ErrPlatformMismatch, "the manifest names sha256:"},
		{"a pinned release index that is not its digest's", ok, art, tamperedIndex, verify.Rules{}, verify.StatusFailed, "platform", verify.ErrPlatformMismatch, "the index in the evidence is sha256:"},
		{"another release's image under the genuine index", ok, art, served(oldRelease, cosignSignature(t, f, "registry.k8s.io/kube-apiserver", oldRelease.digest)),
			verify.Rules{}, verify.StatusFailed, "platform", verify.ErrPlatformMismatch, "lists for linux/amd64"},
		{"a signature naming a look-alike image", ok, art, served(amd64, cosignSignature(t, f, backing+"/evil-kube-apiserver-amd64", amd64.digest)),
			verify.Rules{}, verify.StatusFailed, "payload", sigverify.ErrPayloadMismatch, "evil-kube-apiserver-amd64"},
		{"platform image signed in its repository", ok, art, served(amd64, own), verify.Rules{}, verify.StatusVerified, "", nil, "signed by krel-trust"},
		{"platform image signed in the index's repository", ok, art, served(amd64, recursive), verify.Rules{}, verify.StatusVerified, "", nil, "signed by krel-trust"},
		{"the index", ok, indexArt, indexServed, verify.Rules{}, verify.StatusVerified, "", nil, "signed by krel-trust"},
		{"another architecture's image and signature", ok, art, arm64AtAmd64, verify.Rules{}, verify.StatusFailed, "platform", verify.ErrPlatformMismatch, "linux/arm64"},
		{"the index served at a platform's tag", ok, art, indexAtAmd64, verify.Rules{}, verify.StatusFailed, "image", verify.ErrPlatformMismatch, "multi-platform index"},
		{"a platform image served as the index", ok, indexArt, served(amd64, own), verify.Rules{}, verify.StatusFailed, "image", verify.ErrPlatformMismatch, "multi-platform index"},
		{"a manifest that is not the digest's", ok, art, tampered, verify.Rules{}, verify.StatusFailed, "image", sigverify.ErrDigestMismatch, ""},
		{"the release index lists another digest", ok, art, otherIndex, verify.Rules{}, verify.StatusFailed, "platform", verify.ErrPlatformMismatch, "lists for linux/amd64"},
		{"a signature naming another image", ok, art, served(amd64, otherName), verify.Rules{}, verify.StatusFailed, "payload", sigverify.ErrPayloadMismatch, "kube-proxy-amd64"},
		{"a signature naming another architecture", ok, art, served(amd64, otherArch), verify.Rules{}, verify.StatusFailed, "payload", sigverify.ErrPayloadMismatch, "kube-apiserver-arm64"},
		{"another name, accepted by AnyImageName", ok, art, served(amd64, otherName), verify.Rules{AnyImageName: true}, verify.StatusVerified, "", nil, "signed by"},
		{"a referrer bundle naming the image", ok, art, served(amd64, referrer("registry.k8s.io/kube-apiserver-amd64")), verify.Rules{}, verify.StatusVerified, "", nil, "signed by"},
		{"a referrer bundle naming another image", ok, art, served(amd64, referrer("registry.k8s.io/kube-proxy")), verify.Rules{}, verify.StatusFailed, "payload", sigverify.ErrPayloadMismatch, "kube-proxy"},
		{"a referrer bundle naming no image", ok, art, served(amd64, referrer("")), verify.Rules{}, verify.StatusFailed, "payload", sigverify.ErrPayloadMismatch, "naming no image"},
		{"signed before the previous release was out", release("2099-01-01"), art, served(amd64, own), verify.Rules{}, verify.StatusFailed, "signing-time", verify.ErrSignedTooEarly, ""},
	})
}

// A judge needs a verifier.
func TestJudgeMisuse(t *testing.T) {
	if _, err := verify.NewJudge(nil, verify.Rules{}); !errors.Is(err, sigverify.ErrNoTrust) {
		t.Errorf("a judge without a verifier: %v", err)
	}
}

// A verdict names only the known incidents that may account for it: an
// incident of missing signatures never explains a wrong identity, nor one
// of a wrong identity an unsigned file; a network error is no incident's
// doing; an incident that names no outcome may explain any problem.
func TestJudgeIncidentsExplainTheirOutcomes(t *testing.T) {
	f := signing.New(t)
	d := sha("kubectl v1.24.17 linux/amd64")
	kubectl := artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Location: "https://dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl", Signer: artifacts.BlobSigner, Signing: artifacts.SigningExpected}
	published := []verify.DigestClaim{{Digest: d, Channel: verify.ChannelSHA256File}}
	signed := func(bs ...*bundle.Bundle) []verify.SignatureEvidence {
		var out []verify.SignatureEvidence
		for _, b := range bs {
			out = append(out, verify.SignatureEvidence{Source: verify.SourceSigCert, Bundle: b})
		}
		return out
	}
	genuine := f.Bundle(t, d.Bytes(), artifacts.BlobSigner)
	promoter := f.Bundle(t, d.Bytes(), artifacts.Identity{SAN: testworld.PromoterIdentity, Issuer: artifacts.GoogleIssuer})
	foreign := f.Bundle(t, sha("another file").Bytes(), artifacts.BlobSigner)

	identity := artifacts.Incident{ID: "promoter-identity", Explains: []string{"identity"},
		Identities: []artifacts.Identity{{SAN: testworld.PromoterIdentity, Issuer: artifacts.GoogleIssuer}}}
	unsigned := artifacts.Incident{ID: "signatures-by-region", Explains: []string{"unsigned"}}
	anything := artifacts.Incident{ID: "undocumented-outcome"}
	rel := func(ins ...artifacts.Incident) *artifacts.Release {
		r := release("2023-07-19")
		r.Incidents = ins
		return r
	}
	for _, tc := range []struct {
		name     string
		release  *artifacts.Release
		evidence verify.Evidence
		rules    verify.Rules
		status   verify.Status
		want     []string
	}{
		{"unsigned", rel(identity, unsigned), verify.Evidence{Digests: published}, verify.Rules{}, verify.StatusUnsigned, []string{"signatures-by-region"}},
		{"wrong identity", rel(identity, unsigned), verify.Evidence{Digests: published, Signatures: signed(promoter)}, verify.Rules{}, verify.StatusFailed, []string{"promoter-identity"}},
		{"wrong identity accepted", rel(identity, unsigned), verify.Evidence{Digests: published, Signatures: signed(promoter)},
			verify.Rules{AcceptIncidents: []string{"promoter-identity"}}, verify.StatusVerified, []string{"promoter-identity"}},
		{"genuine", rel(identity, unsigned), verify.Evidence{Digests: published, Signatures: signed(genuine)}, verify.Rules{}, verify.StatusVerified, nil},
		{"genuine beside a rejected identity", rel(identity, unsigned), verify.Evidence{Digests: published, Signatures: signed(promoter, genuine)},
			verify.Rules{}, verify.StatusVerified, []string{"promoter-identity"}},
		{"network error", rel(identity, unsigned, anything), verify.Evidence{Unavailable: errors.New("connection refused")}, verify.Rules{}, verify.StatusError, nil},
		{"signature of another file", rel(identity, unsigned), verify.Evidence{Digests: published, Signatures: signed(foreign)}, verify.Rules{}, verify.StatusFailed, nil},
		{"an incident naming no outcome", rel(identity, unsigned, anything), verify.Evidence{Digests: published, Signatures: signed(foreign)},
			verify.Rules{}, verify.StatusFailed, []string{"undocumented-outcome"}},
		// Beside a verified signature, only an incident documented with the
		// rejection's outcome accounts for it.
		{"genuine beside a rejected identity, an incident naming no outcome", rel(anything), verify.Evidence{Digests: published, Signatures: signed(promoter, genuine)},
			verify.Rules{}, verify.StatusVerified, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := verify.NewJudge(f.Verifier, tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			v := j.Judge(tc.release, kubectl, tc.evidence)
			if v.Status != tc.status {
				t.Fatalf("%s (%s), want %s", v.Status, v.Reason, tc.status)
			}
			var got []string
			for _, in := range v.Incidents {
				got = append(got, in.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("incidents %v, want %v (%s: %s)", got, tc.want, v.Status, v.Reason)
			}
		})
	}
}

// When the release SBOM was sought and could not be used, a release file
// whose signature verifies is bound to its name and platform by nothing
// but the download site: an error, not verified — unless a CHANGELOG sum
// binds it.
func TestJudgeNameBindingWithoutSBOM(t *testing.T) {
	f := signing.New(t)
	d := sha("kubectl v1.24.17 linux/amd64")
	s512 := sha512Of("kubernetes-server")
	kubectl := artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Location: "https://dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl", Signer: artifacts.BlobSigner, Signing: artifacts.SigningExpected}
	tarball := artifacts.Artifact{Kind: artifacts.KindTarball, Name: "kubernetes-server-linux-amd64.tar.gz", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Location: "https://dl.k8s.io/release/v1.24.17/kubernetes-server-linux-amd64.tar.gz", Signer: artifacts.BlobSigner, Signing: artifacts.SigningExpected,
		Sums: []artifacts.Sum{{Algorithm: "sha512", Hex: s512.Hex, Source: artifacts.SumCatalog}}}
	unsummed := tarball
	unsummed.Sums = nil
	ev := verify.Evidence{Digests: []verify.DigestClaim{{Digest: d, Channel: verify.ChannelSHA256File}, {Digest: s512, Channel: verify.ChannelSHA512File}},
		Signatures: []verify.SignatureEvidence{{Source: verify.SourceSigCert, Bundle: f.Bundle(t, d.Bytes(), artifacts.BlobSigner)}}}
	noSBOM := release("2023-07-19")
	noSBOM.SBOMError = "HTTP 503"
	j, err := verify.NewJudge(f.Verifier, verify.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		release  *artifacts.Release
		artifact artifacts.Artifact
		status   verify.Status
	}{
		{"binary, SBOM used", release("2023-07-19"), kubectl, verify.StatusVerified},
		{"binary, SBOM unavailable", noSBOM, kubectl, verify.StatusError},
		{"tarball with its CHANGELOG sum, SBOM unavailable", noSBOM, tarball, verify.StatusVerified},
		{"tarball without a CHANGELOG sum, SBOM unavailable", noSBOM, unsummed, verify.StatusError},
		{"a file known by itself", nil, kubectl, verify.StatusVerified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := j.Judge(tc.release, tc.artifact, ev)
			if v.Status != tc.status {
				t.Fatalf("%s (%s), want %s", v.Status, v.Reason, tc.status)
			}
			if tc.status == verify.StatusError && (!errors.Is(v.Err, verify.ErrNameUnbound) || !strings.Contains(v.Reason, "HTTP 503") || !strings.Contains(v.Reason, "signed by")) {
				t.Errorf("reason %q, error %v", v.Reason, v.Err)
			}
		})
	}
}
