package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// maxBundleSize bounds the bundle file verify-blob reads.
const maxBundleSize = 16 << 20

type verifyBlobOptions struct {
	bundle   string
	identity string
	issuer   string
	output   string
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
			return runVerifyBlob(g, o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.bundle, "bundle", "", "Sigstore bundle (.sigstore.json) (required)")
	f.StringVar(&o.identity, "certificate-identity", artifacts.BlobSigner.SAN, "the signer's identity (certificate SAN), matched exactly")
	f.StringVar(&o.issuer, "certificate-oidc-issuer", artifacts.BlobSigner.Issuer, "the signer's OIDC issuer, matched exactly")
	f.BoolVar(&o.allowRootInChain, "allow-root-in-chain", false, "accept a v0.1/v0.2 bundle whose certificate chain ends with the trusted Fulcio root (old signers wrote them; the root is not used). Any other root is rejected")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or junit")
	return cmd
}

func runVerifyBlob(g *globalOptions, o *verifyBlobOptions, target string, stdout, stderr io.Writer) error {
	if o.bundle == "" {
		return usageErrorf("--bundle is required")
	}
	if o.identity == "" || o.issuer == "" {
		return usageErrorf("--certificate-identity and --certificate-oidc-issuer must not be empty")
	}
	if err := checkFormat(o.output, "table", "json", "junit"); err != nil {
		return err
	}
	digest, source, err := blobDigest(target)
	if err != nil {
		return usageError(err)
	}
	data, err := readBundle(o.bundle)
	if err != nil {
		return usageError(err)
	}
	trust, err := loadTrust(g, nil)
	if err != nil {
		return err
	}
	id := artifacts.Identity{SAN: o.identity, Issuer: o.issuer}
	v := verify.Verdict{
		Artifact:     artifacts.Artifact{Kind: artifacts.KindBinary, Name: target, Location: target, Signer: id},
		Digest:       digest.String(),
		DigestSource: source,
	}
	v = audit.Verdict(v, verify.BundleJSON(data, trust, verify.Policy{Identity: id, Digest: digest, AllowTrustedRootInChain: o.allowRootInChain}))
	rep := report.New("k8sverify "+version, "", time.Now(), []verify.Verdict{v})
	return writeReport(g, stdout, stderr, rep, o.output)
}

// blobDigest is the digest to verify: FILE's SHA-256, or the digest given
// as sha256:<hex>.
func blobDigest(target string) (verify.Digest, string, error) {
	if strings.HasPrefix(target, "sha256:") || strings.HasPrefix(target, "sha512:") {
		d, err := verify.ParseDigest(target)
		return d, "argument", err
	}
	d, err := audit.HashFile(target)
	return d, "file", err
}

// readBundle reads a bundle file of bounded size; what it holds is for
// pkg/verify to judge.
func readBundle(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("--bundle: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("--bundle: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--bundle: %s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("--bundle: %w", err)
	}
	if len(data) > maxBundleSize {
		return nil, fmt.Errorf("--bundle: %s is larger than %d MiB: not a Sigstore bundle", p, maxBundleSize>>20)
	}
	return data, nil
}
