package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// listOptions are the flags of `k8sverify list`.
type listOptions struct {
	selection
	outputs
	offline bool
}

func newListCmd(g *globalOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list VERSION",
		Short: "List a release's artifacts, where each lives and who must have signed it",
		Long: `List the binaries, tarballs and container images of a Kubernetes release:
where each is published, the identity that must have signed it, whether a
signature is expected for this release, the checksums its CHANGELOG publishes,
and the release's known signing incidents with their public sources.

VERSION is v1.24.17, 1.24.17 or latest-1.24 (read from stable-1.24.txt on the
download site). Online, the release SBOM is read and compared with the
embedded catalog; with --offline only the catalog is used. The catalog covers
` + artifacts.CatalogCoverage() + `.`,
		Example: `  k8sverify list v1.24.17 --offline
  k8sverify list latest-1.24 --kind image -o json
  k8sverify list 1.24.0 --kind binary --platform linux/amd64 --platform windows/amd64`,
		Args:              versionArgs("list", false),
		ValidArgsFunction: completeVersions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	o.selection.addFlags(f, "list")
	o.outputs.addFlag(f, report.ListingFormats)
	f.BoolVar(&o.offline, "offline", false, "use only the release catalog (the embedded one, or --catalog), no network")
	registerCompletions(cmd, report.ListingFormats)
	return cmd
}

func runList(cmd *cobra.Command, g *globalOptions, o *listOptions, version string) error {
	outs, err := o.outputs.parse(g.inputs()...)
	if err != nil {
		return err
	}
	sel, err := o.selection.parse()
	if err != nil {
		return err
	}
	sel.NeverSigned = true
	s, err := g.session(runMode{offline: o.offline})
	if err != nil {
		return err
	}
	defer s.Close()
	listing, err := s.LoadRelease(cmd.Context(), version, sel)
	if err != nil {
		return commandError(err)
	}
	printWarnings(cmd.ErrOrStderr(), listing.Warnings)
	reportDifferences(cmd.ErrOrStderr(), listing.Differences, g.catalogOf.Name())
	rep := report.NewListing(buildInfo().tool(), time.Now(), listing.Release, listing.Differences, listing.Warnings)
	return o.outputs.write(cmd.Context(), g, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, outs)
}

// maxDifferencesShown bounds the differences printed on stderr; JSON has all.
const maxDifferencesShown = 20

func reportDifferences(w io.Writer, diffs []artifacts.Difference, catalog string) {
	if len(diffs) == 0 {
		return
	}
	what := "artifacts"
	if len(diffs) == 1 {
		what = "artifact"
	}
	fmt.Fprintf(w, "WARNING: the release SBOM and the %s disagree on %d %s (both are listed):\n", catalog, len(diffs), what)
	for i, d := range diffs {
		if i == maxDifferencesShown {
			fmt.Fprintf(w, "WARNING:   … and %d more (see -o json, \"differences\")\n", len(diffs)-i)
			break
		}
		fmt.Fprintf(w, "WARNING:   %s\n", d)
	}
}
