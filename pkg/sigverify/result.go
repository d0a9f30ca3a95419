package sigverify

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// CheckName names a check, as reports show it.
type CheckName string

// The checks of a signature, in the order they run. The checks of an
// artifact (digest, image, platform, …) are the judge's, in pkg/verify.
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
)

// Check is one check that ran, recorded as it ran.
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

// Result is the outcome of verifying one signature.
type Result struct {
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
func (r *Result) Verified() bool { return r.Err == nil }

// Pass records a passed check.
func (r *Result) Pass(name CheckName, expected, actual string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Expected: expected, Actual: actual})
}

// Fail records a failed check and sets Err, sentinel first.
func (r *Result) Fail(name CheckName, sentinel error, expected, actual string, cause error) *Result {
	c := Check{Name: name, Expected: expected, Actual: actual}
	if cause != nil {
		c.Error = cause.Error()
	}
	r.Checks = append(r.Checks, c)
	r.Err = &CheckError{Check: name, Sentinel: sentinel, Expected: expected, Actual: actual, Cause: cause}
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

// FailedCheckOf returns the name of the check err failed, if any.
func FailedCheckOf(err error) CheckName {
	var ce *CheckError
	if errors.As(err, &ce) {
		return ce.Check
	}
	return ""
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
