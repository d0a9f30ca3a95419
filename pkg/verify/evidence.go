package verify

import (
	"github.com/k8sverify/k8sverify/pkg/sigverify"

	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Channel names where a digest of an artifact came from. A verdict binds
// an artifact to a digest through every channel there is; channels that
// disagree fail the "digest" check.
type Channel string

// The channels of digests.
const (
	// ChannelRegistry: the digest of the manifest the registry serves for
	// the artifact's reference.
	ChannelRegistry Channel = "registry"
	// ChannelSHA256File and ChannelSHA512File: the sums the download site
	// publishes beside the file.
	ChannelSHA256File Channel = "published .sha256"
	ChannelSHA512File Channel = "published .sha512"
	// ChannelDownload: the sums of what was downloaded.
	ChannelDownload Channel = "download"
	// ChannelFile: the sums of a file on disk.
	ChannelFile Channel = "file"
	// ChannelArgument: a digest the user gave.
	ChannelArgument Channel = "argument"
	// ChannelSBOM: the release SBOM's checksums (artifacts.SumSBOM).
	ChannelSBOM Channel = "release SBOM"
	// ChannelCatalog: the sums of the release catalog (the embedded one,
	// or a catalog file used instead), from the release's CHANGELOG and
	// the promoter's manifest (artifacts.SumCatalog). Messages name the
	// catalog the release was described by.
	ChannelCatalog Channel = "release catalog"
	// ChannelChangelog: a tarball's SHA-512 in its line's CHANGELOG, read
	// from kubernetes/kubernetes (artifacts.SumChangelog).
	ChannelChangelog Channel = "changelog"
	// ChannelPromoter: the digest the image promoter's manifest gives the
	// image's tag, read from kubernetes/k8s.io (artifacts.SumPromoter).
	ChannelPromoter Channel = "promoter-manifest"
)

// served reports whether the channel describes what was actually served
// or read (as opposed to what a release document says should be).
func (c Channel) served() bool {
	switch c {
	case ChannelRegistry, ChannelSHA256File, ChannelSHA512File, ChannelDownload, ChannelFile, ChannelArgument:
		return true
	}
	return false
}

// trust ranks a channel for saying which digest was expected when two
// disagree: the release's own documents (SBOM, catalog, CHANGELOG,
// promoter manifest) over the side files published beside a file, over
// what was served.
func (c Channel) trust() int {
	switch c {
	case ChannelSHA256File, ChannelSHA512File:
		return 1
	}
	if c.served() {
		return 0
	}
	return 2
}

// DigestClaim is one digest of an artifact and the channel it came from.
type DigestClaim struct {
	Digest  sigverify.Digest
	Channel Channel
}

// SignatureSource says where a signature was found.
type SignatureSource string

// Where signatures are found.
const (
	// SourceSigCert: a release file's .sig and .cert beside it.
	SourceSigCert SignatureSource = ".sig/.cert"
	// SourceSignatureTag: a layer of cosign's sha256-<digest>.sig manifest.
	SourceSignatureTag SignatureSource = "cosign .sig tag"
	// SourceReferrer: a Sigstore bundle attached as an OCI 1.1 referrer.
	SourceReferrer SignatureSource = "OCI referrer"
	// SourceLogSearch: found by searching the transparency log for the digest.
	SourceLogSearch SignatureSource = "transparency-log search"
	// SourceBundleFile: a bundle file the user named.
	SourceBundleFile SignatureSource = "bundle file"
)

// SignatureEvidence is one signature as it was found, normalised into a
// Sigstore bundle. It says nothing about whether it is genuine.
type SignatureEvidence struct {
	Source SignatureSource
	// Location is where it was found: an image repository, a URL.
	Location string
	// References name the registry artifacts that carry the signature, for
	// copying it (never for deciding): cosign's .sig tag in each repository
	// it was found in (repository:sha256-<hex>.sig), a referrer's manifest
	// (repository@sha256:<hex>).
	References []string
	// Bundle is the signature, its certificate and every log entry found
	// for it (from the signature's own annotation and from Rekor).
	Bundle *bundle.Bundle
	// Payload is the signed simple-signing payload of a cosign .sig layer.
	Payload []byte
	// Malformed: the published material cannot be read as a signature
	// (rejected). Unavailable: it could not be fetched (not a rejection).
	Malformed   error
	Unavailable error
	// LogLookup says why Rekor could not be asked for the signature's log
	// entries; the entries the signature carries itself were used.
	LogLookup error
	// NoLogProof says why the signature comes with no log entry and none
	// could be looked up (a detached signature and certificate, offline):
	// every check that needs no log runs on Bundle, and a signature that
	// passes them all is unproven, never verified.
	NoLogProof error
}

// ImageEvidence is what a registry serves for an image artifact,
// content-addressed: the judge hashes it, so it is as good offline as
// online.
type ImageEvidence struct {
	// MediaType of the manifest served.
	MediaType string
	// Manifest is the manifest (or index) itself, as served.
	Manifest []byte
	// Config is the image configuration a platform image's manifest names.
	Config []byte
	// Index is the release's multi-arch index of a platform image (the
	// manifest list name:version), as served; IndexRef names it.
	Index    []byte
	IndexRef string
}

// Evidence is everything a verdict on one artifact rests on, as fetched
// online or read from an evidence pack: the digests with their channels,
// the image as served, and every signature found. It holds no decision.
type Evidence struct {
	// Missing says why the artifact is not published ("" when it is).
	Missing string
	// Unavailable says why the artifact could not be checked at all
	// (network, timeout, an unreadable local file).
	Unavailable error
	// Malformed says why published evidence about the artifact itself (a
	// checksum file) cannot be read: a rejection, like a forged sum.
	Malformed  error
	Digests    []DigestClaim
	Image      *ImageEvidence
	Signatures []SignatureEvidence
	// Location is where the evidence says it found the artifact (an
	// evidence pack's entry); "" when it was taken from the artifact's own
	// location. It must name the artifact's place (check "name").
	Location string
}

// subjectChannels are the served channels in the order a subject digest
// is taken from them: what was read before what was published.
var subjectChannels = []Channel{ChannelDownload, ChannelFile, ChannelArgument, ChannelRegistry, ChannelSHA256File, ChannelSHA512File}

// Digest returns the digest of algorithm alg from the best served
// channel: what was downloaded or read, else what was published.
func (ev Evidence) Digest(alg string) (DigestClaim, bool) {
	for _, ch := range subjectChannels {
		for _, c := range ev.Digests {
			if c.Digest.Algorithm == alg && c.Channel == ch {
				return c, true
			}
		}
	}
	return DigestClaim{}, false
}
