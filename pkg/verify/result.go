package verify

import (
	"crypto/x509"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// CheckName names a check, as reports show it.
type CheckName string

// The checks: of a signature, then of an artifact.
const (
	CheckPolicy            CheckName = "policy"
	CheckBundle            CheckName = "bundle"
	CheckCertificateChain  CheckName = "certificate-chain"
	CheckSCT               CheckName = "sct"
	CheckIdentity          CheckName = "identity"
	CheckPayload           CheckName = "payload"
	CheckSignature         CheckName = "signature"
	CheckTimestamp         CheckName = "timestamp"
	CheckTransparencyLog   CheckName = "transparency-log"
	CheckValidityAtLogTime CheckName = "validity-at-log-time"
	CheckSigningTime       CheckName = "signing-time"

	CheckDigest       CheckName = "digest"
	CheckImage        CheckName = "image"
	CheckPlatform     CheckName = "platform"
	CheckIdentify     CheckName = "identify"
	CheckArtifactName CheckName = "name" // the evidence was taken at the artifact's place
)

// Check is one check that ran on a signature, recorded as it ran.
type Check struct {
	// Name of the check: "policy", "bundle", "certificate-chain", "sct",
	// "identity", "payload", "signature", "timestamp", "transparency-log",
	// "validity-at-log-time" for a signature ("certificate-chain" runs
	// twice: as issued, and at each signed time of signing); "digest", "platform",
	// "signing-time", "identify", "selection" for an artifact.
	Name     CheckName `json:"name"`
	OK       bool      `json:"ok"`
	Expected string    `json:"expected,omitempty"`
	Actual   string    `json:"actual,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// SignatureResult is the outcome of verifying one signature.
type SignatureResult struct {
	// Source says where the signature was found (a SignatureSource) and
	// Location where exactly (a repository, a URL); set by the judge.
	Source   SignatureSource `json:"source,omitempty"`
	Location string          `json:"location,omitempty"`
	// References name the registry artifacts that carry the signature
	// (SignatureEvidence.References); set by the judge.
	References []string `json:"references,omitempty"`
	// Checks in the order they ran; verification stops at the first failure.
	Checks []Check `json:"checks"`
	// Signer is the identity the certificate names (whatever it is).
	Signer *artifacts.Identity `json:"signer,omitempty"`
	// LogIndex and IntegratedTime of the verified transparency-log entry.
	LogIndex       *int64     `json:"logIndex,omitempty"`
	IntegratedTime *time.Time `json:"integratedTime,omitempty"`
	// SignedAt is the earliest signed time of signing: the deciding log
	// entry's signed integrated time or an RFC 3161 timestamp.
	SignedAt *time.Time `json:"signedAt,omitempty"`
	// DockerReference is what an image signature's payload names.
	DockerReference string `json:"dockerReference,omitempty"`
	// AcceptedIncident names the documented incident a verified signature
	// rests on (accepted explicitly, see Rules.AcceptIncidents).
	AcceptedIncident string `json:"acceptedIncident,omitempty"`
	// Notes say what was found and set aside: later copies of the log
	// entry, entries of unknown logs, rejected entries.
	Notes []string `json:"notes,omitempty"`
	// Err is nil when the signature passed every check; else it wraps one
	// of the package's sentinel errors.
	Err error `json:"-"`
	// Error is Err's message, for JSON.
	Error string `json:"error,omitempty"`

	chains [][]*x509.Certificate // verified certificate chains, for the SCT check
}

// Verified reports whether the signature passed every check.
func (r *SignatureResult) Verified() bool { return r.Err == nil }

func (r *SignatureResult) pass(name CheckName, expected, actual string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Expected: expected, Actual: actual})
}

// fail records a failed check and sets Err, sentinel first.
func (r *SignatureResult) fail(name CheckName, sentinel error, expected, actual string, cause error) *SignatureResult {
	c := Check{Name: name, Expected: expected, Actual: actual}
	if cause != nil {
		c.Error = cause.Error()
	}
	r.Checks = append(r.Checks, c)
	r.Err = newCheckError(name, sentinel, expected, actual, cause)
	r.Error = r.Err.Error()
	return r
}

// CheckError says which check failed and why. It unwraps to the sentinel.
type CheckError struct {
	Check    CheckName
	Sentinel error
	Expected string
	Actual   string
	Cause    error
}

func newCheckError(check CheckName, sentinel error, expected, actual string, cause error) *CheckError {
	return &CheckError{Check: check, Sentinel: sentinel, Expected: expected, Actual: actual, Cause: cause}
}

func (e *CheckError) Error() string {
	s := e.Sentinel.Error()
	if e.Expected != "" || e.Actual != "" {
		s += ": expected " + orNone(e.Expected) + ", got " + orNone(e.Actual)
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s + " [check: " + string(e.Check) + "]"
}

func (e *CheckError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Sentinel, e.Cause}
	}
	return []error{e.Sentinel}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
