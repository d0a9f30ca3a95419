package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

type verifyBlobOptions struct {
	bundle   string
	identity string
	issuer   string
	output   string
}

func newVerifyBlobCmd(g *globalOptions) *cobra.Command {
	o := &verifyBlobOptions{}
	cmd := &cobra.Command{
		Use:   "verify-blob FILE --bundle BUNDLE",
		Short: "Verify a file (or a sha256:<hex> digest) against any Sigstore bundle",
		Long: `Verify FILE against a Sigstore bundle (media types v0.1, v0.2, v0.3), with
flags named as cosign's. FILE may be a digest sha256:<hex>, so a signature can
be checked without the file. The identity and issuer default to the release
team's binary signer: krel-staging@k8s-releng-prod.iam.gserviceaccount.com at
https://accounts.google.com.`,
		Example: `  k8sverify verify-blob kubectl --bundle kubectl.sigstore.json
  k8sverify verify-blob sha256:0b7b… --bundle kubectl.sigstore.json \
      --certificate-identity krel-staging@k8s-releng-prod.iam.gserviceaccount.com \
      --certificate-oidc-issuer https://accounts.google.com`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("verify-blob takes one FILE or sha256:<hex>, got %d arguments", len(args))
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
	if o.output != "table" && o.output != "json" && o.output != "junit" {
		return usageErrorf("-o %q: want table, json or junit", o.output)
	}
	trust, err := loadTrust(g)
	if err != nil {
		return err
	}
	id := artifacts.Identity{SAN: o.identity, Issuer: o.issuer}
	v := verify.Verdict{Artifact: artifacts.Artifact{Kind: artifacts.KindBinary, Name: target, Location: target, Signer: id}}
	var digest verify.Digest
	if strings.HasPrefix(target, "sha256:") {
		if digest, err = verify.ParseDigest(target); err != nil {
			return usageError(err)
		}
		v.DigestSource = "argument"
	} else {
		if digest, err = audit.HashFile(target); err != nil {
			return usageError(err)
		}
		v.DigestSource = "file"
	}
	v.Digest = digest.String()
	b, err := loadBundle(o.bundle)
	if err != nil {
		res := &verify.SignatureResult{Err: &verify.CheckError{Check: "bundle", Sentinel: verify.ErrBundleInvalid, Cause: err}}
		res.Error = res.Err.Error()
		res.Checks = []verify.Check{{Name: "bundle", Error: err.Error()}}
		v = audit.Verdict(v, res)
	} else {
		v = audit.Verdict(v, verify.Bundle(b, trust, verify.Policy{Identity: id, Digest: digest}))
	}
	rep := report.New("k8sverify "+version, "", time.Now(), []verify.Verdict{v})
	return writeReport(stdout, stderr, rep, o.output)
}

// loadBundle reads a bundle file of bounded size.
func loadBundle(p string) (*bundle.Bundle, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.Size() > 16<<20 {
		return nil, fmt.Errorf("%s: %d bytes is too large for a bundle", p, fi.Size())
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &b, nil
}
