package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/localfile"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// globalOptions are the flags every command shares. Each has an
// environment variable so one file can point the tool at another world.
type globalOptions struct {
	endpoints      transport.Endpoints
	trustedRoot    string
	tufURL         string
	tufRoot        string
	concurrency    int
	timeout        time.Duration
	deadline       time.Duration
	cacheDir       string
	catalog        string
	quiet          bool
	noProgress     bool
	debug          bool
	acceptIncident []string
	allowHTTP      bool
	trustPack      string
	changelogRef   string
	promoterRef    string
	// packAtFetchTime verifies a pack's TUF metadata as of its fetch
	// time. Deliberately without an environment variable: an unsafe
	// opt-in is asked for on the command line of each run.
	packAtFetchTime bool

	stderr io.Writer
	log    *slog.Logger
}

// runMode is what a command's own flags add to the shared ones: where the
// evidence comes from and the judge's rules it takes as flags. Commands
// pass it to session; none changes the shared options.
type runMode struct {
	offline bool   // no request leaves the machine
	pack    string // the evidence pack the evidence is read from
	files   string // release files to bind to the pack's evidence
	// The judge's rules some commands take as flags.
	anyImageName     bool
	allowRootInChain bool
}

// config builds the library's configuration from the flags.
func (g *globalOptions) config(m runMode) (audit.Config, error) {
	src, err := g.tufSource(m)
	if err != nil {
		return audit.Config{}, err
	}
	if g.packAtFetchTime && (g.trustedRoot != "" || (m.pack == "" && g.trustPack == "")) {
		return audit.Config{}, usageErrorf("--trust-pack-at-fetch-time verifies an evidence pack's TUF metadata: it goes with verify --offline --evidence DIR, mirror --from-pack DIR or --trust-pack DIR, not with --trusted-root")
	}
	var cat *artifacts.Catalog
	if g.catalog != "" {
		data, err := localfile.Read(g.catalog, 16<<20)
		if err == nil {
			cat, err = artifacts.ReadCatalog(bytes.NewReader(data), g.catalog)
		}
		if err != nil {
			return audit.Config{}, usageErrorf("--catalog: %v", err)
		}
	}
	return audit.Config{
		Catalog:     cat,
		Endpoints:   g.endpoints,
		Timeout:     g.timeout,
		Deadline:    g.deadline,
		Concurrency: g.concurrency,
		Trust:       trust.Source{File: g.trustedRoot, PackDir: g.trustPack, PackAtFetchTime: g.packAtFetchTime, TUF: src, CacheDir: g.cacheDir},
		Rules:       verify.Rules{AcceptIncidents: g.acceptIncident, AnyImageName: m.anyImageName, AllowTrustedRootInChain: m.allowRootInChain},
		Tool:        "k8sverify " + buildInfo().Version,
		Offline:     m.offline,
		Pack:        m.pack,
		Files:       m.files,
		Log:         g.logger(),

		AllowHTTPRegistry: g.allowHTTP,
		ChangelogRef:      g.changelogRef,
		PromoterRef:       g.promoterRef,
		ChannelCacheDir:   g.channelCacheDir(),
	}, nil
}

// channelCacheDir is where channel documents read at a pinned commit are
// kept: --cache-dir, or the default cache directory ("" when there is
// none: nothing is kept).
func (g *globalOptions) channelCacheDir() string {
	if g.cacheDir != "" {
		return g.cacheDir
	}
	dir, err := trust.DefaultCacheDir()
	if err != nil {
		return ""
	}
	return dir
}

// logger is the debug log on stderr (--debug), or nil.
func (g *globalOptions) logger() *slog.Logger {
	if !g.debug {
		return nil
	}
	if g.log == nil {
		g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return g.log
}

// session opens the library session of the flags and the command's mode.
// The caller closes it.
func (g *globalOptions) session(m runMode) (*audit.Session, error) {
	cfg, err := g.config(m)
	if err != nil {
		return nil, err
	}
	s, err := audit.NewSession(cfg)
	if err != nil {
		return nil, commandError(err)
	}
	if g.trustedRoot != "" {
		if _, err := os.Stat(g.trustedRoot); err != nil {
			return nil, usageErrorf("--trusted-root: %v", err)
		}
	}
	return s, nil
}

// tufSource returns the TUF repository and root the flags name.
func (g *globalOptions) tufSource(m runMode) (trust.TUF, error) {
	src := trust.TUF{RepositoryURL: g.tufURL}
	// Offline (or from a pack's metadata) no TUF repository is asked: its
	// root alone verifies the metadata the pack carries.
	rootAlone := g.tufURL == "" && g.tufRoot != "" && (m.offline || m.pack != "" || g.trustPack != "")
	if (g.tufURL == "") != (g.tufRoot == "") && !rootAlone {
		return src, usageErrorf("--tuf-url and --tuf-root go together: a TUF repository other than the public-good one needs its own root")
	}
	if g.tufURL != "" {
		if err := transport.CheckURL(g.tufURL); err != nil {
			return src, usageErrorf("--tuf-url: %v", err)
		}
	}
	if g.tufRoot != "" {
		data, err := localfile.Read(g.tufRoot, 1<<20)
		if err != nil {
			return src, usageErrorf("--tuf-root: %v", err)
		}
		src.Root = data
	}
	return src, nil
}

// Run runs the k8sverify command line with args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root, err := newRootCmd(getenv, stderr)
	if err == nil {
		root.SetArgs(args)
		root.SetOut(stdout)
		root.SetErr(stderr)
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	if ctx.Err() != nil && code != ExitUsage {
		code = ExitInterrupted
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.err != nil {
		fmt.Fprintf(stderr, "k8sverify: %v\n", err)
		if advice := adviceFor(err); advice != "" {
			fmt.Fprintf(stderr, "k8sverify: %s\n", advice)
		}
	}
	if code == ExitUsage {
		fmt.Fprintf(stderr, "Run 'k8sverify --help' for usage.\n")
	}
	return code
}

// envFlags binds flags to environment variables, parsed as strictly as
// the flags: a variable the flag would reject is a usage error.
type envFlags struct {
	getenv func(string) string
	errs   []error
}

// set applies the variable of flag name, if set, through the flag's own
// parser.
func (e *envFlags) set(fs *pflag.FlagSet, name, variable string) {
	v := e.getenv(variable)
	if v == "" {
		return
	}
	f := fs.Lookup(name)
	if err := f.Value.Set(v); err != nil {
		if f.Value.Type() == "bool" {
			err = errors.New("want true or false (or 1, 0)")
		}
		e.errs = append(e.errs, fmt.Errorf("$%s=%q: %v", variable, v, err))
		return
	}
	f.DefValue = v
	f.Usage += " ($" + variable + ")"
}

func newRootCmd(getenv func(string) string, stderr io.Writer) (*cobra.Command, error) {
	g := &globalOptions{stderr: stderr}
	info := buildInfo()
	root := &cobra.Command{
		Use:   "k8sverify",
		Short: "Verify that a Kubernetes release is exactly what the release team signed",
		Long: `k8sverify verifies Kubernetes release artifacts — binaries, tarballs and
container images — against the release team's Sigstore keyless signatures:
Fulcio certificate chain, signer identity and OIDC issuer, signature over the
artifact digest, the Rekor transparency-log proof, and that the artifact is
the one of this release and platform.`,
		Version:       info.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			for _, u := range []struct{ flag, value string }{
				{"download-url", g.endpoints.DownloadURL}, {"sbom-url", g.endpoints.SBOMURL}, {"rekor-url", g.endpoints.RekorURL}, {"channels-url", g.endpoints.ChannelsURL},
			} {
				if (u.flag == "rekor-url" || u.flag == "channels-url") && u.value == "" {
					continue // no transparency log: signatures rest on the proofs they carry
				}
				if err := transport.CheckURL(u.value); err != nil {
					return usageErrorf("--%s: %v", u.flag, err)
				}
			}
			if err := g.endpoints.Validate(); err != nil {
				return usageErrorf("--registry: %v", err)
			}
			if g.concurrency < 1 {
				return usageErrorf("--concurrency must be at least 1, got %d", g.concurrency)
			}
			if g.timeout <= 0 {
				return usageErrorf("--timeout must be positive, got %s", g.timeout)
			}
			if g.deadline <= 0 {
				return usageErrorf("--deadline must be positive, got %s", g.deadline)
			}
			return nil
		},
	}
	root.SetVersionTemplate(info.String() + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })

	f := root.PersistentFlags()
	f.StringVar(&g.endpoints.DownloadURL, "download-url", transport.DefaultDownloadURL, "release download site")
	f.StringVar(&g.endpoints.SBOMURL, "sbom-url", transport.DefaultSBOMURL, "release SBOM site")
	f.StringVar(&g.endpoints.Registry, "registry", transport.DefaultRegistry, "image registry host[/prefix]")
	f.StringVar(&g.endpoints.RekorURL, "rekor-url", transport.DefaultRekorURL, `Rekor transparency log ("": none; image signatures then rest on the log proofs they carry)`)
	f.StringVar(&g.endpoints.ChannelsURL, "channels-url", transport.DefaultChannelsURL, `raw-file host the independent channels are read from for a release the catalog holds no sums for: <URL>/kubernetes/kubernetes/<ref>/CHANGELOG/CHANGELOG-1.X.md and <URL>/kubernetes/k8s.io/<ref>/registry.k8s.io/images/k8s-staging-kubernetes/images.yaml ("": none; verdicts then say so)`)
	f.StringVar(&g.changelogRef, "changelog-ref", artifacts.DefaultChangelogRef, "branch or commit of kubernetes/kubernetes the CHANGELOG is read at")
	f.StringVar(&g.promoterRef, "promoter-ref", artifacts.DefaultPromoterRef, "branch or commit of kubernetes/k8s.io the promoter's manifest is read at")
	f.StringVar(&g.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json (default: public-good root via the embedded TUF root)")
	f.StringVar(&g.tufURL, "tuf-url", "", "TUF repository of the Sigstore trusted root (default: the public-good one)")
	f.StringVar(&g.tufRoot, "tuf-root", "", "trusted TUF root.json for --tuf-url (default: the one embedded in k8sverify)")
	f.IntVar(&g.concurrency, "concurrency", audit.DefaultConcurrency, "artifacts checked at once")
	f.DurationVar(&g.timeout, "timeout", audit.DefaultTimeout, "timeout of each network request: to answer, and to deliver a streamed body at 1 KiB/s or more")
	f.DurationVar(&g.deadline, "deadline", audit.DefaultDeadline, "deadline of the whole run: what is not checked by then is an error")
	f.StringVar(&g.cacheDir, "cache-dir", "", "k8sverify's cache: the Sigstore TUF client's state lives in DIR/tuf (default: k8sverify in the user cache dir, e.g. ~/.cache/k8sverify)")
	f.StringVar(&g.catalog, "catalog", "", "use another release catalog (testing, or a release newer than the embedded one)")
	f.BoolVar(&g.quiet, "quiet", false, "print only the summary and the problems")
	f.BoolVar(&g.noProgress, "no-progress", false, "no progress display on stderr")
	f.BoolVarP(&g.debug, "debug", "v", false, "log each network request and each decision to stderr")
	f.StringSliceVar(&g.acceptIncident, "accept-incident", nil, "accept what a documented incident of the release describes (its ID, as list shows it); reported as such")
	f.BoolVar(&g.allowHTTP, "allow-http-registry", false, "allow image registries on plain http at any address (default: only on loopback)")
	f.StringVar(&g.trustPack, "trust-pack", "", "take the Sigstore trusted root from an evidence pack's TUF metadata, verified from the TUF root (no TUF service needed)")
	f.BoolVar(&g.packAtFetchTime, "trust-pack-at-fetch-time", false, "verify an evidence pack's TUF metadata as of when the pack was fetched, not now (UNSAFE: trusts what the Sigstore TUF repository revoked or let expire since; every report says so)")

	env := &envFlags{getenv: getenv}
	for _, b := range []struct{ flag, variable string }{
		{"download-url", "K8SVERIFY_DOWNLOAD_URL"}, {"sbom-url", "K8SVERIFY_SBOM_URL"}, {"registry", "K8SVERIFY_REGISTRY"},
		{"rekor-url", "K8SVERIFY_REKOR_URL"}, {"trusted-root", "K8SVERIFY_TRUSTED_ROOT"}, {"tuf-url", "K8SVERIFY_TUF_URL"},
		{"tuf-root", "K8SVERIFY_TUF_ROOT"}, {"concurrency", "K8SVERIFY_CONCURRENCY"}, {"timeout", "K8SVERIFY_TIMEOUT"}, {"deadline", "K8SVERIFY_DEADLINE"},
		{"cache-dir", "K8SVERIFY_CACHE_DIR"}, {"catalog", "K8SVERIFY_CATALOG"}, {"quiet", "K8SVERIFY_QUIET"}, {"no-progress", "K8SVERIFY_NO_PROGRESS"}, {"debug", "K8SVERIFY_DEBUG"},
		{"accept-incident", "K8SVERIFY_ACCEPT_INCIDENT"}, {"allow-http-registry", "K8SVERIFY_ALLOW_HTTP_REGISTRY"}, {"trust-pack", "K8SVERIFY_TRUST_PACK"},
		{"channels-url", "K8SVERIFY_CHANNELS_URL"}, {"changelog-ref", "K8SVERIFY_CHANGELOG_REF"}, {"promoter-ref", "K8SVERIFY_PROMOTER_REF"},
	} {
		env.set(f, b.flag, b.variable)
	}
	root.AddCommand(newListCmd(g), newVerifyCmd(g), newVerifyFileCmd(g), newVerifyBlobCmd(g), newVerifyImageCmd(g), newFetchCmd(g), newMirrorCmd(g), newVersionCmd())
	if len(env.errs) > 0 {
		return nil, usageError(fmt.Errorf("environment: %w", errors.Join(env.errs...)))
	}
	return root, nil
}
