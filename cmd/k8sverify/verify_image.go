package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/report"
)

type verifyImageOptions struct {
	outputs
	platform string
	anyName  bool
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
every platform manifest it lists are verified, each with its own verdict: a
platform's manifest must be an image of that platform, signed in the index's
repository or in <repository>-<arch>. cosign signatures (the
sha256-<digest>.sig tag) and Sigstore bundles attached as OCI 1.1 referrers
are both found.

A signature must name the image: the last path element of what it signs must
be the last path element of REF (or REF's name with -<arch> for a platform's
manifest), whatever the registry. --any-name drops that rule, for mirrors that
renamed images: another signed image served under REF then verifies too.
It drops nothing else: a release tag (kube-proxy-amd64:v1.24.17, pinned
with @sha256:… or not) still binds the platform its repository names and
the digest the catalog holds for it.`,
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
			outs, err := o.outputs.parse(g.inputs()...)
			if err != nil {
				return err
			}
			req := audit.ImagesRequest{Refs: args}
			if o.platform != "" {
				p, err := artifacts.ParsePlatform(o.platform)
				if err != nil {
					return usageErrorf("--platform: %v", err)
				}
				req.Platform = &p
			}
			s, err := g.session(runMode{anyImageName: o.anyName})
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			res, err := s.VerifyImages(cmd.Context(), req)
			if err != nil {
				return commandError(err)
			}
			newHostNotices(cmd.ErrOrStderr()).noteAll(res.Verdicts)
			printWarnings(cmd.ErrOrStderr(), res.Warnings)
			rep := report.NewVerification(buildInfo().tool(), time.Now(), []report.Section{{Verdicts: res.Verdicts}}, res.Warnings)
			rep.Seconds = time.Since(start).Seconds()
			return o.outputs.write(cmd.Context(), g, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, outs)
		},
	}
	cmd.Flags().StringVar(&o.platform, "platform", "", "verify only this platform of an index (os/arch)")
	cmd.Flags().BoolVar(&o.anyName, "any-name", false, "accept signatures that name any image (UNSAFE: for mirrors that renamed images)")
	o.outputs.addFlag(cmd.Flags(), report.Formats)
	return cmd
}
