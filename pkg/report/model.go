package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// SchemaVersion is the version of the JSON schema of reports (README
// "JSON output", schema/report.schema.json). It changes only when a field
// changes meaning or disappears; new fields may be added within a version.
// Version 2: one schema for list and verify ("release", "artifacts",
// "generatedAt"), owned by this package.
const SchemaVersion = 2

// Kinds of report.
const (
	// KindVerification: verdicts (verify, verify-file, verify-image, verify-blob).
	KindVerification = "verification"
	// KindListing: what a release is made of (list).
	KindListing = "listing"
)

// Report is the data every rendering is made from, and its JSON form.
type Report struct {
	SchemaVersion int       `json:"schemaVersion"`
	Kind          string    `json:"kind"`
	Tool          Tool      `json:"tool"`
	GeneratedAt   time.Time `json:"generatedAt"`
	// Releases are the releases the report is about (none for files and
	// images known by themselves), each with its own summary.
	Releases []Release `json:"releases"`
	// Summary counts every artifact's status (verification reports).
	Summary   *Summary   `json:"summary,omitempty"`
	Artifacts []Artifact `json:"artifacts"`
	// Incidents are the releases' known signing incidents.
	Incidents []Incident `json:"incidents"`
	// Differences are artifacts only the SBOM or only the catalog lists
	// (listing reports).
	Differences []Difference `json:"differences,omitempty"`
	Warnings    []string     `json:"warnings"`
	// Mirror says what a mirror copied (mirror reports; its verdicts are
	// those at the destination).
	Mirror *Mirror `json:"mirror,omitempty"`
}

// Mirror is what a mirror did.
type Mirror struct {
	// To is the destination registry and prefix.
	To string `json:"to"`
	// DryRun: nothing was written; the verdicts are those at the source.
	DryRun bool `json:"dryRun,omitempty"`
	// Copied is what was written, Present what the destination held already.
	Copied  MirrorCounts `json:"copied"`
	Present MirrorCounts `json:"present"`
}

// MirrorCounts counts manifests (platform images and indexes), signature
// artifacts (cosign .sig tags, referrers) and image tags.
type MirrorCounts struct {
	Images     int `json:"images"`
	Signatures int `json:"signatures"`
	Tags       int `json:"tags"`
}

// Tool names the tool that made the report.
type Tool struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion,omitempty"`
}

func (t Tool) String() string { return t.Name + " " + t.Version }

// Release is one release of a report.
type Release struct {
	Version string `json:"version"`
	Date    string `json:"date,omitempty"`
	// Source is where the artifact list came from: "catalog", "sbom" or
	// "sbom+catalog".
	Source  string   `json:"source,omitempty"`
	Summary *Summary `json:"summary,omitempty"`
}

// Summary counts verdicts by status.
type Summary struct {
	Total    int `json:"total"`
	Verified int `json:"verified"`
	Failed   int `json:"failed"`
	Unsigned int `json:"unsigned"`
	Missing  int `json:"missing"`
	Error    int `json:"error"`
}

// Artifact is one artifact and, in a verification report, its verdict.
type Artifact struct {
	Release     string    `json:"release,omitempty"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name"`
	Platform    string    `json:"platform,omitempty"`
	Location    string    `json:"location"`
	Signer      *Identity `json:"signer,omitempty"`
	Signing     string    `json:"signing,omitempty"`
	SigningNote string    `json:"signingNote,omitempty"`
	// SHA256 and SHA512 are the sums release documents publish for the
	// file (listing); Sums says which document published which.
	SHA256 string `json:"sha256,omitempty"`
	SHA512 string `json:"sha512,omitempty"`
	Sums   []Sum  `json:"sums,omitempty"`
	// Unbound are the independent channels (changelog, promoter-manifest)
	// that could have given its sum or digest and did not, and why.
	Unbound []Unbound `json:"unbound,omitempty"`

	Status       string      `json:"status,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	FailedCheck  string      `json:"failedCheck,omitempty"`
	Digest       string      `json:"digest,omitempty"`
	DigestSource string      `json:"digestSource,omitempty"`
	Checks       []Check     `json:"checks,omitempty"`
	Signatures   []Signature `json:"signatures,omitempty"`
	// Incidents are the IDs of the known incidents that concern it.
	Incidents []string `json:"incidents,omitempty"`
	// Seconds is how long the artifact took to check.
	Seconds float64 `json:"seconds,omitempty"`
}

// ID names the artifact within its release, as "binary kubectl linux/amd64".
func (a Artifact) ID() string {
	s := a.Kind + " " + a.Name
	if a.Platform != "" {
		s += " " + a.Platform
	}
	return s
}

// Identity is a keyless signer: certificate SAN and OIDC issuer.
type Identity struct {
	SAN    string `json:"san"`
	Issuer string `json:"issuer"`
}

// Unbound is a channel that did not bind an artifact, and why.
type Unbound struct {
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
}

// Sum is a checksum a release document publishes.
type Sum struct {
	Algorithm string `json:"algorithm"`
	Hex       string `json:"hex"`
	Source    string `json:"source"`
}

// Check is one check that ran, as it ran.
type Check struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Signature is one signature found for an artifact, and its checks.
type Signature struct {
	Source           string     `json:"source,omitempty"`
	Location         string     `json:"location,omitempty"`
	Verified         bool       `json:"verified"`
	Signer           *Identity  `json:"signer,omitempty"`
	LogIndex         *int64     `json:"logIndex,omitempty"`
	IntegratedTime   *time.Time `json:"integratedTime,omitempty"`
	SignedAt         *time.Time `json:"signedAt,omitempty"`
	DockerReference  string     `json:"dockerReference,omitempty"`
	AcceptedIncident string     `json:"acceptedIncident,omitempty"`
	// References name the registry artifacts that carry the signature:
	// cosign .sig tags (repository:sha256-<hex>.sig, in each repository
	// it was found in) and referrers (repository@sha256:<hex>).
	References []string `json:"references,omitempty"`
	Checks     []Check  `json:"checks"`
	Notes      []string `json:"notes,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// Incident is a known, documented signing incident.
type Incident struct {
	ID         string     `json:"id"`
	Release    string     `json:"release,omitempty"`
	Summary    string     `json:"summary"`
	Source     string     `json:"source"`
	SeeAlso    []string   `json:"seeAlso,omitempty"`
	Kinds      []string   `json:"kinds,omitempty"`
	Images     []string   `json:"images,omitempty"`
	Identities []Identity `json:"identities,omitempty"`
}

// Difference is an artifact only one source of a release lists.
type Difference struct {
	Artifact Artifact `json:"artifact"`
	OnlyIn   string   `json:"onlyIn"`
}

// Read reads a JSON report back, to render it in another format.
func Read(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if rep.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("report: schema version %d, this k8sverify reads %d", rep.SchemaVersion, SchemaVersion)
	}
	return &rep, nil
}

// Worst is the worst status in the report: failed outranks unsigned,
// missing and error, which outrank verified.
func (r *Report) Worst() verify.Status {
	worst := verify.StatusVerified
	for _, a := range r.Artifacts {
		if s := verify.Status(a.Status); verify.Rank(s) > verify.Rank(worst) {
			worst = s
		}
	}
	return worst
}

// String is the one-line summary.
func (s Summary) String() string {
	noun := "artifacts"
	if s.Total == 1 {
		noun = "artifact"
	}
	return fmt.Sprintf("%d %s: %d verified, %d failed, %d unsigned, %d missing, %d error",
		s.Total, noun, s.Verified, s.Failed, s.Unsigned, s.Missing, s.Error)
}

func (s *Summary) add(status string) {
	s.Total++
	switch verify.Status(status) {
	case verify.StatusVerified:
		s.Verified++
	case verify.StatusFailed:
		s.Failed++
	case verify.StatusUnsigned:
		s.Unsigned++
	case verify.StatusMissing:
		s.Missing++
	default:
		s.Error++
	}
}

func identityOf(id artifacts.Identity) *Identity {
	if id.SAN == "" && id.Issuer == "" {
		return nil
	}
	return &Identity{SAN: id.SAN, Issuer: id.Issuer}
}

func incidentOf(in artifacts.Incident, release string) Incident {
	out := Incident{ID: in.ID, Release: release, Summary: in.Summary, Source: in.Source, SeeAlso: in.SeeAlso, Images: in.Images}
	for _, k := range in.Kinds {
		out.Kinds = append(out.Kinds, string(k))
	}
	for _, id := range in.Identities {
		out.Identities = append(out.Identities, Identity{SAN: id.SAN, Issuer: id.Issuer})
	}
	return out
}
