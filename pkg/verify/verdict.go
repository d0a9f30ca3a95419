package verify

import (
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// Status is the verdict on one artifact.
type Status string

// The verdicts, from best to worst for exit codes: see Worst.
const (
	// StatusVerified: at least one signature passed every check.
	StatusVerified Status = "verified"
	// StatusFailed: the evidence was checked and is wrong (tampered
	// artifact, wrong identity, forged log entry, …).
	StatusFailed Status = "failed"
	// StatusUnsigned: no signature is published.
	StatusUnsigned Status = "unsigned"
	// StatusMissing: the artifact itself is not published.
	StatusMissing Status = "missing"
	// StatusError: the artifact could not be checked (network, timeout).
	StatusError Status = "error"
)

// Verdict is the outcome for one artifact.
type Verdict struct {
	Artifact artifacts.Artifact `json:"artifact"`
	Status   Status             `json:"status"`
	// Reason says why, for every status but verified (and there names
	// the signer and log entry).
	Reason string `json:"reason"`
	// FailedCheck names the check that failed, for StatusFailed.
	FailedCheck sigverify.CheckName `json:"failedCheck,omitempty"`
	// Digest is the artifact's digest that was checked ("sha256:…").
	Digest string `json:"digest,omitempty"`
	// DigestSource says where Digest came from: "published .sha256",
	// "download", "file", "registry".
	DigestSource Channel `json:"digestSource,omitempty"`
	// Checks are the artifact's own checks (digest, image, platform), as
	// they ran; each signature has its checks too.
	Checks []sigverify.Check `json:"checks,omitempty"`
	// Signatures found, each with its checks.
	Signatures []*SignatureResult `json:"signatures,omitempty"`
	// Incidents are known signing incidents that concern the artifact.
	Incidents []artifacts.Incident `json:"incidents,omitempty"`
	// Err is the underlying error (nil when verified).
	Err error `json:"-"`
	// Elapsed is how long fetching and judging the artifact took.
	Elapsed time.Duration `json:"-"`
}

// Rank orders statuses for exit codes: failures outrank incompleteness.
func Rank(s Status) int {
	switch s {
	case StatusVerified:
		return 0
	case StatusUnsigned, StatusMissing, StatusError:
		return 1
	default:
		return 2
	}
}
