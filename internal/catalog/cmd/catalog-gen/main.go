// Command catalog-gen writes a release line's catalog file for k8sverify
// (pkg/artifacts/catalog/v1.X.json) from the public documents that publish
// its facts, each read from a file or an https URL:
//
//	catalog-gen -line 1.36 -base pkg/artifacts/catalog/v1.36.json \
//	  -changelog https://raw.githubusercontent.com/kubernetes/kubernetes/master/CHANGELOG/CHANGELOG-1.36.md \
//	  -images https://raw.githubusercontent.com/kubernetes/k8s.io/main/registry.k8s.io/images/k8s-staging-kubernetes/images.yaml \
//	  -releases https://raw.githubusercontent.com/endoflife-date/release-data/main/releases/kubernetes.json \
//	  -o pkg/artifacts/catalog/v1.36.json
//
// The base file holds what no document gives in a form to parse: the
// line's layout, its sources, signing history and incidents; for a new
// line, name the previous line's file as the base and review the result.
// Omit an input to leave that data of the base as it is. What was not
// found is reported on stderr.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/k8sverify/k8sverify/internal/catalog"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "catalog-gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("catalog-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	line := fs.String("line", "", "the release line, e.g. 1.36 (required)")
	base := fs.String("base", "", "the catalog file to start from (required): the line's, or the previous line's for a new line")
	changelog := fs.String("changelog", "", "CHANGELOG-1.X.md of kubernetes/kubernetes (file or URL)")
	images := fs.String("images", "", "images.yaml of the image promoter, kubernetes/k8s.io (file or URL)")
	releases := fs.String("releases", "", "releases/kubernetes.json of endoflife-date/release-data (file or URL)")
	schedule := fs.String("schedule", "", "data/releases/schedule.yaml of kubernetes/website (file or URL): target dates, to cross-check")
	out := fs.String("o", "", "where to write the catalog file (default: stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *line == "" || *base == "" {
		fs.Usage()
		return fmt.Errorf("-line and -base are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	baseData, err := read(ctx, *base)
	if err != nil {
		return err
	}
	f, err := catalog.ReadFile(baseData)
	if err != nil {
		return fmt.Errorf("%s: %w", *base, err)
	}
	in, err := inputs(ctx, *changelog, *images, *releases, *schedule)
	if err != nil {
		return err
	}
	g, warnings, err := catalog.Generate(f, *line, in)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	data, err := g.Marshal()
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(data)
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

// inputs reads and parses the documents named (an empty name: none).
func inputs(ctx context.Context, changelog, images, releases, schedule string) (catalog.Inputs, error) {
	var in catalog.Inputs
	parse := func(name string, p func(io.Reader) error) error {
		if name == "" {
			return nil
		}
		data, err := read(ctx, name)
		if err != nil {
			return err
		}
		if err := p(bytes.NewReader(data)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if err := parse(changelog, func(r io.Reader) (err error) { in.Changelog, err = catalog.ParseChangelog(r); return }); err != nil {
		return in, err
	}
	if err := parse(images, func(r io.Reader) (err error) { in.Images, err = catalog.ParsePromoterManifest(r); return }); err != nil {
		return in, err
	}
	if err := parse(releases, func(r io.Reader) (err error) { in.Dates, err = catalog.ParseReleaseDates(r); return }); err != nil {
		return in, err
	}
	if err := parse(schedule, func(r io.Reader) (err error) { in.Targets, err = catalog.ParseSchedule(r); return }); err != nil {
		return in, err
	}
	return in, nil
}

// maxInput bounds a document read (images.yaml is a few MiB).
const maxInput = 256 << 20

// read reads a file, or an https URL.
func read(ctx context.Context, name string) ([]byte, error) {
	if !strings.HasPrefix(name, "https://") {
		return os.ReadFile(name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, name, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", name, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("get %s: larger than %d MiB", name, maxInput>>20)
	}
	return data, nil
}
