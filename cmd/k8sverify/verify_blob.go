package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/localfile"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

type verifyBlobOptions struct {
	outputs
	bundle      string
	signature   string
	certificate string
	offline     bool
	identity    string
	issuer      string
	// predicateType asks for an in-toto statement of that type.
	predicateType string
	// allowRootInChain accepts old bundles whose chain ends with the
	// trusted Fulcio root.
	allowRootInChain bool
}

func newVerifyBlobCmd(g *globalOptions) *cobra.Command {
	o := &verifyBlobOptions{}
	cmd := &cobra.Command{
		Use:   "verify-blob FILE (--bundle BUNDLE | --signature SIG --certificate CERT)",
		Short: "Verify a file (or a sha256:<hex> digest) against any Sigstore bundle, or a .sig and .cert",
		Long: `Verify FILE against a Sigstore bundle, or against a detached signature and
certificate, with flags named as cosign's. FILE may be a digest sha256:<hex>,
so a signature can be checked without the file.

--signature and --certificate take what cosign sign-blob writes and
dl.k8s.io publishes beside every signed file: FILE.sig (base64 of the
signature, or raw) and FILE.cert (base64 of the PEM certificate, or PEM). The
Rekor entry that records them is looked up online (--rekor-url). --offline
runs every check that needs no log (certificate chain at the certificate's
issue time, SCT, identity, signature over the digest) and reports each: one
that fails is failed (exit 1); when all pass the signature stays unproven
(exit 3), as nothing proves when it was signed.

The bundle may be of media type v0.1, v0.2 or v0.3; hold a message signature
(cosign sign-blob) or a DSSE envelope of an in-toto statement whose subject is
the file (cosign attest-blob). A statement is an attestation, not a file
signature: it verifies only when its predicate type is named with
--predicate-type (as cosign verify-blob-attestation --type), and the report
says so (payload: in-toto statement, predicate TYPE); a message signature
then does not pass. The bundle may carry a certificate or a certificate chain
(intermediates only); and prove its transparency-log entry (Rekor v1
hashedrekord, dsse or intoto, or Rekor v2) by a signed entry timestamp and/or
an inclusion proof with a signed checkpoint, optionally with RFC 3161
timestamps. Every part present must verify against the trusted root.

The identity and issuer default to the release team's binary signer:
krel-staging@k8s-releng-prod.iam.gserviceaccount.com at
https://accounts.google.com. Exit codes: 0 verified, 1 the bundle does not
verify (the failed check is named), 2 usage error, 3 it could not be proved
(a .sig and .cert offline, or the transparency log could not be asked).`,
		Example: `  k8sverify verify-blob kubectl --bundle kubectl.sigstore.json
  k8sverify verify-blob kubectl --signature kubectl.sig --certificate kubectl.cert
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
			outs, err := o.outputs.parse(append(g.inputs(), args[0], o.bundle, o.signature, o.certificate)...)
			if err != nil {
				return err
			}
			if err := o.check(); err != nil {
				return err
			}
			m := runMode{allowRootInChain: o.allowRootInChain, offline: o.offline}
			if o.predicateType != "" {
				m.predicateTypes = []string{o.predicateType}
			}
			s, err := g.session(m)
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			res, err := s.VerifyBlob(cmd.Context(), audit.BlobRequest{Target: args[0], Bundle: o.bundle, Signature: o.signature, Certificate: o.certificate,
				Identity: artifacts.Identity{SAN: o.identity, Issuer: o.issuer}})
			if err != nil {
				return commandError(err)
			}
			for _, v := range res.Verdicts {
				if errors.Is(v.Err, sigverify.ErrRootInChain) && !o.allowRootInChain {
					fmt.Fprintln(cmd.ErrOrStderr(), "k8sverify: the bundle's chain holds a root certificate; a bundle of an old signer whose chain ends with the trusted Fulcio root is accepted with --allow-root-in-chain")
				}
			}
			printWarnings(cmd.ErrOrStderr(), res.Warnings)
			rep := report.NewVerification(buildInfo().tool(), time.Now(), []report.Section{{Verdicts: res.Verdicts}}, res.Warnings)
			rep.Seconds = time.Since(start).Seconds()
			return o.outputs.write(cmd.Context(), g, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, outs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.bundle, "bundle", "", "Sigstore bundle (.sigstore.json)")
	f.StringVar(&o.signature, "signature", "", "detached signature, as cosign sign-blob writes it (FILE.sig on dl.k8s.io)")
	f.StringVar(&o.certificate, "certificate", "", "the signature's certificate (FILE.cert on dl.k8s.io)")
	f.BoolVar(&o.offline, "offline", false, "no network: a bundle carries its log proof; a .sig and .cert do not (reported as such)")
	f.StringVar(&o.identity, "certificate-identity", artifacts.BlobSigner.SAN, "the signer's identity (certificate SAN), matched exactly")
	f.StringVar(&o.issuer, "certificate-oidc-issuer", artifacts.BlobSigner.Issuer, "the signer's OIDC issuer, matched exactly")
	f.StringVar(&o.predicateType, "predicate-type", "", "verify an in-toto statement (cosign attest-blob) of this predicate type, as cosign verify-blob-attestation --type does; without it a statement is refused")
	f.BoolVar(&o.allowRootInChain, "allow-root-in-chain", false, "accept a v0.1/v0.2 bundle whose certificate chain ends with the trusted Fulcio root (old signers wrote them; the root is not used). Any other root is rejected")
	o.outputs.addFlag(f, []string{"table", "json", "junit", "sarif"})
	return cmd
}

// check refuses flags that do not go together, and local files that are
// missing or not regular files, before any work starts.
func (o *verifyBlobOptions) check() error {
	switch {
	case o.bundle == "" && o.signature == "" && o.certificate == "":
		return usageErrorf("--bundle, or --signature with --certificate, is required")
	case o.bundle != "" && (o.signature != "" || o.certificate != ""):
		return usageErrorf("--bundle does not go with --signature and --certificate: a bundle holds both")
	case (o.signature == "") != (o.certificate == ""):
		return usageErrorf("--signature and --certificate go together")
	case o.identity == "" || o.issuer == "":
		return usageErrorf("--certificate-identity and --certificate-oidc-issuer must not be empty")
	}
	for _, f := range []struct{ flag, path string }{{"--bundle", o.bundle}, {"--signature", o.signature}, {"--certificate", o.certificate}} {
		if f.path == "" {
			continue
		}
		file, err := localfile.Open(f.path)
		if err != nil {
			return usageErrorf("%s: %v", f.flag, err)
		}
		file.Close()
	}
	return nil
}
