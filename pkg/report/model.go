package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
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
	// Catalog is the release catalog the report was made with.
	Catalog *Catalog `json:"catalog,omitempty"`
	// Seconds is the wall-clock time of the run (0: not measured).
	Seconds float64 `json:"seconds,omitempty"`
	// Interrupted: the run was interrupted; the artifacts it never judged
	// have the status "not-checked".
	Interrupted bool `json:"interrupted,omitempty"`
	// NotChecked says what the verdicts do not cover, and for how many
	// artifacts (verification reports).
	NotChecked []Gap `json:"notChecked,omitempty"`

	// errs are the verdicts' errors, for Caused (not part of the schema).
	errs []error
}

// Status is an artifact's status in a report: a verdict's
// (verify.Status), or not-checked.
type Status string

// The statuses of a report's artifacts.
const (
	StatusVerified = Status(verify.StatusVerified)
	StatusFailed   = Status(verify.StatusFailed)
	StatusUnsigned = Status(verify.StatusUnsigned)
	StatusMissing  = Status(verify.StatusMissing)
	StatusError    = Status(verify.StatusError)
	// StatusNotChecked is the status of an artifact an interrupted run
	// never judged: neither a verdict nor an error.
	StatusNotChecked Status = "not-checked"
)

// Covers says what a verdict is about: which bytes the digest checked
// against the signature came from.
type Covers string

// What verdicts cover.
const (
	// CoversPublishedDigest: the digest the release publishes (its
	// .sha256 or .sha512 file, SBOM or CHANGELOG); the file itself was
	// not downloaded.
	CoversPublishedDigest Covers = "published-digest"
	// CoversDownloadedFile: the bytes the download site served.
	CoversDownloadedFile Covers = "downloaded-file"
	// CoversLocalFile: a file on disk.
	CoversLocalFile Covers = "local-file"
	// CoversManifest: the image manifest the registry served (its layers
	// are bound to it by digest).
	CoversManifest Covers = "registry-manifest"
	// CoversGivenDigest: a digest given by the user.
	CoversGivenDigest Covers = "given-digest"
)

// coversOf says what a verdict on a digest from source covers ("" when
// no digest was checked).
func coversOf(source verify.Channel) Covers {
	switch source {
	case "":
		return ""
	case verify.ChannelDownload:
		return CoversDownloadedFile
	case verify.ChannelFile:
		return CoversLocalFile
	case verify.ChannelRegistry:
		return CoversManifest
	case verify.ChannelArgument:
		return CoversGivenDigest
	}
	return CoversPublishedDigest
}

// Text is what the table says.
func (c Covers) Text() string {
	switch c {
	case CoversPublishedDigest:
		return "published digest"
	case CoversDownloadedFile:
		return "downloaded file"
	case CoversLocalFile:
		return "file on disk"
	case CoversManifest:
		return "image manifest"
	case CoversGivenDigest:
		return "given digest"
	}
	return "-"
}

// GapKind names something a run did not check.
type GapKind string

// What a run may leave unchecked.
const (
	// GapServedFiles: files verified by their published digest, never
	// downloaded: what the download site serves was not checked.
	GapServedFiles GapKind = "served-files"
	// GapInterrupted: artifacts never judged, the run interrupted.
	GapInterrupted GapKind = "interrupted"
	// GapUnboundArchives: image archives (.tar) verified on their
	// signature alone: the release SBOM leaves them out by design, so
	// nothing but the download site binds each to its name and platform.
	GapUnboundArchives GapKind = "unbound-archives"
)

// Gap is something a run did not check, and how many artifacts it
// concerns.
type Gap struct {
	Kind        GapKind `json:"kind"`
	Count       int     `json:"count"`
	Description string  `json:"description"`
}

// Catalog names the release catalog a report was made with: its policy
// (who signs, which incidents are known, which sums and digests bind the
// artifacts) decides verdicts, so a report says which one it was.
type Catalog struct {
	// Source is "embedded" (the catalog built into k8sverify) or the path
	// of the catalog file used instead.
	Source string `json:"source"`
	// SHA256 is the catalog's SHA-256 (of the file; of the embedded
	// catalog's files, in order, for the embedded one).
	SHA256 string `json:"sha256"`
	// From says where the file was named: "--catalog" or
	// "$K8SVERIFY_CATALOG" (external catalogs only).
	From string `json:"from,omitempty"`
	// Changes say what an external catalog changes of the embedded one:
	// releases added or dropped, and per release of both the fields that
	// differ (identities, dates, signing, sums, digests, incidents).
	Changes []string `json:"changes,omitempty"`
}

// External reports whether the catalog is not the embedded one.
func (c *Catalog) External() bool { return c != nil && c.Source != CatalogEmbedded }

// CatalogEmbedded is the Source of the catalog built into k8sverify.
const CatalogEmbedded = "embedded"

// Mirror is what a mirror did.
type Mirror struct {
	// To is the destination registry and prefix.
	To string `json:"to"`
	// DryRun: nothing was written; the verdicts are those at the source.
	DryRun bool `json:"dryRun,omitempty"`
	// Copied is what was written, Present what the destination held already.
	Copied  MirrorCounts `json:"copied"`
	Present MirrorCounts `json:"present"`
	// WouldCopy is what a dry run would write (dry runs only; the
	// destination unread: what it already holds is counted too).
	WouldCopy *MirrorCounts `json:"wouldCopy,omitempty"`
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
	// Requested is the alias the release was asked for by, when it is not
	// its version: "latest-1.24" for v1.24.17.
	Requested string `json:"requested,omitempty"`
	Date      string `json:"date,omitempty"`
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
	// NotChecked counts the artifacts an interrupted run never judged.
	NotChecked int `json:"notChecked,omitempty"`
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

	Status Status `json:"status,omitempty"`
	// noMirror: a mirror of the selection would not copy this index.
	noMirror bool
	// unboundName: a release file verified that nothing but the download
	// site binds to its name and platform (GapUnboundArchives).
	unboundName  bool
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
	// Covers says what the verdict is about: the published digest, a
	// downloaded file, a file on disk, an image manifest.
	Covers Covers `json:"covers,omitempty"`

	// canceled: the artifact's check ended because the run was cancelled.
	canceled bool
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
	out := fmt.Sprintf("%d %s: %d verified, %d failed, %d unsigned, %d missing, %d error",
		s.Total, noun, s.Verified, s.Failed, s.Unsigned, s.Missing, s.Error)
	if s.NotChecked > 0 {
		out += fmt.Sprintf(", %d not checked", s.NotChecked)
	}
	return out
}

func (s *Summary) add(status Status) {
	s.Total++
	switch status {
	case StatusVerified:
		s.Verified++
	case StatusFailed:
		s.Failed++
	case StatusUnsigned:
		s.Unsigned++
	case StatusMissing:
		s.Missing++
	case StatusNotChecked:
		s.NotChecked++
	default:
		s.Error++
	}
}

// MarkInterrupted marks the report of an interrupted run: every artifact
// whose check the interruption ended is "not-checked" (never judged, not
// an error), and the summaries count them so.
func (r *Report) MarkInterrupted() {
	r.Interrupted = true
	n := 0
	for i := range r.Artifacts {
		a := &r.Artifacts[i]
		if !a.canceled || a.Status != StatusError {
			continue
		}
		a.Status, a.Reason, a.FailedCheck, a.Covers = StatusNotChecked, "not checked: the run was interrupted", "", ""
		a.Checks, a.Signatures = nil, nil
		n++
	}
	r.recount()
	r.NotChecked = slices.DeleteFunc(r.NotChecked, func(g Gap) bool { return g.Kind == GapInterrupted })
	if n > 0 {
		r.NotChecked = append(r.NotChecked, Gap{Kind: GapInterrupted, Count: n, Description: fmt.Sprintf("%d %s never judged: the run was interrupted", n, plural(n, "artifact", "artifacts"))})
	}
}

// recount counts the statuses again, in the report's summary and each
// release's.
func (r *Report) recount() {
	if r.Summary == nil {
		return
	}
	*r.Summary = Summary{}
	sums := map[string]*Summary{}
	for i := range r.Releases {
		if r.Releases[i].Summary != nil {
			*r.Releases[i].Summary = Summary{}
			sums[r.Releases[i].Version] = r.Releases[i].Summary
		}
	}
	for _, a := range r.Artifacts {
		r.Summary.add(a.Status)
		if s := sums[a.Release]; s != nil {
			s.add(a.Status)
		}
	}
}

// plural is one or many, as n asks.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
