package verify

import (
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// The checks of an artifact, which the judge runs (a signature's own
// checks are sigverify's).
const (
	// CheckSigningTime runs on each verified signature of a release's
	// artifact: signed after the previous patch release.
	CheckSigningTime sigverify.CheckName = "signing-time"

	CheckDigest       sigverify.CheckName = "digest"
	CheckImage        sigverify.CheckName = "image"
	CheckPlatform     sigverify.CheckName = "platform"
	CheckIdentify     sigverify.CheckName = "identify"
	CheckArtifactName sigverify.CheckName = "name" // the evidence was taken at the artifact's place
)

// SignatureResult is the judge's record of one signature: where it was
// found, sigverify's result on it, and the incident it was accepted under.
type SignatureResult struct {
	// Source says where the signature was found (a SignatureSource) and
	// Location where exactly (a repository, a URL).
	Source   SignatureSource `json:"source,omitempty"`
	Location string          `json:"location,omitempty"`
	// References name the registry artifacts that carry the signature
	// (SignatureEvidence.References).
	References []string `json:"references,omitempty"`
	// Result is what verifying the signature found: its checks as they
	// ran (with the judge's signing-time check), signer, log entry, error.
	sigverify.Result
	// AcceptedIncident names the documented incident a verified signature
	// rests on (accepted explicitly, see Rules.AcceptIncidents).
	AcceptedIncident string `json:"acceptedIncident,omitempty"`
}

// found records a signature's verification as the judge's result.
func found(r *sigverify.Result) *SignatureResult { return &SignatureResult{Result: *r} }

// rejected is the result of a signature the judge rejects before
// verifying it (a failed "bundle" or "payload" check).
func rejected(signer *artifacts.Identity, check sigverify.CheckName, sentinel error, expected, actual string, cause error) *SignatureResult {
	r := &SignatureResult{}
	r.Signer = signer
	r.Fail(check, sentinel, expected, actual, cause)
	return r
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
