package sigverify

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

// ErrNoTrust: a verifier was asked for without trusted material.
var ErrNoTrust = errors.New("no trusted material")
