package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/k8sverify/k8sverify/pkg/report"
)

// Set at build time: -ldflags "-X main.version=v0.3.0 -X main.commit=…".
var (
	version = ""
	commit  = ""
)

// versionInfo says which k8sverify this is.
type versionInfo struct {
	Version, Commit, GoVersion string
}

func (v versionInfo) String() string {
	s := "k8sverify " + v.Version
	if v.Commit != "" {
		s += " (commit " + v.Commit + ")"
	}
	return s + ", " + v.GoVersion
}

func (v versionInfo) tool() report.Tool {
	return report.Tool{Name: "k8sverify", Version: v.Version, Commit: v.Commit, GoVersion: v.GoVersion}
}

// buildInfo is the version set at build time, else the module's version
// as go install records it, else "devel"; the commit likewise.
func buildInfo() versionInfo {
	v := versionInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v.Commit == "" {
				v.Commit = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print k8sverify's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), buildInfo())
			return err
		},
	}
}
