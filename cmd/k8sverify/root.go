package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/localfile"
	"github.com/k8sverify/k8sverify/pkg/report"
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
	all            bool
	acceptIncident []string
	allowHTTP      bool
	trustPack      string
	changelogRef   string
	promoterRef    string
	// packAtFetchTime verifies a pack's TUF metadata as of its fetch
	// time. Deliberately without an environment variable: an unsafe
	// opt-in is asked for on the command line of each run.
	packAtFetchTime bool

	// fromEnv maps the flags set from the environment to their variables;
	// flags are the global flags (one given on the command line overrides
	// its variable).
	fromEnv map[string]string
	flags   *pflag.FlagSet
	// catalogUsed is the release catalog of the run, once config ran;
	// catalog names it and its coverage, for advice.
	catalogUsed *report.Catalog
	catalogOf   *artifacts.Catalog
	// fromPack: the run's evidence comes from an evidence pack (session
	// sets it), so advice names what works offline.
	fromPack bool
	// sess is the command's session, once made: its idle connections are
	// closed before the reports are written.
	sess *audit.Session

	stderr io.Writer
	log    *slog.Logger
	// cancelRun ends the run's context (its deadline).
	cancelRun context.CancelFunc
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
	predicateTypes   []string
}

// origin names where a flag's value came from: its environment variable
// ($K8SVERIFY_CATALOG) or the flag itself (--catalog).
func (g *globalOptions) origin(flag string) string {
	if v, ok := g.envOnly(flag); ok {
		return "$" + v
	}
	return "--" + flag
}

// named names a flag in a message about its value: the flag, or, when
// the value came from the environment, the variable and its flag
// ($K8SVERIFY_CONCURRENCY (--concurrency)), so the user knows what to fix.
func (g *globalOptions) named(flag string) string {
	if v, ok := g.envOnly(flag); ok {
		return "$" + v + " (--" + flag + ")"
	}
	return "--" + flag
}

// envOnly returns the variable a flag's value came from, when it came
// from the environment and not the command line.
func (g *globalOptions) envOnly(flag string) (string, bool) {
	v, ok := g.fromEnv[flag]
	if !ok || (g.flags != nil && g.flags.Changed(flag)) {
		return "", false
	}
	return v, true
}

// inputs are the files and directories the global flags name for the run
// to read (no report may replace one).
func (g *globalOptions) inputs() []string {
	return []string{g.catalog, g.trustedRoot, g.tufRoot, g.trustPack}
}

// loadCatalog reads the catalog the flags name (nil: the embedded one)
// and says on stderr, once, which catalog an external one is and what it
// changes of the embedded one: its policy decides verdicts.
func (g *globalOptions) loadCatalog() (*artifacts.Catalog, error) {
	embedded := artifacts.Embedded()
	g.catalogUsed, g.catalogOf = &report.Catalog{Source: report.CatalogEmbedded, SHA256: embedded.SHA256()}, embedded
	if g.catalog == "" {
		return nil, nil
	}
	data, err := localfile.Read(g.catalog, 16<<20)
	var cat *artifacts.Catalog
	if err == nil {
		cat, err = artifacts.ReadCatalog(bytes.NewReader(data), g.catalog)
	}
	if err != nil {
		return nil, usageErrorf("%s: %v", g.origin("catalog"), err)
	}
	g.catalogUsed, g.catalogOf = &report.Catalog{Source: g.catalog, SHA256: cat.SHA256(), From: g.origin("catalog"), Changes: cat.Changes(embedded)}, cat
	changes := "it changes nothing of the embedded catalog"
	if len(g.catalogUsed.Changes) > 0 {
		changes = "it changes: " + strings.Join(g.catalogUsed.Changes, "; ")
	}
	fmt.Fprintf(g.stderr, "k8sverify: using catalog %s (sha256 %s, from %s) instead of the embedded catalog; %s\n",
		g.catalog, cat.SHA256(), g.catalogUsed.From, changes)
	return cat, nil
}

// config builds the library's configuration from the flags.
func (g *globalOptions) config(m runMode) (audit.Config, error) {
	src, err := g.tufSource(m)
	if err != nil {
		return audit.Config{}, err
	}
	if g.trustPack != "" && g.trustedRoot != "" {
		// Both name the run's trusted root; neither is dropped in silence.
		return audit.Config{}, usageErrorf("%s and %s both name the Sigstore trusted root (an evidence pack's TUF metadata, a trusted_root.json): choose one",
			g.named("trust-pack"), g.named("trusted-root"))
	}
	if g.packAtFetchTime && (g.trustedRoot != "" || (m.pack == "" && g.trustPack == "")) {
		return audit.Config{}, usageErrorf("--trust-pack-at-fetch-time verifies an evidence pack's TUF metadata: it goes with verify --offline --evidence DIR, mirror --from-pack DIR or --trust-pack DIR, not with --trusted-root")
	}
	cat, err := g.loadCatalog()
	if err != nil {
		return audit.Config{}, err
	}
	if v, ok := g.envOnly("accept-incident"); ok && len(g.acceptIncident) > 0 {
		fmt.Fprintf(g.stderr, "k8sverify: accepting incident %s, from the environment ($%s)\n", strings.Join(g.acceptIncident, ", "), v)
	}
	return audit.Config{
		Catalog:     cat,
		Endpoints:   g.endpoints,
		Timeout:     g.timeout,
		Concurrency: g.concurrency,
		Trust:       trust.Source{File: g.trustedRoot, PackDir: g.trustPack, PackAtFetchTime: g.packAtFetchTime, TUF: src, CacheDir: g.cacheDir},
		Rules:       verify.Rules{AcceptIncidents: g.acceptIncident, AnyImageName: m.anyImageName, AllowTrustedRootInChain: m.allowRootInChain, BlobPredicateTypes: m.predicateTypes},
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
	g.fromPack = m.pack != ""
	s, err := audit.NewSession(cfg)
	if err != nil {
		return nil, commandError(err)
	}
	g.sess = s
	if g.trustedRoot != "" {
		if _, err := os.Stat(g.trustedRoot); err != nil {
			return nil, usageErrorf("%s: %v", g.named("trusted-root"), err)
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
			return src, usageErrorf("%s: %v", g.named("tuf-url"), err)
		}
	}
	if g.tufRoot != "" {
		data, err := localfile.Read(g.tufRoot, 1<<20)
		if err == nil {
			err = trust.CheckRoot(data)
		}
		if err != nil {
			return src, usageErrorf("%s %s: %v", g.named("tuf-root"), g.tufRoot, err)
		}
		src.Root = data
	}
	return src, nil
}

// servedFilesAdvice says how to check the bytes of files verified by
// their published digest: download them, or offline (from a pack, where
// --download is refused) hash the files on disk against the pack.
func (g *globalOptions) servedFilesAdvice() string {
	if g.fromPack {
		return "--files DIR verifies the files on disk against the pack"
	}
	return "--download downloads each file and verifies what arrived"
}

// Run runs the k8sverify command line with args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	// Messages, progress and logs carry text from the network and from
	// files: nothing a terminal would act on gets through.
	stderr = report.NewTerminalWriter(stderr)
	root, g, err := newRootCmd(getenv, stderr)
	helpOf := "k8sverify"
	if err == nil {
		root.SetArgs(args)
		root.SetOut(stdout)
		root.SetErr(stderr)
		var cmd *cobra.Command
		cmd, err = root.ExecuteContextC(ctx)
		if cmd != nil {
			helpOf = cmd.CommandPath()
		}
		g.endRun()
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
		fmt.Fprintf(stderr, "k8sverify: %v\n", g.flagged(err))
		if advice := adviceFor(err, g); advice != "" {
			fmt.Fprintf(stderr, "k8sverify: %s\n", advice)
		}
	}
	if code == ExitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", helpOf)
	}
	return code
}

// flagged names the flag of an endpoint the library refused (and its
// variable, when the value came from the environment).
func (g *globalOptions) flagged(err error) error {
	var ee *transport.EndpointError
	if !errors.As(err, &ee) {
		return err
	}
	flag := map[string]string{transport.EndpointDownload: "download-url", transport.EndpointSBOM: "sbom-url",
		transport.EndpointRegistry: "registry", transport.EndpointRekor: "rekor-url", transport.EndpointChannels: "channels-url"}[ee.Endpoint]
	if flag == "" {
		return err
	}
	return fmt.Errorf("%s: %w", g.named(flag), ee.Err)
}

// envFlags binds flags to environment variables, parsed as strictly as
// the flags: a variable the flag would reject is a usage error.
type envFlags struct {
	getenv func(string) string
	errs   []error
	used   map[string]string // flag -> variable, for the flags set
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
	e.used[name] = variable
}

func newRootCmd(getenv func(string) string, stderr io.Writer) (*cobra.Command, *globalOptions, error) {
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
			if _, env := g.fromEnv["concurrency"]; (g.flags.Changed("concurrency") || env) && g.concurrency < 1 {
				return usageErrorf("%s must be at least 1, got %d", g.named("concurrency"), g.concurrency)
			}
			if g.timeout <= 0 {
				return usageErrorf("%s must be positive, got %s", g.named("timeout"), g.timeout)
			}
			if g.deadline <= 0 {
				return usageErrorf("%s must be positive, got %s", g.named("deadline"), g.deadline)
			}
			if g.quiet && g.debug {
				return usageErrorf("--quiet and --debug (-v) contradict each other: choose one")
			}
			// The run's deadline, applied once, to the context every
			// request of the run is made under.
			ctx, cancel := audit.WithDeadline(cmd.Context(), g.deadline)
			g.cancelRun = cancel
			cmd.SetContext(ctx)
			return nil
		},
	}
	root.SetVersionTemplate(info.String() + "\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError(suggestFlag(cmd, err)) })
	root.SuggestionsMinimumDistance = 2

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
	f.IntVar(&g.concurrency, "concurrency", 0, "artifacts checked at once (default: verify checks all of a run's artifacts at once, at least 64 and at most 256; 64 when downloading, fetching or mirroring)")
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

	env := &envFlags{getenv: getenv, used: map[string]string{}}
	g.fromEnv, g.flags = env.used, f
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
		return nil, g, usageError(fmt.Errorf("environment: %w", errors.Join(env.errs...)))
	}
	return root, g, nil
}

// endRun releases the run's deadline timer.
func (g *globalOptions) endRun() {
	if g.cancelRun != nil {
		g.cancelRun()
	}
}
