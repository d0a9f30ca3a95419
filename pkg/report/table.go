package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// WriteTable writes the verification table: problems first, grouped by
// kind, then the artifacts in expected states (one line per group unless
// o.All), then the verified artifacts; the known incidents of the releases
// that concern a problem; the summary, what the verdicts cover, and what
// was not checked, last. A reason is never cut: one that does not fit
// beside its row on a terminal of o.Width columns is wrapped under it.
func WriteTable(w io.Writer, r *Report, o TableOptions) error {
	ew := &listWriter{w: w}
	writeCatalog(ew, r.Catalog, o.Width)
	multi := len(r.Releases) > 1
	if multi {
		writeMatrix(ew, r)
	}
	problems, verified := split(r.Artifacts)
	problems, collapsed := collapse(problems, o)
	rows := make([]tableRow, 0, len(problems)+len(collapsed)+len(verified))
	for _, a := range problems {
		rows = append(rows, artifactRow(a))
	}
	rows = append(rows, collapsed...)
	if !o.ProblemsOnly {
		for _, a := range verified {
			rows = append(rows, artifactRow(a))
		}
	}
	if len(rows) > 0 {
		// The cells are made safe (Safe) as rows are built; what writeRows
		// adds (padding, colour) goes out as it is.
		writeRows(safeWriter{ew}, rows, len(problems)+len(collapsed), multi, o)
	}
	writeIncidents(ew, r, problems, o)
	if len(rows) > 0 || len(r.Incidents) > 0 {
		fmt.Fprintln(ew)
	}
	WriteSummary(ew, r, o)
	return ew.err
}

// WriteSummary writes the summary line, what the verified artifacts'
// verdicts cover, and what was not checked with how to check it, each
// wrapped to o.Width.
func WriteSummary(w io.Writer, r *Report, o TableOptions) {
	if r.Summary == nil {
		return
	}
	if r.Interrupted {
		fmt.Fprintln(w, "INTERRUPTED: these verdicts are those reached before the interrupt.")
	}
	if line := resolvedLine(r.Releases); line != "" {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, r.Summary)
	if line := coverageLine(r.Artifacts); line != "" {
		writeWrapped(w, line, o.Width, 2)
	}
	for _, g := range r.NotChecked {
		line := "Not checked: " + g.Description
		if advice := o.Advice[g.Kind]; advice != "" {
			line += "; " + advice
		}
		writeWrapped(w, line+".", o.Width, 2)
	}
}

// resolvedLine says which release each alias of the run resolved to
// ("latest-1.24 = v1.24.17"), "" when none was asked for by an alias.
func resolvedLine(rels []Release) string {
	var parts []string
	for _, rel := range rels {
		if rel.Requested != "" {
			parts = append(parts, Safe(rel.Requested)+" = "+rel.Version)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Resolved: " + strings.Join(parts, ", ") + "."
}

// coverageLine says what the verified artifacts' verdicts are about.
func coverageLine(as []Artifact) string {
	counts := map[Covers]int{}
	for _, a := range as {
		if a.Status == StatusVerified && a.Covers != "" {
			counts[a.Covers]++
		}
	}
	var parts []string
	for _, c := range []struct {
		covers    Covers
		one, many string
	}{
		{CoversPublishedDigest, "%d by its published digest (file not downloaded)", "%d by their published digest (files not downloaded)"},
		{CoversDownloadedFile, "%d downloaded file", "%d downloaded files"},
		{CoversLocalFile, "%d file on disk", "%d files on disk"},
		{CoversManifest, "%d image manifest as served", "%d image manifests as served"},
		{CoversGivenDigest, "%d given digest", "%d given digests"},
	} {
		if n := counts[c.covers]; n > 0 {
			parts = append(parts, fmt.Sprintf(plural(n, c.one, c.many), n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Verified: " + strings.Join(parts, ", ") + "."
}

// tableRow is one line of the table and the reason that goes with it.
type tableRow struct {
	release, kind, name, platform, status, covers string
	detail                                        string
}

func artifactRow(a Artifact) tableRow {
	return tableRow{release: Safe(a.Release), kind: Safe(a.Kind), name: Safe(a.Name), platform: Safe(platformCell(a)), status: statusMark(a.Status),
		covers: a.Covers.Text(), detail: Safe(detail(a))}
}

// expected tells the artifacts whose state is expected: unsigned as the
// release's history documents, or never judged after an interrupt.
func expected(a Artifact) bool {
	switch a.Status {
	case StatusNotChecked:
		return true
	case StatusUnsigned:
		s := artifacts.Signing(a.Signing)
		return (s == artifacts.SigningNotExpected || s == artifacts.SigningNever) && len(a.Incidents) == 0
	}
	return false
}

// collapse takes the artifacts in expected states out of problems and
// makes one row of each group (release, kind, status, reason) of them,
// unless o.All.
func collapse(problems []Artifact, o TableOptions) ([]Artifact, []tableRow) {
	if o.All {
		return problems, nil
	}
	var rest []Artifact
	var rows []tableRow
	index := map[[4]string]int{}
	counts := []int{}
	for _, a := range problems {
		if !expected(a) {
			rest = append(rest, a)
			continue
		}
		k := [4]string{a.Release, a.Kind, string(a.Status), a.Reason}
		i, ok := index[k]
		if !ok {
			i = len(rows)
			index[k] = i
			rows = append(rows, tableRow{release: Safe(a.Release), kind: Safe(a.Kind), platform: "-", status: statusMark(a.Status), covers: "-", detail: Safe(oneLine(a.Reason))})
			counts = append(counts, 0)
		}
		counts[i]++
	}
	for i := range rows {
		rows[i].name = fmt.Sprintf("(%d %s)", counts[i], plural(counts[i], rows[i].kind, artifacts.Kind(rows[i].kind).Plural()))
		if o.ExpandHint != "" && counts[i] > 1 {
			rows[i].detail += " [" + o.ExpandHint + "]"
		}
	}
	return rest, rows
}

// writeRows writes the rows under a header, a blank line after the first
// nProblems. Columns are padded to their widest cell; the reason follows
// on the row's line when it fits in width, else it is wrapped, whole
// words, under the row: aligned with the reason column when that leaves
// room, indented by four otherwise.
func writeRows(w io.Writer, rows []tableRow, nProblems int, multi bool, o TableOptions) {
	header := tableRow{release: "RELEASE", kind: "KIND", name: "NAME", platform: "PLATFORM", status: "STATUS", covers: "COVERS", detail: "DETAIL"}
	cellsOf := func(r tableRow) []string {
		c := []string{r.kind, r.name, r.platform, r.status, r.covers}
		if multi {
			c = append([]string{r.release}, c...)
		}
		return c
	}
	all := append([]tableRow{header}, rows...)
	widths := make([]int, len(cellsOf(header)))
	for _, r := range all {
		for i, c := range cellsOf(r) {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	detailCol := 0
	for _, n := range widths {
		detailCol += n + 2
	}
	// On a narrow terminal the columns are not padded: each row is as
	// short as it can be, its reason under it.
	aligned := o.Width == 0 || detailCol+20 <= o.Width
	for i, r := range all {
		if i == nProblems+1 && nProblems > 0 && i < len(all) {
			fmt.Fprintln(w)
		}
		var b strings.Builder
		for j, c := range cellsOf(r) {
			cell := c
			if aligned {
				cell += strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c))
			}
			if j == statusColumn(multi) && o.Color && i > 0 {
				cell = colorize(cell, r.status)
			}
			b.WriteString(cell)
			if aligned {
				b.WriteString("  ")
			} else {
				b.WriteString(" ")
			}
		}
		prefix := b.String()
		writeRow(w, prefix, r.detail, o.Width, aligned, detailCol)
	}
}

func statusColumn(multi bool) int {
	if multi {
		return 4
	}
	return 3
}

// writeRow writes a row's cells and its reason, wrapped to width.
func writeRow(w io.Writer, prefix, detail string, width int, aligned bool, detailCol int) {
	visible := utf8.RuneCountInString(stripANSI(prefix))
	if detail == "" {
		fmt.Fprintln(w, strings.TrimRight(prefix, " "))
		return
	}
	if width == 0 || visible+utf8.RuneCountInString(detail) <= width {
		fmt.Fprintln(w, prefix+detail)
		return
	}
	indent := 4
	if aligned && width-detailCol >= 30 {
		// The reason starts beside the row and continues under itself.
		lines := wrapWords(detail, width-detailCol)
		fmt.Fprintln(w, prefix+lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintln(w, strings.Repeat(" ", detailCol)+l)
		}
		return
	}
	fmt.Fprintln(w, strings.TrimRight(prefix, " "))
	for _, l := range wrapWords(detail, width-indent) {
		fmt.Fprintln(w, strings.Repeat(" ", indent)+l)
	}
}

// writeWrapped writes s wrapped to width (0: one line), continuation
// lines indented.
func writeWrapped(w io.Writer, s string, width, indent int) {
	if width == 0 || utf8.RuneCountInString(s) <= width {
		fmt.Fprintln(w, s)
		return
	}
	lines := wrapWords(s, width-indent)
	fmt.Fprintln(w, lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintln(w, strings.Repeat(" ", indent)+l)
	}
}

// wrapWords breaks s into lines of at most width runes at spaces. A word
// longer than width (an identity, a URL, a digest) is never broken: it
// has a line of its own, whole, for the terminal to fold.
func wrapWords(s string, width int) []string {
	width = max(width, 1)
	var lines []string
	var cur strings.Builder
	n := 0
	for _, word := range strings.Fields(s) {
		wn := utf8.RuneCountInString(word)
		if n > 0 && n+1+wn > width {
			lines = append(lines, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(word)
		n += wn
	}
	if n > 0 || len(lines) == 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// colorize colours a status cell (padded) for a terminal.
func colorize(cell, status string) string {
	c, ok := colors[Status(status)]
	if !ok {
		return cell
	}
	return c + status + "\x1b[0m" + cell[len(status):]
}

// stripANSI removes the colour sequences colorize adds.
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], 'm')
		if j < 0 {
			return b.String()
		}
		s = s[i+j+1:]
	}
}

// safeWriter writes text made safe already (and perhaps coloured) as it is.
type safeWriter struct{ e *listWriter }

func (s safeWriter) Write(p []byte) (int, error) {
	s.e.writeSafe(string(p))
	return len(p), s.e.err
}
