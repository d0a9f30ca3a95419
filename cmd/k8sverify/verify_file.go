package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/report"
)

type verifyFileOptions struct {
	outputs
	version string
}

func newVerifyFileCmd(g *globalOptions) *cobra.Command {
	o := &verifyFileOptions{}
	cmd := &cobra.Command{
		Use:   "verify-file FILE...",
		Short: "What is this downloaded file, and did the release team sign it?",
		Long: `Hash each file (streamed), identify it and verify its signature.

With --version, the file is identified among the release's files by their
published sums and verified as that artifact (exit 1 when it is none of
them). Without it, the file is identified by its content, never its name:
the Rekor transparency log is searched for signatures of the file's digest
by the release team (krel-staging@k8s-releng-prod.iam.gserviceaccount.com),
and a file so signed is looked for in the catalog's CHANGELOG sums and in
the SBOMs of the (at most 3) releases out nearest its signing time, one
request each, then verified and named as the release file it is
(./kubectl-renamed: kube-proxy linux/amd64 v1.24.17 verified). A file
carrying another release file's name fails check identify (exit 1); one
the release team signed that no release lists is never verified (exit 3);
finding no signature is no proof that the file is unsigned (exit 3).`,
		Example: `  k8sverify verify-file ./kubectl --version v1.24.17
  k8sverify verify-file ./kubectl-renamed ./kubeadm`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("verify-file takes one or more FILEs")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			outs, err := o.outputs.parse(append(g.inputs(), args...)...)
			if err != nil {
				return err
			}
			if o.version != "" {
				if err := checkVersion(o.version); err != nil {
					return err
				}
			}
			s, err := g.session(runMode{})
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			res, err := s.VerifyFiles(cmd.Context(), audit.FilesRequest{Files: args, Version: o.version})
			if err != nil {
				return commandError(err)
			}
			newHostNotices(cmd.ErrOrStderr()).noteAll(res.Verdicts)
			printWarnings(cmd.ErrOrStderr(), res.Warnings)
			rep := report.NewVerification(buildInfo().tool(), time.Now(), []report.Section{{Release: res.Release, Verdicts: res.Verdicts}}, res.Warnings)
			rep.Seconds = time.Since(start).Seconds()
			return o.outputs.write(cmd.Context(), g, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, outs)
		},
	}
	cmd.Flags().StringVar(&o.version, "version", "", "the release the files belong to (v1.24.17, 1.24.17, latest-1.24)")
	o.outputs.addFlag(cmd.Flags(), []string{"table", "json", "junit", "sarif"})
	return cmd
}
