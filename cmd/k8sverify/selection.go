package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
)

// selection is --kind, --platform and --include-never-signed: which
// artifacts of a release a command is about.
type selection struct {
	kinds       []string
	platforms   []string
	neverSigned bool
}

// addFlags defines the selection flags; verb says what is done with the
// artifacts ("list", "verify", "fetch").
func (s *selection) addFlags(f *pflag.FlagSet, verb string) {
	f.StringSliceVar(&s.kinds, "kind", nil, "artifact kinds to "+verb+": binary, tarball, image (comma-separated; default all)")
	f.StringSliceVar(&s.platforms, "platform", nil, "platforms to "+verb+", os/arch (repeatable; default all)")
	if verb != "list" {
		f.BoolVar(&s.neverSigned, "include-never-signed", false, "also "+verb+" the files the release process never signs (.docker_tag): they are reported unsigned")
	}
}

// parse checks the flags before anything is fetched.
func (s *selection) parse() (audit.Selection, error) {
	sel := audit.Selection{NeverSigned: s.neverSigned}
	for _, k := range s.kinds {
		kind, err := artifacts.ParseKind(strings.TrimSpace(k))
		if err != nil {
			return sel, usageErrorf("--kind: %v", err)
		}
		sel.Kinds = append(sel.Kinds, kind)
	}
	platforms, err := parsePlatforms(s.platforms)
	if err != nil {
		return sel, err
	}
	sel.Platforms = platforms
	return sel, nil
}

// parsePlatforms parses --platform values (os/arch).
func parsePlatforms(values []string) ([]artifacts.Platform, error) {
	var out []artifacts.Platform
	for _, p := range values {
		platform, err := artifacts.ParsePlatform(strings.TrimSpace(p))
		if err != nil {
			return nil, usageErrorf("--platform: %v", err)
		}
		out = append(out, platform)
	}
	return out, nil
}

// checkVersion rejects a malformed VERSION before anything else happens.
func checkVersion(s string) error {
	if _, ok := artifacts.ParseLatest(s); ok {
		return nil
	}
	if _, ok := artifacts.ParseLine(s); ok {
		return nil
	}
	if _, err := artifacts.ParseVersion(s); err != nil {
		return usageError(err)
	}
	return nil
}

// versionArgs accepts VERSION arguments: exactly one, or (many) one or more.
func versionArgs(command string, many bool) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == 0 && many:
			return usageErrorf("%s takes one or more VERSIONs (e.g. v1.24.17, 1.24.17, latest-1.24, or 1.24 for every patch release of the line)", command)
		case len(args) != 1 && !many:
			return usageErrorf("%s takes one VERSION (e.g. v1.24.17, 1.24.17 or latest-1.24), got %d arguments", command, len(args))
		}
		for _, a := range args {
			if _, isLine := artifacts.ParseLine(a); isLine && !many {
				return usageErrorf("%s takes one release, not the line %s", command, a)
			}
			if err := checkVersion(a); err != nil {
				return err
			}
		}
		return nil
	}
}

// completeVersions completes VERSION arguments from the catalog.
func completeVersions(_ *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	var out []string
	lines := map[string]bool{}
	for _, v := range artifacts.CatalogVersions() {
		out = append(out, v.String())
		if !lines[v.Line()] {
			lines[v.Line()] = true
			out = append(out, v.Line(), "latest-"+v.Line())
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// registerCompletions completes the selection flags' values.
func registerCompletions(cmd *cobra.Command, formats []string) {
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletion("binary", "tarball", "image"))
	_ = cmd.RegisterFlagCompletionFunc("platform", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var ps []string
		if r, err := artifacts.CatalogRelease(artifacts.CatalogVersions()[len(artifacts.CatalogVersions())-1], artifacts.DefaultLocations); err == nil {
			for _, p := range r.Platforms() {
				ps = append(ps, p.String())
			}
		}
		return ps, cobra.ShellCompDirectiveNoFileComp
	})
	if formats != nil {
		_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(formats...))
	}
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
