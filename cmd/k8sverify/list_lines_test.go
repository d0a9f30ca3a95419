package main

import (
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// TestListOfflineEveryLine runs `list VERSION --offline -o json` for every
// release of every line the catalog holds, one subtest per line: each
// gives the release's date and the layout of its line (no linux/arm server
// tarball or arm image from 1.27, the kubectl image from 1.28).
func TestListOfflineEveryLine(t *testing.T) {
	byLine := map[string][]artifacts.Version{}
	for _, v := range artifacts.CatalogVersions() {
		byLine[v.Line()] = append(byLine[v.Line()], v)
	}
	if len(byLine) != 13 {
		t.Fatalf("%d lines, want 13 (1.24 … 1.36)", len(byLine))
	}
	for line, vs := range byLine {
		t.Run(line, func(t *testing.T) {
			minor := vs[0].Minor
			for _, v := range vs {
				code, stdout, stderr := run(t, "list", v.String(), "--offline", "-o", "json")
				if code != ExitOK || stderr != "" {
					t.Fatalf("%s: exit %d, stderr:\n%s", v, code, stderr)
				}
				rep, err := report.Read(strings.NewReader(stdout))
				if err != nil {
					t.Fatalf("%s: %v", v, err)
				}
				want, err := artifacts.CatalogRelease(v, artifacts.DefaultLocations)
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Releases) != 1 || rep.Releases[0].Date != want.Date || want.Date == "" || len(rep.Artifacts) != len(want.Artifacts) {
					t.Errorf("%s: releases %+v, %d artifacts; want date %s, %d artifacts", v, rep.Releases, len(rep.Artifacts), want.Date, len(want.Artifacts))
				}
				ids := map[string]bool{}
				for _, a := range rep.Artifacts {
					ids[a.ID()] = true
				}
				for id, present := range map[string]bool{
					"tarball kubernetes-server-linux-arm.tar.gz linux/arm":     minor < 27,
					"image kube-apiserver linux/arm":                           minor < 27,
					"image kubectl linux/arm64":                                minor >= 28,
					"binary kubectl linux/arm":                                 true,
					"tarball kubernetes-server-linux-arm64.tar.gz linux/arm64": true,
				} {
					if ids[id] != present {
						t.Errorf("%s: %s listed %v, want %v", v, id, ids[id], present)
					}
				}
			}
		})
	}
}
