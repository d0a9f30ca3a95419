package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// WriteListingTable writes a listing as a table, one artifact a row,
// followed by the release's known signing incidents and their sources.
func WriteListingTable(w io.Writer, rep *Report) error {
	ew := &listWriter{w: w}
	writeCatalog(ew, rep.Catalog, 0)
	r := Release{}
	if len(rep.Releases) > 0 {
		r = rep.Releases[0]
	}
	date := ""
	if r.Date != "" {
		date = ", released " + r.Date
	}
	count := map[string]int{}
	for _, a := range rep.Artifacts {
		count[a.Kind]++
	}
	fmt.Fprintf(ew, "Kubernetes %s%s: %d artifacts (%d binaries, %d tarballs, %d images) from the %s\n\n",
		r.Version, date, len(rep.Artifacts), count["binary"], count["tarball"], count["image"], listSourceName(r.Source, rep.Catalog))
	number := map[string]int{} // incident ID -> its number in the list below
	for i, in := range rep.Incidents {
		number[in.ID] = i + 1
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tPLATFORM\tLOCATION\tSIGNER\tSIGNATURE\tINCIDENTS")
	for _, a := range rep.Artifacts {
		var refs []string
		for _, id := range a.Incidents {
			refs = append(refs, fmt.Sprintf("[%d]", number[id]))
		}
		incidents := "-"
		if len(refs) > 0 {
			incidents = strings.Join(refs, "")
		}
		san := "-"
		if a.Signer != nil {
			san = a.Signer.SAN
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Kind, a.Name, platformCell(a), a.Location, san, a.Signing, incidents)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	issuers := map[string]bool{}
	for _, a := range rep.Artifacts {
		if a.Signer != nil {
			issuers[a.Signer.Issuer] = true
		}
	}
	if len(issuers) == 1 {
		for iss := range issuers {
			fmt.Fprintf(ew, "\nEvery signer's OIDC issuer: %s\n", iss)
		}
	}
	fmt.Fprintf(ew, "Signature: expected = the release process signed it; not-expected = released before\n"+
		"signing of its kind; probe = not known, look and report what is found; never = the\n"+
		"release process never signs it (.docker_tag files).\n")
	if len(rep.Incidents) == 0 {
		fmt.Fprintf(ew, "\nKnown signing incidents of %s: none recorded.\n", r.Version)
		return ew.err
	}
	fmt.Fprintf(ew, "\nKnown signing incidents of %s:\n", r.Version)
	for i, in := range rep.Incidents {
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

func listSourceName(s string, c *Catalog) string {
	catalog := "embedded catalog"
	if c.External() {
		catalog = "catalog " + c.Source
	}
	switch s {
	case artifacts.SourceCatalog:
		return catalog
	case artifacts.SourceSBOM:
		return "release SBOM"
	case artifacts.SourceMerged:
		return "release SBOM and the " + catalog
	}
	return s
}

// incidentScope says which artifacts an incident concerns: "images",
// "kube-proxy images", "all artifacts".
func incidentScope(in Incident) string {
	if len(in.Images) > 0 {
		return strings.Join(in.Images, ", ") + " images"
	}
	if len(in.Kinds) == 0 {
		return "all artifacts"
	}
	var ks []string
	for _, k := range in.Kinds {
		ks = append(ks, k+"s")
	}
	return strings.Join(ks, ", ")
}

// platformCell is the platform column: os/arch, "index" for a multi-arch
// image, "-" for a platform-independent file.
func platformCell(a Artifact) string {
	switch {
	case a.Platform != "":
		return a.Platform
	case a.Kind == "image":
		return "index"
	}
	return "-"
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

// listWriter makes what a table renderer writes safe for a terminal
// (Safe) and remembers the first write error so that the renderer can
// write freely and report it once.
type listWriter struct {
	w   io.Writer
	err error
}

func (e *listWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if _, err := io.WriteString(e.w, Safe(string(p))); err != nil {
		e.err = err
		return 0, err
	}
	return len(p), nil
}

// writeSafe writes s, made safe already and perhaps coloured, as it is.
func (e *listWriter) writeSafe(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}
