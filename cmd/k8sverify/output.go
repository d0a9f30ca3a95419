package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// outputs is -o FORMAT[=FILE], repeatable: one run, several reports.
// Without =FILE a report goes to stdout; at most one may.
type outputs struct {
	specs   []string
	allowed []string
}

type output struct {
	format, file string
	// toStderr: FILE named the process's standard error, written
	// through its stream (a reopened /dev/stderr has a position of its
	// own, and the run's own lines would overwrite the report).
	toStderr bool
}

func (o *outputs) addFlag(f *pflag.FlagSet, allowed []string) {
	o.allowed = allowed
	f.StringArrayVarP(&o.specs, "output", "o", nil, "output format "+strings.Join(allowed, "|")+", optionally =FILE (repeatable; default table)")
}

// parse checks the outputs before anything is fetched; inputs are the
// files and directories the run reads, which no report may replace.
func (o *outputs) parse(inputs ...string) ([]output, error) {
	if len(o.specs) == 0 {
		return []output{{format: "table"}}, nil
	}
	var out []output
	toStdout := 0
	var files []output
	for _, s := range o.specs {
		format, file, named := strings.Cut(s, "=")
		if !slices.Contains(o.allowed, format) {
			return nil, usageErrorf("-o %q: want one of %s, optionally =FILE", s, strings.Join(o.allowed, ", "))
		}
		switch {
		case named && file == "":
			return nil, usageErrorf("-o %s: no file named after '='", s)
		case file == "" || stdStream(file) == 1:
			file = ""
			toStdout++
		case stdStream(file) == 2:
			out = append(out, output{format: format, toStderr: true})
			continue
		default:
			if err := checkWritable(file); err != nil {
				return nil, usageErrorf("-o %s: %v", s, err)
			}
			if err := checkNotInput(file, inputs); err != nil {
				return nil, usageErrorf("-o %s: %v", s, err)
			}
			for _, prev := range files {
				if sameFile(prev.file, file) {
					return nil, usageErrorf("-o %s: %s is also named by -o %s=%s; one file holds one report", s, file, prev.format, prev.file)
				}
			}
			files = append(files, output{format: format, file: file})
		}
		out = append(out, output{format: format, file: file})
	}
	if toStdout > 1 {
		return nil, usageErrorf("-o: only one report can go to stdout; name a file for the others (-o json=report.json)")
	}
	return out, nil
}

// write renders rep in every output; a file is written whole or not at
// all. The summary goes to stderr when no table is on stdout (unless
// quiet). It returns the error carrying the report's exit code.
func (o *outputs) write(ctx context.Context, g *globalOptions, stdout, stderr io.Writer, rep *report.Report, outs []output) error {
	if rep.Catalog == nil {
		rep.Catalog = g.catalogUsed
	}
	if g.sess != nil {
		g.sess.CloseIdleConnections() // the report files need descriptors
	}
	interrupted := rep.Kind == report.KindVerification && errors.Is(context.Cause(ctx), context.Canceled)
	if interrupted {
		rep.MarkInterrupted()
	}
	tableOnStdout := false
	for _, out := range outs {
		if out.toStderr {
			if err := report.Write(stderr, rep, out.format, tableOptions(g, true, stderr)); err != nil {
				return &exitError{code: ExitIncomplete, err: fmt.Errorf("write report: %w", err)}
			}
			continue
		}
		opts := tableOptions(g, out.file == "", stdout)
		if out.file == "" {
			tableOnStdout = tableOnStdout || out.format == "table"
			if err := report.Write(stdout, rep, out.format, opts); err != nil {
				return &exitError{code: ExitIncomplete, err: fmt.Errorf("write report: %w", err)}
			}
			continue
		}
		if err := writeFile(out.file, func(w io.Writer) error { return report.Write(w, rep, out.format, opts) }); err != nil {
			return usageError(fmt.Errorf("write report %s: %w", out.file, err))
		}
	}
	if !tableOnStdout && !g.quiet && rep.Summary != nil {
		report.WriteSummary(stderr, rep, tableOptions(g, true, stderr))
	}
	if rep.Caused(transport.ErrInsecureURL) || rep.Caused(transport.ErrPlainHTTPServer) {
		fmt.Fprintln(stderr, "k8sverify: a registry answers only on plain http: if it is yours, allow it with --allow-http-registry")
	}
	if rep.Caused(sigverify.ErrNoTrust) {
		fmt.Fprintln(stderr, "k8sverify: "+adviceFor(sigverify.ErrNoTrust, g))
	}
	if interrupted {
		return &exitError{code: ExitInterrupted}
	}
	return verdictsError(rep)
}

// tableOptions fit the table to a terminal on stdout.
func tableOptions(g *globalOptions, toStdout bool, stdout io.Writer) report.TableOptions {
	o := report.TableOptions{ProblemsOnly: g.quiet, All: g.all || g.debug, ExpandHint: "--all lists each",
		AcceptHint: "If one explains a problem and you accept what it describes: --accept-incident %s (reported as accepted, with the incident named).",
		Advice: map[report.GapKind]string{
			report.GapServedFiles: g.servedFilesAdvice(),
			report.GapInterrupted: "run again to check them",
		}}
	if toStdout {
		if t := terminalOf(stdout); t != nil {
			o.Width, o.Color = t.width, t.color
		}
	}
	return o
}
