package main

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

type verifyFileOptions struct {
	version string
	output  string
}

func newVerifyFileCmd(g *globalOptions) *cobra.Command {
	o := &verifyFileOptions{}
	cmd := &cobra.Command{
		Use:   "verify-file FILE...",
		Short: "What is this downloaded file, and did the release team sign it?",
		Long: `Hash each file (streamed), identify it and verify its signature.

With --version, the file is identified among the release's files by their
published sums and verified against its published signature. Without it, the
Rekor transparency log is searched for signatures of the file's digest by the
release team (krel-staging@k8s-releng-prod.iam.gserviceaccount.com).`,
		Example: `  k8sverify verify-file ./kubectl --version v1.24.17
  k8sverify verify-file ./kubectl ./kubeadm`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("verify-file takes one or more FILEs")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerifyFile(cmd.Context(), g, o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.version, "version", "", "the release the files belong to (v1.24.17, 1.24.17, latest-1.24)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, json or junit")
	return cmd
}

func runVerifyFile(ctx context.Context, g *globalOptions, o *verifyFileOptions, files []string, stdout, stderr io.Writer) error {
	if err := checkFormat(o.output, "table", "json", "junit"); err != nil {
		return err
	}
	if o.version != "" {
		if err := checkVersion(o.version); err != nil {
			return err
		}
	}
	var rel *artifacts.Release
	release := ""
	if o.version != "" {
		listing, err := loadRelease(ctx, g, o.version, false)
		if err != nil {
			return err
		}
		rel, release = listing.Release, listing.Release.Version.String()
	}
	trust, err := loadTrust(g, nil)
	if err != nil {
		return err
	}
	a := newAuditor(g, trust)
	var verdicts []verify.Verdict
	for _, f := range files {
		verdicts = append(verdicts, a.File(ctx, f, rel))
	}
	rep := report.New("k8sverify "+version, release, time.Now(), verdicts)
	return writeReport(g, stdout, stderr, rep, o.output)
}
