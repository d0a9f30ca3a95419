package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/k8sverify/k8sverify/pkg/report"
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
}

func (o *outputs) addFlag(f *pflag.FlagSet, allowed []string) {
	o.allowed = allowed
	f.StringArrayVarP(&o.specs, "output", "o", nil, "output format "+strings.Join(allowed, "|")+", optionally =FILE (repeatable; default table)")
}

// parse checks the outputs before anything is fetched.
func (o *outputs) parse() ([]output, error) {
	if len(o.specs) == 0 {
		return []output{{format: "table"}}, nil
	}
	var out []output
	toStdout := 0
	for _, s := range o.specs {
		format, file, _ := strings.Cut(s, "=")
		if !slices.Contains(o.allowed, format) {
			return nil, usageErrorf("-o %q: want one of %s, optionally =FILE", s, strings.Join(o.allowed, ", "))
		}
		if file == "" {
			toStdout++
		} else if err := checkWritable(file); err != nil {
			return nil, usageErrorf("-o %s: %v", s, err)
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
	interrupted := rep.Kind == report.KindVerification && errors.Is(context.Cause(ctx), context.Canceled)
	if interrupted {
		rep.MarkInterrupted()
	}
	tableOnStdout := false
	for _, out := range outs {
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
	if rep.Caused(transport.ErrInsecureURL) {
		fmt.Fprintln(stderr, "k8sverify: a registry answers only on plain http: if it is yours, allow it with --allow-http-registry")
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

// checkWritable tells, before any work, whether a report can be written
// at path: its directory takes a new file, and path is no directory.
func checkWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".k8sverify-report-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// writeFile writes a file atomically: a temporary file beside it, renamed
// into place once complete, readable by others as reports are shared (CI
// uploaders).
func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".k8sverify-report-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
