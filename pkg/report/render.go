package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Formats are the output formats of verification reports.
var Formats = []string{"table", "json", "junit", "sarif", "mirror-list"}

// ListingFormats are the output formats of listing reports.
var ListingFormats = []string{"table", "json"}

// TableOptions shape the human table.
type TableOptions struct {
	// Width is the terminal's width: a reason that does not fit beside
	// its row is wrapped, in full, under it (0: no limit, one line per
	// row). Nothing is ever cut.
	Width int
	// Color marks statuses with ANSI colours (a terminal that wants them).
	Color bool
	// ProblemsOnly leaves out the verified artifacts.
	ProblemsOnly bool
	// All lists every artifact in expected states (unsigned as the
	// release's history documents, never judged after an interrupt) one
	// by one; by default each such group is one line per release, kind
	// and reason.
	All bool
	// ExpandHint, in the caller's terms, says how to list a collapsed
	// group one by one.
	ExpandHint string
	// AcceptHint, in the caller's terms, says how to accept what a known
	// incident describes: a format of one incident ID.
	AcceptHint string
	// Advice, in the caller's terms, says how to check what a run did not.
	Advice map[GapKind]string
}

// Write renders the report in format, with table options for "table".
func Write(w io.Writer, r *Report, format string, o TableOptions) error {
	switch {
	case format == "json":
		return WriteJSON(w, r)
	case format == "table" && r.Kind == KindListing:
		return WriteListingTable(w, r)
	case format == "table":
		return WriteTable(w, r, o)
	case format == "junit" && r.Kind == KindVerification:
		return WriteJUnit(w, r)
	case format == "sarif" && r.Kind == KindVerification:
		return WriteSARIF(w, r)
	case format == "mirror-list" && r.Kind == KindVerification:
		return WriteMirrorList(w, r)
	}
	return fmt.Errorf("unknown output format %q for a %s report", format, r.Kind)
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(&escaper{w: w, escape: jsonEscape})
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// writeCatalog heads a table with the catalog used, when it is not the
// embedded one: its policy decided the verdicts.
func writeCatalog(w io.Writer, c *Catalog, width int) {
	if !c.External() {
		return
	}
	changes := "changes nothing of the embedded catalog"
	if len(c.Changes) > 0 {
		changes = "changes: " + strings.Join(c.Changes, "; ")
	}
	writeWrapped(w, fmt.Sprintf("Catalog %s (sha256 %s, from %s) instead of the embedded catalog; %s", c.Source, c.SHA256, c.From, changes), width, 2)
	fmt.Fprintln(w)
}

// split returns the artifacts that are not verified, then the verified,
// each in kind order (binary, tarball, image) and otherwise as listed.
func split(as []Artifact) (problems, verified []Artifact) {
	for _, a := range as {
		if a.Status == StatusVerified {
			verified = append(verified, a)
		} else {
			problems = append(problems, a)
		}
	}
	byKind := func(x, y Artifact) int { return kindRank(x.Kind) - kindRank(y.Kind) }
	slices.SortStableFunc(problems, func(x, y Artifact) int {
		if c := verify.Rank(verify.Status(y.Status)) - verify.Rank(verify.Status(x.Status)); c != 0 {
			return c
		}
		return byKind(x, y)
	})
	slices.SortStableFunc(verified, byKind)
	return problems, verified
}

func kindRank(k string) int {
	switch k {
	case "binary":
		return 0
	case "tarball":
		return 1
	case "image":
		return 2
	}
	return 3
}

// writeIncidents lists the known incidents that concern an artifact with
// a problem: they may explain it.
func writeIncidents(w io.Writer, r *Report, problems []Artifact, o TableOptions) {
	concerned := map[string]bool{}
	for _, a := range problems {
		if a.Status == StatusError {
			continue // a network error is never an incident's doing
		}
		for _, id := range a.Incidents {
			concerned[a.Release+" "+id] = true
		}
	}
	// Each incident once, with the releases it concerns here when the
	// report has several.
	var order []Incident
	releases := map[string][]string{}
	for _, in := range r.Incidents {
		if !concerned[in.Release+" "+in.ID] {
			continue
		}
		if _, seen := releases[in.ID]; !seen {
			order = append(order, in)
		}
		releases[in.ID] = append(releases[in.ID], in.Release)
	}
	if len(order) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Known signing incidents that may explain these problems:")
	for _, in := range order {
		id := in.ID
		if len(r.Releases) > 1 {
			id += " (" + strings.Join(releases[in.ID], ", ") + ")"
		}
		fmt.Fprintf(w, "  %s: %s (%s)\n", id, oneLine(in.Summary), in.Source)
	}
	if id := acceptable(r, problems); o.AcceptHint != "" && id != "" {
		writeWrapped(w, fmt.Sprintf(o.AcceptHint, id), o.Width, 2)
	}
}

// acceptable returns the first known incident whose acceptance would
// change a verdict of problems ("" if none): accepting an incident accepts
// the identities it documents in place of the expected one, so it turns
// only a verdict failed on the signer's identity, and only when the
// incident names identities. An unsigned or missing artifact, or one
// failed on anything else, stays what it is.
func acceptable(r *Report, problems []Artifact) string {
	turns := map[string]bool{} // release and incident of an identity failure
	for _, a := range problems {
		if a.Status == StatusFailed && a.FailedCheck == string(sigverify.CheckIdentity) {
			for _, id := range a.Incidents {
				turns[a.Release+" "+id] = true
			}
		}
	}
	for _, in := range r.Incidents {
		if len(in.Identities) > 0 && turns[in.Release+" "+in.ID] {
			return in.ID
		}
	}
	return ""
}

func detail(a Artifact) string {
	d := a.Reason
	if a.Status == StatusFailed || a.Status == StatusUnsigned {
		for _, id := range a.Incidents {
			d += " [known incident: " + id + "]"
		}
	}
	return oneLine(d)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// statusMark is a status as the table shows it.
func statusMark(s Status) string { return string(s) }

// ANSI colours of statuses.
var colors = map[Status]string{
	StatusVerified: "\x1b[32m",
	StatusFailed:   "\x1b[1;31m",
	StatusUnsigned: "\x1b[33m",
	StatusMissing:  "\x1b[33m",
	StatusError:    "\x1b[35m",
}

// writeMatrix writes the history matrix of a multi-release report: per
// release and kind, how many artifacts verified, and what else.
func writeMatrix(w io.Writer, r *Report) {
	cells := map[string]map[string]*matrixCount{}
	kinds := []string{}
	for _, a := range r.Artifacts {
		if cells[a.Release] == nil {
			cells[a.Release] = map[string]*matrixCount{}
		}
		c := cells[a.Release][a.Kind]
		if c == nil {
			c = &matrixCount{}
			cells[a.Release][a.Kind] = c
		}
		c.add(a.Status)
		if a.Status != "verified" {
			for _, id := range a.Incidents {
				if !slices.Contains(c.incidents, id) {
					c.incidents = append(c.incidents, id)
				}
			}
		}
		if !slices.Contains(kinds, a.Kind) {
			kinds = append(kinds, a.Kind)
		}
	}
	slices.SortFunc(kinds, func(x, y string) int { return kindRank(x) - kindRank(y) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\t"+strings.ToUpper(strings.Join(pluralKinds(kinds), "\t")))
	for _, rel := range r.Releases {
		row := []string{rel.Version}
		for _, k := range kinds {
			row = append(row, matrixCell(cells[rel.Version][k]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}

func pluralKinds(kinds []string) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, artifacts.Kind(k).Plural())
	}
	return out
}

// matrixCount counts one release's artifacts of one kind, and the known
// incidents that concern those not verified.
type matrixCount struct {
	Summary
	incidents []string
}

// matrixCell says "30 verified", "25 verified, 5 unsigned", or
// "30 failed (incident v1.24.8-wrong-identity)".
func matrixCell(c *matrixCount) string {
	if c == nil || c.Total == 0 {
		return "-"
	}
	s := &c.Summary
	var parts []string
	for _, p := range []struct {
		n    int
		name string
	}{{s.Verified, "verified"}, {s.Failed, "failed"}, {s.Unsigned, "unsigned"}, {s.Missing, "missing"}, {s.Error, "error"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.name))
		}
	}
	out := strings.Join(parts, ", ")
	if len(c.incidents) > 0 {
		slices.Sort(c.incidents)
		out += " (incident " + strings.Join(c.incidents, ", ") + ")"
	}
	return out
}

// WriteMirrorList writes one digest-pinned reference per verified image,
// e.g. registry.k8s.io/kube-apiserver:v1.24.17@sha256:…, followed by the
// references of its signatures that verified — cosign .sig tags
// (registry.k8s.io/kube-apiserver:sha256-….sig, in every repository the
// signature was found in) and referrers (…@sha256:…) — and nothing for any
// other verdict: everything a copy of the image needs to verify where it
// is copied. A multi-arch index is listed only when every verdict on its
// image (the index and each platform) of its release is verified, and
// never for a selection of platforms: copying an index copies every
// platform it lists, and mirror copies none then (audit.MirrorsIndexes).
func WriteMirrorList(w io.Writer, r *Report) error {
	incomplete := map[string]bool{}
	for _, a := range r.Artifacts {
		if a.Kind == "image" && a.Status != StatusVerified {
			incomplete[a.Release+" "+a.Name] = true
		}
	}
	var listed []Artifact
	repos := map[string]bool{} // the repositories images are listed in
	for _, a := range r.Artifacts {
		if a.Kind != "image" || a.Status != StatusVerified || a.Digest == "" {
			continue
		}
		if a.Platform == "" && (incomplete[a.Release+" "+a.Name] || a.noMirror) {
			continue
		}
		listed = append(listed, a)
		repos[imageRepository(a.Location)] = true
	}
	for _, a := range listed {
		ref := a.Location
		if i := strings.Index(ref, "@"); i >= 0 {
			ref = ref[:i]
		}
		lines := []string{ref + "@" + a.Digest}
		for _, s := range a.Signatures {
			if !s.Verified {
				continue
			}
			for _, sr := range s.References {
				// A signature in a repository no image is listed in (a
				// platform's in its index's, the index not listed) is
				// of no use there.
				if repos[imageRepository(sr)] && !slices.Contains(lines, sr) {
					lines = append(lines, sr)
				}
			}
		}
		for _, l := range lines {
			if _, err := fmt.Fprintln(w, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// imageRepository is the repository of a reference
// (registry/name[:tag][@digest]).
func imageRepository(ref string) string {
	repo, _, _ := artifacts.SplitImageReference(ref)
	return repo
}
