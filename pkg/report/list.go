package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// ReleaseSchemaVersion is the version of the ReleaseReport JSON schema.
// It changes only when a field changes meaning or disappears.
const ReleaseSchemaVersion = 1

// ReleaseReport is the JSON form of `k8sverify list`: a release, its
// artifacts with the incidents that concern each, and what the sources of
// the list disagreed on.
type ReleaseReport struct {
	SchemaVersion int    `json:"schemaVersion"`
	Version       string `json:"version"`
	Date          string `json:"date,omitempty"`
	// Source is where the list came from: "catalog", "sbom" or
	// "sbom+catalog".
	Source    string           `json:"source"`
	Artifacts []ListedArtifact `json:"artifacts"`
	// Incidents are the release's known signing incidents.
	Incidents []artifacts.Incident `json:"incidents"`
	// Differences are artifacts only the SBOM or only the catalog lists.
	Differences []artifacts.Difference `json:"differences"`
	// Warnings say what went wrong while listing, e.g. that the SBOM could
	// not be fetched and only the catalog was used.
	Warnings []string `json:"warnings"`
}

// ListedArtifact is an artifact with the IDs of the incidents that concern it.
type ListedArtifact struct {
	artifacts.Artifact
	Incidents []string `json:"incidents,omitempty"`
}

// NewReleaseReport builds the report of release r.
func NewReleaseReport(r *artifacts.Release, diffs []artifacts.Difference, warnings []string) ReleaseReport {
	rep := ReleaseReport{
		SchemaVersion: ReleaseSchemaVersion,
		Version:       r.Version.String(),
		Date:          r.Date,
		Source:        r.Source,
		Artifacts:     make([]ListedArtifact, 0, len(r.Artifacts)),
		Incidents:     orEmpty(r.Incidents),
		Differences:   orEmpty(diffs),
		Warnings:      orEmpty(warnings),
	}
	for _, a := range r.Artifacts {
		la := ListedArtifact{Artifact: a}
		for _, in := range r.IncidentsFor(a) {
			la.Incidents = append(la.Incidents, in.ID)
		}
		rep.Artifacts = append(rep.Artifacts, la)
	}
	return rep
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WriteReleaseJSON writes the ReleaseReport of r as indented JSON.
func WriteReleaseJSON(w io.Writer, r *artifacts.Release, diffs []artifacts.Difference, warnings []string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(NewReleaseReport(r, diffs, warnings))
}

// WriteReleaseTable writes r as a table, one artifact a row, followed by
// the release's known signing incidents and their sources.
func WriteReleaseTable(w io.Writer, r *artifacts.Release) error {
	ew := &listWriter{w: w}
	date := ""
	if r.Date != "" {
		date = ", released " + r.Date
	}
	fmt.Fprintf(ew, "Kubernetes %s%s: %d artifacts (%d binaries, %d tarballs, %d images) from the %s\n\n",
		r.Version, date, len(r.Artifacts), r.Count(artifacts.KindBinary), r.Count(artifacts.KindTarball), r.Count(artifacts.KindImage), listSourceName(r.Source))
	number := map[string]int{} // incident ID -> its number in the list below
	for i, in := range r.Incidents {
		number[in.ID] = i + 1
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tPLATFORM\tLOCATION\tSIGNER\tSIGNATURE\tINCIDENTS")
	for _, a := range r.Artifacts {
		platform := a.Platform.String()
		if platform == "" {
			platform = "-"
			if a.Kind == artifacts.KindImage {
				platform = "index"
			}
		}
		var refs []string
		for _, in := range r.IncidentsFor(a) {
			refs = append(refs, fmt.Sprintf("[%d]", number[in.ID]))
		}
		incidents := "-"
		if len(refs) > 0 {
			incidents = strings.Join(refs, "")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Kind, a.Name, platform, a.Location, a.Signer.SAN, a.Signing, incidents)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	issuers := map[string]bool{}
	for _, a := range r.Artifacts {
		issuers[a.Signer.Issuer] = true
	}
	if len(issuers) == 1 {
		for iss := range issuers {
			fmt.Fprintf(ew, "\nEvery signer's OIDC issuer: %s\n", iss)
		}
	}
	fmt.Fprintf(ew, "Signature: expected = the release process signed it; not-expected = released before\n"+
		"signing of its kind; probe = not known, look and report what is found.\n")
	if len(r.Incidents) == 0 {
		fmt.Fprintf(ew, "\nKnown signing incidents of %s: none recorded.\n", r.Version)
		return ew.err
	}
	fmt.Fprintf(ew, "\nKnown signing incidents of %s:\n", r.Version)
	for i, in := range r.Incidents {
		fmt.Fprintf(ew, "\n  [%d] %s (%s)\n", i+1, in.ID, incidentScope(in))
		for _, line := range wrapText(in.Summary, 74) {
			fmt.Fprintf(ew, "      %s\n", line)
		}
		fmt.Fprintf(ew, "      source: %s\n", in.Source)
		for _, s := range in.SeeAlso {
			fmt.Fprintf(ew, "      see also: %s\n", s)
		}
	}
	return ew.err
}

func listSourceName(s string) string {
	switch s {
	case artifacts.SourceCatalog:
		return "embedded catalog"
	case artifacts.SourceSBOM:
		return "release SBOM"
	case artifacts.SourceMerged:
		return "release SBOM and the embedded catalog"
	}
	return s
}

// incidentScope says which artifacts an incident concerns: "images",
// "kube-proxy images", "all artifacts".
func incidentScope(in artifacts.Incident) string {
	if len(in.Images) > 0 {
		return strings.Join(in.Images, ", ") + " images"
	}
	if len(in.Kinds) == 0 {
		return "all artifacts"
	}
	var ks []string
	for _, k := range in.Kinds {
		ks = append(ks, string(k)+"s")
	}
	return strings.Join(ks, ", ")
}

// wrapText breaks s into lines of at most width runes, at spaces.
func wrapText(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(s) {
		if cur.Len() > 0 && len([]rune(cur.String()))+1+len([]rune(word)) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// listWriter remembers the first write error so that a renderer can write
// freely and report it once.
type listWriter struct {
	w   io.Writer
	err error
}

func (e *listWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
