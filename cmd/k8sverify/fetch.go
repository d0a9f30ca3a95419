package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/airgap"
	"github.com/k8sverify/k8sverify/pkg/report"
)

type fetchOptions struct {
	selection
	out        string
	withFiles  bool
	withImages bool
}

func newFetchCmd(g *globalOptions) *cobra.Command {
	o := &fetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch VERSION --out DIR",
		Short: "Write an evidence pack for verification on an air-gapped machine",
		Long: `Fetch the evidence of a release once, on a connected machine, into an
evidence pack: manifest.json, one Sigstore bundle (.sigstore.json) per
signature, the signed payloads of image signatures, the images' manifests and
configurations, and the signed TUF metadata of the Sigstore trusted root.
Carry DIR across and run 'k8sverify verify VERSION --offline --evidence DIR'
there: the same judge decides on the same evidence, so the verdicts are the
ones an online run gives.

Nothing is verified while fetching. Every file is written atomically and
manifest.json last: an interrupted fetch leaves a pack that verify refuses,
never one that passes. Fetching into a pack of the same release adds to it
(what is fetched again replaces what was there); a pack of another release
is refused, and so is a directory that holds other files and no pack.

With --with-images the images themselves are stored as an OCI image layout
(oci/ in the pack), each entry named name:tag (kube-apiserver:v1.24.17,
kube-apiserver-amd64:v1.24.17): 'k8sverify mirror --from-pack DIR' loads them,
with their signatures, into a registry on the air-gapped side.`,
		Example: `  k8sverify fetch v1.24.17 --out ./pack
  k8sverify fetch v1.24.17 --out ./pack --kind binary --platform linux/amd64 --with-files
  k8sverify fetch v1.24.17 --out ./pack --kind image --with-images`,
		Args:              versionArgs("fetch", false),
		ValidArgsFunction: completeVersions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.out == "" {
				return usageErrorf("fetch needs --out DIR")
			}
			if fi, err := os.Stat(o.out); err == nil && !fi.IsDir() {
				return usageErrorf("--out %s is not a directory", o.out)
			}
			sel, err := o.selection.parse()
			if err != nil {
				return err
			}
			req := airgap.Request{Version: args[0], Selection: sel, Out: o.out, WithFiles: o.withFiles, WithImages: o.withImages, Tool: "k8sverify " + buildInfo().Version}
			if g.trustedRoot == "" || g.tufURL != "" {
				src, err := g.tufSource(runMode{})
				if err != nil {
					return err
				}
				req.TUF = &src
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: --trusted-root is set and no --tuf-url: the pack carries no TUF metadata; verify it offline with --trusted-root")
			}
			s, err := g.session(runMode{})
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := airgap.Fetch(cmd.Context(), s, req)
			if err != nil {
				return commandError(err)
			}
			printWarnings(cmd.ErrOrStderr(), res.Warnings)
			return fetchSummary(cmd, o.out, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory of the evidence pack (required)")
	o.selection.addFlags(f, "fetch")
	f.BoolVar(&o.withFiles, "with-files", false, "also store the release files in the pack")
	f.BoolVar(&o.withImages, "with-images", false, "also store the images as an OCI image layout (oci/ in the pack)")
	registerCompletions(cmd, nil)
	return cmd
}

// fetchSummary prints what the pack holds; an incomplete pack exits 3.
func fetchSummary(cmd *cobra.Command, out string, res *airgap.Result) error {
	m := res.Manifest
	var signed, unsigned, missing, failed int
	for _, e := range m.Artifacts {
		switch {
		case e.Unavailable != "":
			failed++
		case e.Missing != "":
			missing++
		case len(e.Signatures) == 0:
			unsigned++
		default:
			signed++
		}
	}
	tuf := "no TUF metadata"
	if m.TUF != "" {
		tuf = "TUF metadata of the trusted root"
	}
	if m.SBOM != "" {
		tuf += "; the release SBOM"
	} else {
		tuf += "; NO release SBOM (offline, release files will be bound to their names by nothing but the download site)"
	}
	state := "complete"
	if !m.Complete {
		state = "INCOMPLETE"
	}
	kept := ""
	if res.Kept > 0 {
		kept = fmt.Sprintf(" (%d kept from an earlier fetch)", res.Kept)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "evidence pack %s (%s): %s, %d artifacts%s: %d with signatures, %d without, %d missing, %d could not be fetched; %s\n",
		report.Safe(out), state, res.Release.Version, len(m.Artifacts), kept, signed, unsigned, missing, failed, tuf)
	if !m.Complete && errors.Is(context.Cause(cmd.Context()), context.Canceled) {
		// Interrupted: one line, not one per artifact cut short.
		fmt.Fprintf(cmd.ErrOrStderr(), "k8sverify: interrupted: %d artifacts' evidence not fetched; the pack is marked incomplete until k8sverify fetch %s --out %s completes it\n",
			failed, res.Release.Version, shellQuote(out))
		return &exitError{code: ExitInterrupted}
	}
	if !m.Complete {
		for _, e := range m.Artifacts {
			if e.Unavailable != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "k8sverify: %s: %s\n", e.Key(), e.Unavailable)
			}
		}
		return &exitError{code: ExitIncomplete}
	}
	return nil
}
