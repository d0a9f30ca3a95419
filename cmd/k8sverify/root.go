package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/evidence"
)

// globalOptions are the flags every command shares. Each has an
// environment variable so one file can point the tool at another world.
type globalOptions struct {
	endpoints   evidence.Endpoints
	trustedRoot string
	tufURL      string
	tufRoot     string
	concurrency int
	timeout     time.Duration
	cacheDir    string
	quiet       bool
	noProgress  bool

	http *evidence.HTTPClient // built once per run by httpClient
}

// tufSource returns the TUF repository and root the flags name.
func (g *globalOptions) tufSource() (evidence.TUFSource, error) {
	src := evidence.TUFSource{RepositoryURL: g.tufURL}
	if g.tufRoot != "" {
		data, err := os.ReadFile(g.tufRoot)
		if err != nil {
			return src, usageErrorf("--tuf-root: %v", err)
		}
		src.Root = data
	}
	if (g.tufURL == "") != (g.tufRoot == "") {
		return src, usageErrorf("--tuf-url and --tuf-root go together: a TUF repository other than the public-good one needs its own root")
	}
	return src, nil
}

// httpClient returns the run's HTTP client, configured by the global
// flags: one per run, so every request shares its connections.
func (g *globalOptions) httpClient() *evidence.HTTPClient {
	if g.http == nil {
		g.http = evidence.NewHTTPClient(evidence.WithTimeout(g.timeout))
	}
	return g.http
}

// Run runs the k8sverify command line with args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCmd(getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	var ee *exitError
	if !errors.As(err, &ee) || ee.err != nil {
		fmt.Fprintf(stderr, "k8sverify: %v\n", err)
	}
	if code == ExitUsage {
		fmt.Fprintf(stderr, "Run 'k8sverify --help' for usage.\n")
	}
	return code
}

func newRootCmd(getenv func(string) string) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "k8sverify",
		Short: "Verify that a Kubernetes release is exactly what the release team signed",
		Long: `k8sverify verifies Kubernetes release artifacts — binaries, tarballs and
container images — against the release team's Sigstore keyless signatures:
Fulcio certificate chain, signer identity and OIDC issuer, signature over the
artifact digest, and the Rekor transparency-log proof.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.endpoints.Validate(); err != nil {
				return usageError(err)
			}
			if g.tufURL != "" {
				if err := evidence.CheckURL(g.tufURL); err != nil {
					return usageErrorf("--tuf-url: %v", err)
				}
			}
			if g.concurrency < 1 {
				return usageErrorf("--concurrency must be at least 1, got %d", g.concurrency)
			}
			if g.timeout <= 0 {
				return usageErrorf("--timeout must be positive, got %s", g.timeout)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })

	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(getenv(name)); err == nil {
			return v
		}
		return def
	}
	envDuration := func(name string, def time.Duration) time.Duration {
		if v, err := time.ParseDuration(getenv(name)); err == nil {
			return v
		}
		return def
	}
	f := root.PersistentFlags()
	f.StringVar(&g.endpoints.DownloadURL, "download-url", env("K8SVERIFY_DOWNLOAD_URL", evidence.DefaultDownloadURL), "release download site ($K8SVERIFY_DOWNLOAD_URL)")
	f.StringVar(&g.endpoints.SBOMURL, "sbom-url", env("K8SVERIFY_SBOM_URL", evidence.DefaultSBOMURL), "release SBOM site ($K8SVERIFY_SBOM_URL)")
	f.StringVar(&g.endpoints.Registry, "registry", env("K8SVERIFY_REGISTRY", evidence.DefaultRegistry), "image registry host[/prefix] ($K8SVERIFY_REGISTRY)")
	f.StringVar(&g.endpoints.RekorURL, "rekor-url", env("K8SVERIFY_REKOR_URL", evidence.DefaultRekorURL), "Rekor transparency log ($K8SVERIFY_REKOR_URL)")
	f.StringVar(&g.trustedRoot, "trusted-root", env("K8SVERIFY_TRUSTED_ROOT", ""), "Sigstore trusted_root.json (default: public-good root via the embedded TUF root) ($K8SVERIFY_TRUSTED_ROOT)")
	f.StringVar(&g.tufURL, "tuf-url", env("K8SVERIFY_TUF_URL", ""), "TUF repository of the Sigstore trusted root (default: the public-good one) ($K8SVERIFY_TUF_URL)")
	f.StringVar(&g.tufRoot, "tuf-root", env("K8SVERIFY_TUF_ROOT", ""), "trusted TUF root.json for --tuf-url (default: the one embedded in k8sverify) ($K8SVERIFY_TUF_ROOT)")
	f.IntVar(&g.concurrency, "concurrency", envInt("K8SVERIFY_CONCURRENCY", 16), "artifacts checked at once ($K8SVERIFY_CONCURRENCY)")
	f.DurationVar(&g.timeout, "timeout", envDuration("K8SVERIFY_TIMEOUT", 30*time.Second), "timeout of each network request ($K8SVERIFY_TIMEOUT)")
	f.StringVar(&g.cacheDir, "cache-dir", env("K8SVERIFY_CACHE_DIR", ""), "cache for TUF metadata (default: the user cache dir) ($K8SVERIFY_CACHE_DIR)")
	f.BoolVar(&g.quiet, "quiet", getenv("K8SVERIFY_QUIET") != "", "print only the report and warnings: no progress, no summary on stderr ($K8SVERIFY_QUIET)")
	f.BoolVar(&g.noProgress, "no-progress", getenv("K8SVERIFY_NO_PROGRESS") != "", "no progress display on stderr ($K8SVERIFY_NO_PROGRESS)")

	root.AddCommand(newListCmd(g), newVerifyCmd(g), newVerifyFileCmd(g), newVerifyBlobCmd(g), newVerifyImageCmd(g), newFetchCmd(g))
	return root
}
