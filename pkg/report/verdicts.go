package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// SchemaVersion is the version of the verification report's JSON schema
// (README "JSON output"). It changes only when a field changes meaning or
// disappears; new fields may be added within a version.
const SchemaVersion = 1

// Report is the outcome of a verification run: one verdict per artifact.
// Table, JSON, JUnit and mirror-list are renderings of it.
type Report struct {
	SchemaVersion int    `json:"schemaVersion"`
	Tool          string `json:"tool"`
	// Release is the version audited, "" for verify-file/-image/-blob.
	Release     string           `json:"release,omitempty"`
	GeneratedAt time.Time        `json:"generatedAt"`
	Summary     Summary          `json:"summary"`
	Verdicts    []verify.Verdict `json:"verdicts"`
	// Incidents are the release's known signing incidents.
	Incidents []artifacts.Incident `json:"incidents,omitempty"`
	Warnings  []string             `json:"warnings,omitempty"`
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

// New builds a report over verdicts.
func New(tool, release string, now time.Time, verdicts []verify.Verdict) *Report {
	r := &Report{SchemaVersion: SchemaVersion, Tool: tool, Release: release, GeneratedAt: now.UTC(), Verdicts: verdicts}
	if r.Verdicts == nil {
		r.Verdicts = []verify.Verdict{}
	}
	for _, v := range verdicts {
		r.Summary.Total++
		switch v.Status {
		case verify.StatusVerified:
			r.Summary.Verified++
		case verify.StatusFailed:
			r.Summary.Failed++
		case verify.StatusUnsigned:
			r.Summary.Unsigned++
		case verify.StatusMissing:
			r.Summary.Missing++
		default:
			r.Summary.Error++
		}
	}
	return r
}

// Worst is the worst status in the report: failed outranks unsigned,
// missing and error, which outrank verified.
func (r *Report) Worst() verify.Status {
	worst := verify.StatusVerified
	for _, v := range r.Verdicts {
		if verify.Rank(v.Status) > verify.Rank(worst) {
			worst = v.Status
		}
	}
	return worst
}

// String is the one-line summary.
func (s Summary) String() string {
	return fmt.Sprintf("%d artifacts: %d verified, %d failed, %d unsigned, %d missing, %d error",
		s.Total, s.Verified, s.Failed, s.Unsigned, s.Missing, s.Error)
}

// Formats are the output formats of verification commands.
var Formats = []string{"table", "json", "junit", "mirror-list"}

// Write renders the report in format.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "table":
		return WriteTable(w, r)
	case "json":
		return WriteJSON(w, r)
	case "junit":
		return WriteJUnit(w, r)
	case "mirror-list":
		return WriteMirrorList(w, r)
	}
	return fmt.Errorf("unknown output format %q (want %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes one line per artifact and the summary.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tPLATFORM\tSTATUS\tDETAIL")
	for _, v := range r.Verdicts {
		platform := v.Artifact.Platform.String()
		if platform == "" {
			platform = "-"
			if v.Artifact.Kind == artifacts.KindImage {
				platform = "index"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Artifact.Kind, v.Artifact.Name, platform, v.Status, detail(v))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ids := incidentIDs(r); len(ids) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Known signing incidents of this release:")
		for _, in := range r.Incidents {
			fmt.Fprintf(w, "  %s: %s (%s)\n", in.ID, in.Summary, in.Source)
		}
	}
	fmt.Fprintln(w)
	_, err := fmt.Fprintln(w, r.Summary)
	return err
}

func detail(v verify.Verdict) string {
	d := v.Reason
	for _, in := range v.Incidents {
		if v.Status != verify.StatusVerified {
			d += " [known incident: " + in.ID + "]"
		}
	}
	return oneLine(d)
}

func incidentIDs(r *Report) []string {
	var ids []string
	for _, in := range r.Incidents {
		ids = append(ids, in.ID)
	}
	return ids
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// WriteMirrorList writes one digest-pinned reference per verified image,
// e.g. registry.k8s.io/kube-apiserver:v1.24.17@sha256:…, and nothing for
// any other verdict. A multi-arch index is listed only when every verdict
// on its image (the index and each platform) is verified: copying an index
// copies every platform it lists.
func WriteMirrorList(w io.Writer, r *Report) error {
	incomplete := map[string]bool{}
	for _, v := range r.Verdicts {
		if v.Artifact.Kind == artifacts.KindImage && v.Status != verify.StatusVerified {
			incomplete[v.Artifact.Name] = true
		}
	}
	for _, v := range r.Verdicts {
		if v.Artifact.Kind != artifacts.KindImage || v.Status != verify.StatusVerified || v.Digest == "" {
			continue
		}
		if v.Artifact.Platform.IsZero() && incomplete[v.Artifact.Name] {
			continue
		}
		ref := v.Artifact.Location
		if i := strings.Index(ref, "@"); i >= 0 {
			ref = ref[:i]
		}
		if _, err := fmt.Fprintf(w, "%s@%s\n", ref, v.Digest); err != nil {
			return err
		}
	}
	return nil
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
}

// WriteJUnit writes a JUnit XML report: failed verdicts are failures,
// errors errors, unsigned and missing ones skipped.
func WriteJUnit(w io.Writer, r *Report) error {
	name := "k8sverify"
	if r.Release != "" {
		name += " " + r.Release
	}
	s := junitSuite{Name: name, Tests: len(r.Verdicts), Failures: r.Summary.Failed, Errors: r.Summary.Error, Skipped: r.Summary.Unsigned + r.Summary.Missing}
	for _, v := range r.Verdicts {
		c := junitCase{Name: v.Artifact.ID(), Classname: string(v.Artifact.Kind)}
		m := &junitMessage{Message: oneLine(v.Reason), Type: string(v.Status)}
		switch v.Status {
		case verify.StatusFailed:
			c.Failure = m
		case verify.StatusError:
			c.Error = m
		case verify.StatusUnsigned, verify.StatusMissing:
			c.Skipped = m
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
