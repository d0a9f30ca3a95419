package testworld_test

import (
	"context"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// A world of two lines: each release laid out per its line (1.36 has a
// kubectl image and no linux/arm server tarball, 1.24 the opposite),
// one catalog of both lines, and the channel host serving each line's
// CHANGELOG and the promoter's manifest, whose sums and digests are the
// world's: for 1.24, what the world's catalog holds in place of the
// embedded sums.
func TestWorldOfTwoLinesServesTheirChannels(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.36.0,v1.24.17", Kinds: []artifacts.Kind{artifacts.KindTarball, artifacts.KindImage}})
	if len(w.Releases) != 2 {
		t.Fatalf("%d releases", len(w.Releases))
	}
	has := func(r *artifacts.Release, id string) bool {
		for _, a := range r.Artifacts {
			if a.ID() == id {
				return true
			}
		}
		return false
	}
	r24, r36 := w.Releases[0].Release, w.Releases[1].Release
	if !has(r36, "image kubectl") || has(r24, "image kubectl") || has(r36, "tarball kubernetes-server-linux-arm.tar.gz linux/arm") || !has(r24, "tarball kubernetes-server-linux-arm.tar.gz linux/arm") {
		t.Errorf("layouts not per line")
	}
	for _, v := range []artifacts.Version{{Major: 1, Minor: 24, Patch: 17}, {Major: 1, Minor: 36, Patch: 0}} {
		if _, err := w.Catalog.Release(v, artifacts.DefaultLocations); err != nil {
			t.Errorf("the world's catalog: %v", err)
		}
	}
	c := &artifacts.Channels{URL: w.ChannelsURL, Open: transport.New()}
	for _, rs := range w.Releases {
		want, err := w.Catalog.Release(rs.Version, artifacts.Locations{DownloadURL: w.DownloadURL, Registry: w.Registry})
		if err != nil {
			t.Fatal(err)
		}
		got := stripped(rs.Release)
		if _, warnings := c.Bind(context.Background(), got); len(warnings) > 0 {
			t.Fatalf("%s: %v", rs.Version, warnings)
		}
		bound := 0
		for _, a := range got.Artifacts {
			s := a.SumFrom("sha512", artifacts.SumChangelog) + a.SumFrom("sha256", artifacts.SumPromoter)
			if s == "" {
				if a.Kind == artifacts.KindImage || !strings.Contains(a.Name, "test") && !strings.Contains(a.Name, "manifests") {
					t.Errorf("%s %s: unbound %v", rs.Version, a.ID(), a.Unbound)
				}
				continue
			}
			bound++
			if rs.Version.Line() == "1.24" {
				for _, wa := range want.Artifacts {
					if wa.ID() == a.ID() && wa.SumFrom("sha512", artifacts.SumCatalog)+wa.SumFrom("sha256", artifacts.SumCatalog) != s {
						t.Errorf("%s %s: the channels give %s, the catalog %v", rs.Version, a.ID(), s, wa.Sums)
					}
				}
			}
		}
		if bound == 0 {
			t.Errorf("%s: nothing bound", rs.Version)
		}
	}
}

func stripped(r *artifacts.Release) *artifacts.Release {
	out := *r
	out.Artifacts = nil
	for _, a := range r.Artifacts {
		a.Sums = nil
		out.Artifacts = append(out.Artifacts, a)
	}
	return &out
}
