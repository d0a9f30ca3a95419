package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

type verifyBlobOptions struct {
	outputs
	bundle   string
	identity string
	issuer   string
	// allowRootInChain accepts old bundles whose chain ends with the
	// trusted Fulcio root.
	allowRootInChain bool
}

func newVerifyBlobCmd(g *globalOptions) *cobra.Command {
	o := &verifyBlobOptions{}
	cmd := &cobra.Command{
		Use:   "verify-blob FILE --bundle BUNDLE",
		Short: "Verify a file (or a sha256:<hex> digest) against any Sigstore bundle",
		Long: `Verify FILE against a Sigstore bundle, with flags named as cosign's. FILE may
be a digest sha256:<hex>, so a signature can be checked without the file.

The bundle may be of media type v0.1, v0.2 or v0.3; hold a message signature
(cosign sign-blob) or a DSSE envelope of an in-toto statement whose subject is
the file (cosign attest-blob); carry a certificate or a certificate chain
(intermediates only); and prove its transparency-log entry (Rekor v1
hashedrekord, dsse or intoto, or Rekor v2) by a signed entry timestamp and/or
an inclusion proof with a signed checkpoint, optionally with RFC 3161
timestamps. Every part present must verify against the trusted root.

The identity and issuer default to the release team's binary signer:
krel-staging@k8s-releng-prod.iam.gserviceaccount.com at
https://accounts.google.com. Exit codes: 0 verified, 1 the bundle does not
verify (the failed check is named), 2 usage error.`,
		Example: `  k8sverify verify-blob kubectl --bundle kubectl.sigstore.json
  k8sverify verify-blob sha256:0b7b… --bundle kubectl.sigstore.json \
      --certificate-identity krel-staging@k8s-releng-prod.iam.gserviceaccount.com \
      --certificate-oidc-issuer https://accounts.google.com`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("verify-blob takes one FILE, sha256:<hex> or sha512:<hex>, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			outs, err := o.outputs.parse()
			if err != nil {
				return err
			}
			if o.bundle == "" {
				return usageErrorf("--bundle is required")
			}
			if fi, err := os.Stat(o.bundle); err != nil {
				return usageErrorf("--bundle: %v", err)
			} else if !fi.Mode().IsRegular() {
				return usageErrorf("--bundle: %s is not a regular file", o.bundle)
			}
			if o.identity == "" || o.issuer == "" {
				return usageErrorf("--certificate-identity and --certificate-oidc-issuer must not be empty")
			}
			g.allowRootInChain = o.allowRootInChain
			s, err := g.session()
			if err != nil {
				return err
			}
			res, err := s.VerifyBlob(cmd.Context(), audit.BlobRequest{Target: args[0], Bundle: o.bundle,
				Identity: artifacts.Identity{SAN: o.identity, Issuer: o.issuer}})
			if err != nil {
				return commandError(err)
			}
			for _, v := range res.Verdicts {
				if errors.Is(v.Err, verify.ErrRootInChain) && !o.allowRootInChain {
					fmt.Fprintln(cmd.ErrOrStderr(), "k8sverify: the bundle's chain holds a root certificate; a bundle of an old signer whose chain ends with the trusted Fulcio root is accepted with --allow-root-in-chain")
				}
			}
			rep := report.NewVerification(buildInfo().tool(), time.Now(), []report.Section{{Verdicts: res.Verdicts}}, nil)
			return o.outputs.write(g, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, outs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.bundle, "bundle", "", "Sigstore bundle (.sigstore.json) (required)")
	f.StringVar(&o.identity, "certificate-identity", artifacts.BlobSigner.SAN, "the signer's identity (certificate SAN), matched exactly")
	f.StringVar(&o.issuer, "certificate-oidc-issuer", artifacts.BlobSigner.Issuer, "the signer's OIDC issuer, matched exactly")
	f.BoolVar(&o.allowRootInChain, "allow-root-in-chain", false, "accept a v0.1/v0.2 bundle whose certificate chain ends with the trusted Fulcio root (old signers wrote them; the root is not used). Any other root is rejected")
	o.outputs.addFlag(f, []string{"table", "json", "junit", "sarif"})
	return cmd
}
