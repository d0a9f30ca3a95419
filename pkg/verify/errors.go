package verify

import "errors"

// Why a signature is rejected. Errors returned by this package wrap one of
// these first, so callers test them with errors.Is. Each is a "failed"
// verdict: the evidence was checked and it is wrong.
var (
	// ErrBundleInvalid: the evidence is malformed or inconsistent.
	ErrBundleInvalid = errors.New("malformed signature evidence")
	// ErrCertificateUntrusted: the certificate does not chain to a trusted
	// Fulcio CA, or carries no valid SCT from a trusted CT log.
	ErrCertificateUntrusted = errors.New("certificate not issued by a trusted CA")
	// ErrIdentityMismatch: the certificate names another signer or issuer.
	ErrIdentityMismatch = errors.New("signed by an unexpected identity")
	// ErrSignatureInvalid: the signature does not verify over the artifact digest.
	ErrSignatureInvalid = errors.New("signature does not match the artifact")
	// ErrDigestMismatch: the artifact's digest disagrees with the published
	// or signed one.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrNotInLog: no transparency-log entry records the signature.
	ErrNotInLog = errors.New("signature not found in the transparency log")
	// ErrLogEntryInvalid: the log entry's proof (SET, inclusion proof,
	// checkpoint) does not verify, or it records another signature.
	ErrLogEntryInvalid = errors.New("transparency-log entry does not verify")
	// ErrCertificateExpired: the certificate was not valid when the
	// signature was logged.
	ErrCertificateExpired = errors.New("certificate not valid at log time")
	// ErrPayloadMismatch: what was signed is not what the artifact's
	// signature must sign: an image signature's payload names another image
	// (or none) or is not a cosign container-image signature; a release
	// file's is an in-toto statement of a predicate not accepted.
	ErrPayloadMismatch = errors.New("the signed payload does not match the artifact")
)

// Why an artifact is rejected although a signature verifies: the signed
// thing is not the artifact asked for.
var (
	// ErrPlatformMismatch: an image is not the manifest of the artifact's
	// platform (another architecture, an index where an image was asked
	// for, or the reverse).
	ErrPlatformMismatch = errors.New("not the image of this platform")
	// ErrSignedTooEarly: the signature was logged before the previous
	// patch release was out: an artifact of an earlier release.
	ErrSignedTooEarly = errors.New("signed before the previous patch release")
	// ErrNameUnbound: a release file's signature verified, but no channel
	// independent of the download site binds its digest to its name and
	// platform (the release SBOM could not be used): which file of the
	// release it is cannot be told.
	ErrNameUnbound = errors.New("not bound to its name and platform")
	// ErrLocationMismatch: the evidence was taken at another place than
	// the one the release gives the artifact (an evidence pack's entry
	// moved to another artifact's repository, tag or path).
	ErrLocationMismatch = errors.New("evidence of another place")
	// ErrMisnamed: a file identified by its content as one file of a
	// release carries the name of another.
	ErrMisnamed = errors.New("the file is another release file than its name says")
	// ErrNotOfRelease: a file signed by the release team that no release
	// the catalog knows lists (not a rejection: it could not be identified).
	ErrNotOfRelease = errors.New("not a file of any known release")
)

// ErrEvidenceMalformed: published evidence about the artifact itself (a
// checksum file, a manifest) cannot be read: the publication is wrong.
var ErrEvidenceMalformed = errors.New("published evidence is malformed")
