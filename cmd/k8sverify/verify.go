package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/report"
)

type verifyOptions struct {
	selection
	outputs
	download bool
	outDir   string
	offline  bool
	evidence string
	files    string
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify VERSION...",
		Short: "Verify every binary, tarball and image of releases",
		Long: `Verify the artifacts of Kubernetes releases against the release team's
Sigstore signatures: certificate chain to the Fulcio root with embedded SCT,
exact signer identity and OIDC issuer, signature over the artifact digest, the
Rekor transparency-log entry, and that the artifact is the one of this
release and platform (every published digest agrees; an image is the manifest
of its platform; the signature is not older than the previous release).

VERSION is v1.24.17, 1.24.17, latest-1.24, or a line (1.24: every patch
release the catalog knows); several VERSIONs are verified in one run.

Binaries and tarballs are verified WITHOUT downloading them by default: the
release team's signature over the published .sha256 is proved. --download
streams each file and verifies what actually arrived (kept with --out DIR,
only when verified).`,
		Example: `  k8sverify verify v1.24.17
  k8sverify verify 1.24 --kind image
  k8sverify verify v1.24.17 --kind binary,tarball --platform linux/amd64 -o table -o json=report.json
  k8sverify verify v1.24.17 --kind binary --platform linux/amd64 --download --out ./k8s
  k8sverify verify v1.24.17 --offline --evidence ./pack`,
		Args:              versionArgs("verify", true),
		ValidArgsFunction: completeVersions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	o.selection.addFlags(f, "verify")
	o.outputs.addFlag(f, report.Formats)
	f.BoolVar(&g.all, "all", false, "list every artifact in an expected state (unsigned as the release's history documents) one by one, not one line per release and kind")
	f.BoolVar(&o.download, "download", false, "download each binary and tarball and verify what arrived")
	f.StringVar(&o.outDir, "out", "", "with --download: keep verified files below DIR/<version>/")
	f.BoolVar(&o.offline, "offline", false, "verify from an evidence pack, with no network (needs --evidence)")
	f.StringVar(&o.evidence, "evidence", "", "evidence pack directory (written by k8sverify fetch)")
	f.StringVar(&o.files, "files", "", "with --offline: directory of release files to hash and match")
	registerCompletions(cmd, report.Formats)
	return cmd
}

func (o *verifyOptions) request(args []string) (audit.VerifyRequest, error) {
	sel, err := o.selection.parse()
	if err != nil {
		return audit.VerifyRequest{}, err
	}
	switch {
	case (o.evidence != "" || o.files != "") && !o.offline:
		return audit.VerifyRequest{}, usageErrorf("--evidence and --files verify from an evidence pack: they need --offline")
	case o.offline && o.evidence == "":
		return audit.VerifyRequest{}, usageErrorf("--offline needs --evidence DIR (an evidence pack written by k8sverify fetch)")
	case o.offline && (o.download || o.outDir != ""):
		return audit.VerifyRequest{}, usageErrorf("--download and --out need the network; they do not go with --offline")
	case o.outDir != "" && !o.download:
		return audit.VerifyRequest{}, usageErrorf("--out keeps downloaded files: it needs --download")
	}
	for _, d := range []struct{ flag, dir string }{{"evidence", o.evidence}, {"files", o.files}} {
		if err := checkDir(d.dir); err != nil {
			return audit.VerifyRequest{}, usageErrorf("--%s: %v", d.flag, err)
		}
	}
	return audit.VerifyRequest{Versions: args, Selection: sel, VerifyOptions: audit.VerifyOptions{Download: o.download, OutDir: o.outDir}}, nil
}

func runVerify(cmd *cobra.Command, g *globalOptions, o *verifyOptions, args []string) error {
	outs, err := o.outputs.parse(append(g.inputs(), o.evidence, o.files)...)
	if err != nil {
		return err
	}
	req, err := o.request(args)
	if err != nil {
		return err
	}
	s, err := g.session(runMode{offline: o.offline, pack: o.evidence, files: o.files})
	if err != nil {
		return err
	}
	defer s.Close()
	p := newProgress(g, cmd.ErrOrStderr())
	req.Listed = p.start
	start := time.Now()
	results, err := s.Verify(cmd.Context(), req, p.done)
	p.stop()
	if err != nil {
		return commandError(err)
	}
	var sections []report.Section
	var warnings []string
	for _, r := range results {
		sections = append(sections, report.Section{Release: r.Release, Verdicts: r.Verdicts, NoIndexMirror: !r.MirrorsIndexes, Requested: r.Requested})
		warnings = append(warnings, r.Warnings...)
	}
	printWarnings(cmd.ErrOrStderr(), warnings)
	rep := report.NewVerification(buildInfo().tool(), time.Now(), sections, warnings)
	rep.Seconds = time.Since(start).Seconds()
	return o.outputs.write(cmd.Context(), g, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, outs)
}

func printWarnings(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "WARNING: %s\n", s)
	}
}
