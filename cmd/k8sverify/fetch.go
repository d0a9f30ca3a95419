package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/evidence"
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
signature, the signed payloads of image signatures, and the signed TUF
metadata of the Sigstore trusted root. Carry DIR across and run
'k8sverify verify VERSION --offline --evidence DIR' there.

Nothing is verified while fetching. Every file is written atomically and
manifest.json last: an interrupted fetch leaves a pack that verify reports as
incomplete, never one that passes.`,
		Example: `  k8sverify fetch v1.24.17 --out ./pack
  k8sverify fetch v1.24.17 --out ./pack --kind binary --platform linux/amd64 --with-files`,
		Args: oneVersion("fetch"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFetch(cmd.Context(), g, o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory of the evidence pack (required)")
	o.addFlags(f, "fetch")
	f.BoolVar(&o.withFiles, "with-files", false, "also store the release files in the pack")
	f.BoolVar(&o.withImages, "with-images", false, "also store the images as an OCI image layout (oci/ in the pack)")
	return cmd
}

func runFetch(ctx context.Context, g *globalOptions, o *fetchOptions, ver string, stdout, stderr io.Writer) error {
	if o.out == "" {
		return usageErrorf("fetch needs --out DIR")
	}
	kinds, platforms, err := o.parse()
	if err != nil {
		return err
	}
	if err := checkVersion(ver); err != nil {
		return err
	}
	listing, err := loadRelease(ctx, g, ver, false)
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
	fo := audit.FetchOptions{Tool: "k8sverify " + version, WithFiles: o.withFiles, WithImages: o.withImages}
	if g.trustedRoot == "" || g.tufURL != "" {
		src, err := g.tufSource()
		if err != nil {
			return err
		}
		fo.TUF = &src
	} else {
		fmt.Fprintln(stderr, "WARNING: --trusted-root is set and no --tuf-url: the pack carries no TUF metadata; verify it offline with --trusted-root")
	}
	pw, err := evidence.CreatePack(o.out)
	if err != nil {
		return usageError(err)
	}
	defer pw.Close()
	a := &audit.Auditor{Fetcher: newFetcher(g), Concurrency: g.concurrency}
	m, ferr := a.Fetch(ctx, rel, pw, fo)
	counts := map[string]int{}
	for _, e := range m.Artifacts {
		counts[e.State]++
	}
	tuf := "no TUF metadata"
	if m.TUF != "" {
		tuf = "TUF metadata of the trusted root"
	}
	state := "complete"
	if !m.Complete {
		state = "INCOMPLETE"
	}
	fmt.Fprintf(stdout, "evidence pack %s (%s): %s, %d artifacts: %d signed, %d unsigned, %d missing, %d error; %s\n",
		o.out, state, rel.Version, len(m.Artifacts), counts[evidence.StateSigned], counts[evidence.StateUnsigned],
		counts[evidence.StateMissing], counts[evidence.StateError], tuf)
	if ferr != nil {
		return &exitError{code: ExitIncomplete, err: ferr}
	}
	return nil
}
