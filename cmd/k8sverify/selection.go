package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// selection is --kind and --platform: which artifacts of a release a
// command is about.
type selection struct {
	kinds     []string
	platforms []string
}

// addFlags defines --kind and --platform; verb says what is done with
// the artifacts ("list", "verify", "fetch").
func (s *selection) addFlags(f *pflag.FlagSet, verb string) {
	f.StringSliceVar(&s.kinds, "kind", nil, "artifact kinds to "+verb+": binary, tarball, image (comma-separated; default all)")
	f.StringSliceVar(&s.platforms, "platform", nil, "platforms to "+verb+", os/arch (repeatable; default all)")
}

// parse checks the flags before anything is fetched.
func (s *selection) parse() ([]artifacts.Kind, []artifacts.Platform, error) {
	var kinds []artifacts.Kind
	for _, k := range s.kinds {
		kind, err := artifacts.ParseKind(strings.TrimSpace(k))
		if err != nil {
			return nil, nil, usageErrorf("--kind: %v", err)
		}
		kinds = append(kinds, kind)
	}
	var platforms []artifacts.Platform
	for _, p := range s.platforms {
		platform, err := artifacts.ParsePlatform(strings.TrimSpace(p))
		if err != nil {
			return nil, nil, usageErrorf("--platform: %v", err)
		}
		platforms = append(platforms, platform)
	}
	return kinds, platforms, nil
}

// checkFormat accepts -o values among allowed.
func checkFormat(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usageErrorf("-o %q: want one of %s", got, strings.Join(allowed, ", "))
}

// oneVersion accepts exactly one VERSION argument.
func oneVersion(command string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("%s takes one VERSION (e.g. v1.24.17, 1.24.17 or latest-1.24), got %d arguments", command, len(args))
		}
		return nil
	}
}
