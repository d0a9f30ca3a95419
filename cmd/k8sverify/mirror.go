package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/mirror"
	"github.com/k8sverify/k8sverify/pkg/report"
)

type mirrorOptions struct {
	outputs
	to        string
	fromPack  string
	kinds     []string
	platforms []string
	dryRun    bool
}

func newMirrorCmd(g *globalOptions) *cobra.Command {
	o := &mirrorOptions{}
	cmd := &cobra.Command{
		Use:   "mirror VERSION --to REGISTRY[/PREFIX]",
		Short: "Copy a release's verified images, with their tags and signatures, into a registry",
		Long: `Verify the images of a release, then copy every image that verified into
another registry — the multi-arch index (name:VERSION), each platform's image
(name-ARCH:VERSION), their layers — with its tags and every signature of it
that verified: cosign's sha256-<digest>.sig tags (of the index and of each
platform image, in each repository they were found in) and Sigstore bundles
attached as OCI referrers. Then verify the copies where they now are: the
verdicts and the exit code are those at the destination.

Nothing that did not verify is copied. An index is copied only when every
image it lists verified; otherwise the report says why it was not. Content and
signatures are written before tags, so an interrupted mirror never leaves a
tag naming an image without its signatures. Running it again copies nothing.

With --from-pack, the images and their signatures come from an evidence pack
written with 'k8sverify fetch VERSION --out DIR --with-images' (no network but
the destination registry; the trust from the pack's TUF metadata or
--trusted-root): for loading an air-gapped registry.

Credentials for the destination come from the Docker config and its
credential helpers (docker login, as for crane and cosign). A registry on
plain http off loopback needs --allow-http-registry.`,
		Example: `  k8sverify mirror v1.24.17 --to registry.example.com/k8s
  k8sverify mirror v1.24.17 --to registry.example.com/k8s --dry-run
  k8sverify mirror v1.24.17 --to registry.example.com/k8s --platform linux/amd64
  k8sverify mirror --from-pack ./pack --to registry.internal:5000/k8s`,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usageErrorf("mirror takes one VERSION, got %d arguments", len(args))
			case len(args) == 0 && o.fromPack == "":
				return usageErrorf("mirror takes a VERSION (e.g. v1.24.17), or --from-pack DIR")
			case len(args) == 1:
				if _, isLine := artifacts.ParseLine(args[0]); isLine {
					return usageErrorf("mirror takes one release, not the line %s", args[0])
				}
				return checkVersion(args[0])
			}
			return nil
		},
		ValidArgsFunction: completeVersions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMirror(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.to, "to", "", "destination registry host[:port][/prefix] (required)")
	f.StringVar(&o.fromPack, "from-pack", "", "copy from this evidence pack (fetch --with-images) instead of the source registry")
	f.StringSliceVar(&o.kinds, "kind", nil, "artifact kinds: only image (the default) is mirrored")
	f.StringSliceVar(&o.platforms, "platform", nil, "mirror only these platforms' images, os/arch (repeatable; indexes, which list every platform, are then left out)")
	f.BoolVar(&o.dryRun, "dry-run", false, "verify and say what would be copied, writing nothing")
	o.outputs.addFlag(f, report.Formats)
	registerCompletions(cmd, report.Formats)
	return cmd
}

func (o *mirrorOptions) request(args []string) (mirror.Request, error) {
	req := mirror.Request{To: o.to, DryRun: o.dryRun}
	if len(args) == 1 {
		req.Version = args[0]
	}
	if o.to == "" {
		return req, usageErrorf("mirror needs --to REGISTRY[/PREFIX], the registry to copy into")
	}
	if scheme, rest, ok := strings.Cut(o.to, "://"); ok {
		return req, toSchemeError(o.to, scheme, rest)
	}
	for _, k := range o.kinds {
		if strings.TrimSpace(k) != string(artifacts.KindImage) {
			return req, usageErrorf("--kind %q: mirror copies images only (binaries and tarballs: k8sverify verify --download --out DIR)", k)
		}
	}
	platforms, err := parsePlatforms(o.platforms)
	if err != nil {
		return req, err
	}
	req.Platforms = platforms
	return req, nil
}

func runMirror(cmd *cobra.Command, g *globalOptions, o *mirrorOptions, args []string) error {
	outs, err := o.outputs.parse(append(g.inputs(), o.fromPack)...)
	if err != nil {
		return err
	}
	req, err := o.request(args)
	if err != nil {
		return err
	}
	// From a pack, the pack's TUF metadata gives the trusted root (verified
	// from the TUF root) unless a trusted root is named.
	s, err := g.session(runMode{pack: o.fromPack})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	res, err := mirror.Copy(cmd.Context(), s, req)
	if err != nil {
		return commandError(err)
	}
	printWarnings(cmd.ErrOrStderr(), res.Warnings)
	rep := report.NewVerification(buildInfo().tool(), time.Now(), []report.Section{{Release: res.Release, Verdicts: res.Verdicts}}, res.Warnings)
	rep.Seconds = time.Since(start).Seconds()
	rep.Mirror = &report.Mirror{To: res.To, DryRun: req.DryRun, Copied: counts(res.Copied), Present: counts(res.Present)}
	if req.DryRun {
		would := counts(res.WouldCopy)
		rep.Mirror.WouldCopy = &would
	}
	if !g.quiet {
		mirrorSummary(cmd.ErrOrStderr(), rep.Mirror, errors.Is(context.Cause(cmd.Context()), context.Canceled))
	}
	return o.outputs.write(cmd.Context(), g, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, outs)
}

func counts(c mirror.Counts) report.MirrorCounts {
	return report.MirrorCounts{Images: c.Images, Signatures: c.Signatures, Tags: c.Tags}
}

// mirrorSummary says on stderr what the mirror wrote, or would write
// (a dry run), and that it was interrupted.
func mirrorSummary(w io.Writer, m *report.Mirror, interrupted bool) {
	c, p := m.Copied, m.Present
	switch {
	case m.DryRun && m.WouldCopy != nil:
		fmt.Fprintf(w, "mirror to %s: dry run, nothing written; would copy %s (those the destination already holds included)\n", m.To, countsText(*m.WouldCopy, ", "))
	case m.DryRun:
		fmt.Fprintf(w, "mirror to %s: dry run, nothing written\n", m.To)
	case interrupted && c == (report.MirrorCounts{}):
		fmt.Fprintf(w, "mirror to %s: interrupted before anything was copied; run it again to copy what verifies\n", m.To)
	case interrupted:
		fmt.Fprintf(w, "mirror to %s: interrupted after copying %s (already there: %s); run it again to copy the rest\n", m.To, countsText(c, ", "), countsText(p, ", "))
	case c == (report.MirrorCounts{}) && p == (report.MirrorCounts{}):
		fmt.Fprintf(w, "mirror to %s: nothing copied: no image verified\n", m.To)
	case c == (report.MirrorCounts{}):
		fmt.Fprintf(w, "mirror to %s: nothing copied: the %s were already there\n", m.To, countsText(p, " and "))
	default:
		fmt.Fprintf(w, "mirror to %s: copied %s (already there: %s)\n", m.To, countsText(c, ", "), countsText(p, ", "))
	}
}

// countsText says "30 images, 55 signatures, 1 tag" (last is what comes
// before the last count).
func countsText(c report.MirrorCounts, last string) string {
	return counted(c.Images, "image") + ", " + counted(c.Signatures, "signature") + last + counted(c.Tags, "tag")
}

func counted(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// toSchemeError refuses a --to with a scheme: --to names a registry as
// host[:port][/prefix], and whether it is reached on plain http follows
// from the host (loopback), or --allow-http-registry, never from a scheme.
func toSchemeError(to, scheme, rest string) error {
	msg := fmt.Sprintf("--to %q: want host[:port][/prefix], without a scheme: --to %s", to, shellQuote(rest))
	if strings.EqualFold(scheme, "http") {
		msg += " (plain http needs no flag on loopback, and --allow-http-registry elsewhere)"
	}
	return usageError(errors.New(msg))
}
