package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

type verifyImageOptions struct {
	platform string
	output   string
}

func newVerifyImageCmd(g *globalOptions) *cobra.Command {
	o := &verifyImageOptions{}
	cmd := &cobra.Command{
		Use:   "verify-image REF...",
		Short: "Verify images by tag or digest, every platform of an index",
		Long: `Verify container images against the release team's image signer
(krel-trust@k8s-releng-prod.iam.gserviceaccount.com, https://accounts.google.com).

REF is a tag or a digest. A reference without a registry is looked up in
--registry (default registry.k8s.io), so a private mirror is checked the same
way: --registry mirror.example.com/k8s. For a multi-arch index, the index and
every platform manifest it lists are verified, each with its own verdict.
cosign signatures (the sha256-<digest>.sig tag) and Sigstore bundles attached
as OCI 1.1 referrers are both found.`,
		Example: `  k8sverify verify-image registry.k8s.io/kube-apiserver:v1.24.17
  k8sverify verify-image kube-proxy:v1.24.17 --platform linux/arm64
  k8sverify verify-image kube-apiserver:v1.24.17 --registry mirror.example.com/k8s -o mirror-list`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("verify-image takes one or more image references (tag or digest)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerifyImage(cmd.Context(), g, o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.platform, "platform", "", "verify only this platform of an index (os/arch)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: "+strings.Join(report.Formats, ", "))
	return cmd
}

func runVerifyImage(ctx context.Context, g *globalOptions, o *verifyImageOptions, refs []string, stdout, stderr io.Writer) error {
	if err := checkFormat(o.output, report.Formats...); err != nil {
		return err
	}
	var platform *artifacts.Platform
	if o.platform != "" {
		p, err := artifacts.ParsePlatform(o.platform)
		if err != nil {
			return usageErrorf("--platform: %v", err)
		}
		platform = &p
	}
	trust, err := loadTrust(g, nil)
	if err != nil {
		return err
	}
	a := newAuditor(g, trust)
	var verdicts []verify.Verdict
	for _, ref := range refs {
		verdicts = append(verdicts, a.ImageRef(ctx, qualify(ref, g.endpoints.Registry), platform)...)
	}
	rep := report.New("k8sverify "+version, "", time.Now(), verdicts)
	return writeReport(g, stdout, stderr, rep, o.output)
}

// qualify puts a reference without a registry below registry.
func qualify(ref, registry string) string {
	first, _, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	return strings.TrimRight(registry, "/") + "/" + ref
}
