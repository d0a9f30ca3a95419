package verify

import "errors"

// Verdicts' errors wrap a sentinel first, so callers test them with
// errors.Is: a signature's rejection one of package sigverify's
// (sigverify.ErrIdentityMismatch, sigverify.ErrDigestMismatch, …), an
// artifact's rejection one of these.

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
