package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// version is the tool's version, set at build time.
var version = "dev"

type verifyOptions struct {
	selection
	output   string
	download bool
	outDir   string
	offline  bool
	evidence string
	files    string
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify VERSION",
		Short: "Verify every binary, tarball and image of a release",
		Long: `Verify the artifacts of a Kubernetes release against the release team's
Sigstore signatures: certificate chain to the Fulcio root with embedded SCT,
exact signer identity and OIDC issuer, signature over the artifact digest, and
the Rekor transparency-log entry (signed entry timestamp and inclusion proof).

Binaries and tarballs are verified WITHOUT downloading them by default: the
release team's signature over the published .sha256 is proved. --download
streams each file and verifies what actually arrived (kept with --out DIR,
only when verified).`,
		Example: `  k8sverify verify v1.24.17
  k8sverify verify v1.24.17 --kind binary,tarball --platform linux/amd64
  k8sverify verify v1.24.17 --kind binary --platform linux/amd64 --download --out ./k8s
  k8sverify verify v1.24.17 --kind image -o mirror-list`,
		Args: oneVersion("verify"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.addFlags(f, "verify")
	f.StringVarP(&o.output, "output", "o", "table", "output format: "+strings.Join(report.Formats, ", "))
	f.BoolVar(&o.download, "download", false, "download each binary and tarball and verify what arrived")
	f.StringVar(&o.outDir, "out", "", "with --download: keep verified files below DIR/<version>/")
	f.BoolVar(&o.offline, "offline", false, "verify from an evidence pack, with no network (needs --evidence)")
	f.StringVar(&o.evidence, "evidence", "", "evidence pack directory (written by k8sverify fetch)")
	f.StringVar(&o.files, "files", "", "with --offline: directory of release files to hash and match")
	return cmd
}

func runVerify(ctx context.Context, g *globalOptions, o *verifyOptions, ver string, stdout, stderr io.Writer) error {
	if err := checkFormat(o.output, report.Formats...); err != nil {
		return err
	}
	kinds, platforms, err := o.parse()
	if err != nil {
		return err
	}
	if err := checkVersion(ver); err != nil {
		return err
	}
	if o.offline || o.evidence != "" || o.files != "" {
		return runVerifyOffline(ctx, g, o, ver, stdout, stderr)
	}
	if o.outDir != "" && !o.download {
		return usageErrorf("--out keeps downloaded files: it needs --download")
	}
	listing, err := loadRelease(ctx, g, ver, false)
	if err != nil {
		return err
	}
	rel := listing.Release.Filter(kinds, platforms)
	if err := checkSelection(listing.Release, rel, kinds, platforms); err != nil {
		return err
	}
	trust, err := loadTrust(g, nil)
	if err != nil {
		return err
	}
	for _, w := range listing.Warnings {
		fmt.Fprintf(stderr, "WARNING: %s\n", w)
	}
	a := newAuditor(g, trust)
	p := newProgress(g, stderr, len(rel.Artifacts))
	verdicts := a.Release(ctx, rel, audit.Options{Download: o.download, OutDir: o.outDir}, p.done)
	rep := report.New("k8sverify "+version, rel.Version.String(), time.Now(), verdicts)
	rep.Incidents, rep.Warnings = rel.Incidents, listing.Warnings
	return writeReport(g, stdout, stderr, rep, o.output)
}

// writeReport renders the report and returns the error carrying its exit
// code: 0 all verified, 1 any failed, 3 any unsigned, missing or error.
func writeReport(g *globalOptions, stdout, stderr io.Writer, rep *report.Report, format string) error {
	if err := report.Write(stdout, rep, format); err != nil {
		return &exitError{code: ExitIncomplete, err: fmt.Errorf("write report: %w", err)}
	}
	if format != "table" && !g.quiet {
		fmt.Fprintln(stderr, rep.Summary)
	}
	switch rep.Worst() {
	case verify.StatusVerified:
		return nil
	case verify.StatusFailed:
		return &exitError{code: ExitFailed}
	default:
		return &exitError{code: ExitIncomplete}
	}
}

// loadTrust loads the trusted root once per run: the file named with
// --trusted-root, else the Sigstore trusted root via TUF (the public-good
// repository, or --tuf-url with --tuf-root).
func loadTrust(g *globalOptions, pack *evidence.Pack) (*verify.Trust, error) {
	src, err := g.tufSource()
	if err != nil {
		return nil, err
	}
	t, err := evidence.LoadTrust(evidence.TrustSource{File: g.trustedRoot, Pack: pack, TUF: src, CacheDir: g.cacheDir})
	switch {
	case err != nil && g.trustedRoot != "":
		return nil, usageError(fmt.Errorf("--trusted-root: %w", err))
	case err != nil:
		return nil, &exitError{code: ExitIncomplete, err: err}
	}
	return t, nil
}

func newAuditor(g *globalOptions, trust *verify.Trust) *audit.Auditor {
	return &audit.Auditor{Fetcher: newFetcher(g), Trust: trust, Concurrency: g.concurrency}
}

// newFetcher returns the evidence fetcher of the global flags.
func newFetcher(g *globalOptions) *evidence.Fetcher {
	h := g.httpClient()
	return &evidence.Fetcher{HTTP: h, Rekor: evidence.NewRekorClient(h, g.endpoints.RekorURL)}
}

// progress reports on stderr as verdicts arrive, unless --quiet or
// --no-progress.
type progress struct {
	w     io.Writer
	total int
	n     int
	on    bool
}

func newProgress(g *globalOptions, w io.Writer, total int) *progress {
	return &progress{w: w, total: total, on: !g.quiet && !g.noProgress}
}

func (p *progress) done(v verify.Verdict) {
	p.n++
	if p.on && v.Status != verify.StatusVerified {
		fmt.Fprintf(p.w, "[%d/%d] %s: %s\n", p.n, p.total, v.Artifact.ID(), v.Status)
	}
}

// runVerifyOffline verifies from an evidence pack with no network: the
// release from the embedded catalog, the trust from --trusted-root or the
// pack's TUF metadata verified from the embedded TUF root, every HTTP
// request refused.
func runVerifyOffline(ctx context.Context, g *globalOptions, o *verifyOptions, ver string, stdout, stderr io.Writer) error {
	switch {
	case !o.offline:
		return usageErrorf("--evidence and --files verify from an evidence pack: they need --offline")
	case o.evidence == "":
		return usageErrorf("--offline needs --evidence DIR (an evidence pack written by k8sverify fetch)")
	case o.download || o.outDir != "":
		return usageErrorf("--download and --out need the network; they do not go with --offline")
	}
	kinds, platforms, err := o.parse()
	if err != nil {
		return err
	}
	listing, err := loadRelease(ctx, g, ver, true)
	if err != nil {
		return err
	}
	rel := listing.Release.Filter(kinds, platforms)
	if err := checkSelection(listing.Release, rel, kinds, platforms); err != nil {
		return err
	}
	p, err := evidence.OpenPack(o.evidence)
	if err != nil {
		return &exitError{code: ExitIncomplete, err: err}
	}
	defer p.Close()
	trust, err := loadTrust(g, p)
	if err != nil {
		return err
	}
	a := &audit.Auditor{
		Fetcher:     &evidence.Fetcher{HTTP: evidence.NewHTTPClient(evidence.WithTransport(evidence.OfflineTransport{}))},
		Trust:       trust,
		Concurrency: g.concurrency,
	}
	verdicts, err := a.VerifyPack(ctx, rel, p, audit.OfflineOptions{FilesDir: o.files})
	if err != nil {
		return &exitError{code: ExitIncomplete, err: err}
	}
	rep := report.New("k8sverify "+version, rel.Version.String(), time.Now(), verdicts)
	rep.Incidents = rel.Incidents
	rep.Warnings = append(rep.Warnings, "verified offline from the evidence pack "+o.evidence+", fetched "+p.Manifest.Created.Format(time.RFC3339))
	return writeReport(g, stdout, stderr, rep, o.output)
}
