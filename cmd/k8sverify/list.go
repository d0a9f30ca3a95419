package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// listOptions are the flags of `k8sverify list`.
type listOptions struct {
	selection
	output  string
	offline bool
}

func newListCmd(g *globalOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list VERSION",
		Short: "List a release's artifacts, where each lives and who must have signed it",
		Long: `List the binaries, tarballs and container images of a Kubernetes release:
where each is published, the identity that must have signed it, whether a
signature is expected for this release, and the release's known signing
incidents with their public sources.

VERSION is v1.24.17, 1.24.17 or latest-1.24 (read from stable-1.24.txt on the
download site). Online, the release SBOM is read and compared with the
embedded catalog; with --offline only the catalog is used. The catalog covers
` + artifacts.CatalogCoverage() + `.`,
		Example: `  k8sverify list v1.24.17 --offline
  k8sverify list latest-1.24 --kind image -o json
  k8sverify list 1.24.0 --kind binary --platform linux/amd64 --platform windows/amd64`,
		Args: oneVersion("list"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), g, o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.addFlags(f, "list")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.BoolVar(&o.offline, "offline", false, "use only the embedded catalog, no network")
	return cmd
}

func runList(ctx context.Context, g *globalOptions, o *listOptions, version string, stdout, stderr io.Writer) error {
	if err := checkFormat(o.output, "table", "json"); err != nil {
		return err
	}
	kinds, platforms, err := o.parse()
	if err != nil {
		return err
	}
	listing, err := loadRelease(ctx, g, version, o.offline)
	if err != nil {
		return err
	}
	rel := listing.Release.Filter(kinds, platforms)
	if err := checkSelection(listing.Release, rel, kinds, platforms); err != nil {
		return err
	}
	for _, w := range listing.Warnings {
		fmt.Fprintf(stderr, "WARNING: %s\n", w)
	}
	diffs := selectDifferences(listing.Differences, rel)
	reportDifferences(stderr, diffs)
	if o.output == "json" {
		return report.WriteReleaseJSON(stdout, rel, diffs, listing.Warnings)
	}
	return report.WriteReleaseTable(stdout, rel)
}

// checkVersion rejects a malformed VERSION before anything else happens.
func checkVersion(s string) error {
	if _, ok := artifacts.ParseLatest(s); ok {
		return nil
	}
	if _, err := artifacts.ParseVersion(s); err != nil {
		return usageError(err)
	}
	return nil
}

// loadRelease resolves VERSION and lists the release: from the embedded
// catalog offline; online from the release SBOM and the catalog.
func loadRelease(ctx context.Context, g *globalOptions, version string, offline bool) (*artifacts.ReleaseListing, error) {
	var open artifacts.Opener
	if !offline {
		open = g.httpClient()
	}
	v, err := artifacts.ResolveVersion(ctx, version, g.endpoints.DownloadURL, open)
	if err != nil {
		return nil, listError(err)
	}
	listing, err := artifacts.LoadRelease(ctx, artifacts.ReleaseRequest{
		Version:   v,
		Locations: artifacts.Locations{DownloadURL: g.endpoints.DownloadURL, Registry: g.endpoints.Registry},
		SBOMURL:   g.endpoints.SBOMURL,
		Open:      open,
	})
	if err != nil {
		return nil, listError(err)
	}
	return listing, nil
}

// listError gives an error of listing its exit code: what the user asked
// for does not exist or needs the network (2), or it could not be had (3).
func listError(err error) error {
	switch {
	case errors.Is(err, artifacts.ErrMalformedVersion), errors.Is(err, artifacts.ErrUnknownVersion):
		return usageError(err)
	case errors.Is(err, artifacts.ErrNeedsNetwork):
		return usageErrorf("%v; with --offline name the version (the embedded catalog covers %s)", err, artifacts.CatalogCoverage())
	case errors.Is(err, evidence.ErrNotFound):
		return usageErrorf("no such release: %v", err)
	}
	return &exitError{code: ExitIncomplete, err: err}
}

// checkSelection refuses a selection that matches nothing: an empty list is
// never presented as a result.
func checkSelection(all, selected *artifacts.Release, kinds []artifacts.Kind, platforms []artifacts.Platform) error {
	kindNames := func() string {
		if len(kinds) == 0 {
			return "artifacts"
		}
		var s []string
		for _, k := range kinds {
			s = append(s, string(k)+"s")
		}
		return strings.Join(s, " or ")
	}
	have := all.Platforms(kinds...)
	for _, p := range platforms {
		found := false
		for _, a := range selected.Artifacts {
			if a.Platform == p {
				found = true
				break
			}
		}
		if !found {
			return usageErrorf("%s publishes no %s for %s; it has them for: %s", all.Version, kindNames(), p, platformList(have))
		}
	}
	if len(selected.Artifacts) == 0 {
		return usageErrorf("%s publishes no %s", all.Version, kindNames())
	}
	return nil
}

func platformList(ps []artifacts.Platform) string {
	if len(ps) == 0 {
		return "no platform"
	}
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// selectDifferences keeps the differences about selected artifacts (the
// listed release is the union of SBOM and catalog, so every difference is
// one of its artifacts).
func selectDifferences(diffs []artifacts.Difference, selected *artifacts.Release) []artifacts.Difference {
	ids := map[string]bool{}
	for _, a := range selected.Artifacts {
		ids[a.ID()] = true
	}
	var out []artifacts.Difference
	for _, d := range diffs {
		if ids[d.Artifact.ID()] {
			out = append(out, d)
		}
	}
	return out
}

// maxDifferencesShown bounds the differences printed on stderr; JSON has all.
const maxDifferencesShown = 20

func reportDifferences(w io.Writer, diffs []artifacts.Difference) {
	if len(diffs) == 0 {
		return
	}
	what := "artifacts"
	if len(diffs) == 1 {
		what = "artifact"
	}
	fmt.Fprintf(w, "WARNING: the release SBOM and the embedded catalog disagree on %d %s (both are listed):\n", len(diffs), what)
	for i, d := range diffs {
		if i == maxDifferencesShown {
			fmt.Fprintf(w, "WARNING:   … and %d more (see -o json, \"differences\")\n", len(diffs)-i)
			break
		}
		fmt.Fprintf(w, "WARNING:   %s\n", d)
	}
}
