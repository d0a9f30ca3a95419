package artifacts

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld/fakeweb"
)

// countingWeb counts the documents opened.
type countingWeb struct {
	fakeweb.Pages
	n atomic.Int32
}

func (w *countingWeb) Open(ctx context.Context, url string) (io.ReadCloser, error) {
	w.n.Add(1)
	return w.Pages.Open(ctx, url)
}

// stripSums returns r's artifacts without the catalog's sums, as a
// release the catalog holds none for.
func stripSums(r *Release) *Release {
	out := *r
	out.Artifacts = nil
	for _, a := range r.Artifacts {
		a.Sums = nil
		out.Artifacts = append(out.Artifacts, a)
	}
	return &out
}

// The CHANGELOG read as a channel gives 1.24 the very sums the embedded
// catalog holds (v1.24.14's section, as kubernetes/kubernetes publishes
// it, kept in internal/catalog/testdata).
func TestChannelsChangelogEqualsEmbedded(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "internal", "catalog", "testdata", "CHANGELOG-1.24.excerpt.md"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Channels{URL: "https://raw.example"}
	web := fakeweb.Pages{c.ChangelogURL("1.24"): string(doc)}
	c.Open = web
	embedded, err := CatalogRelease(Version{1, 24, 14}, DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	bound := stripSums(embedded).Filter([]Kind{KindTarball}, nil)
	if _, warnings := c.Bind(context.Background(), bound); len(warnings) > 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	n := 0
	for i, a := range bound.Artifacts {
		want := embedded.Filter([]Kind{KindTarball}, nil).Artifacts[i]
		got, emb := a.SumFrom("sha512", SumChangelog), want.SumFrom("sha512", SumCatalog)
		if emb == "" {
			// The CHANGELOG lists no test tarballs nor manifests: unbound, said.
			if got != "" || len(a.Unbound) != 1 {
				t.Errorf("%s: changelog %q unbound %v, embedded none", a.ID(), got, a.Unbound)
			}
			continue
		}
		if got != emb || len(a.Unbound) > 0 {
			t.Errorf("%s: changelog %q unbound %v, embedded %q", a.ID(), got, a.Unbound, emb)
		}
		n++
	}
	if n != 24 {
		t.Errorf("%d tarballs compared, want 24", n)
	}
}

// A channel that cannot be read leaves every artifact it could have
// bound saying so, and a warning; the document is read once per run.
func TestChannelsUnreachable(t *testing.T) {
	rel, err := CatalogRelease(Version{1, 33, 2}, DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	web := &countingWeb{Pages: fakeweb.Pages{}}
	c := &Channels{URL: "https://raw.example", ChangelogRef: "abc123", Open: web}
	for range 2 {
		r := stripSums(rel)
		_, warnings := c.Bind(context.Background(), r)
		if len(warnings) != 2 {
			t.Fatalf("warnings %v, want one per channel", warnings)
		}
		for _, a := range r.Artifacts {
			if a.Kind == KindBinary {
				continue
			}
			if len(a.Unbound) != 1 || !strings.Contains(a.Unbound[0].Reason, "404") {
				t.Fatalf("%s: unbound %v", a.ID(), a.Unbound)
			}
		}
	}
	if web.n.Load() != 2 {
		t.Errorf("%d documents opened for two releases, want 2 (one per channel, cached)", web.n.Load())
	}
	if !strings.Contains(c.ChangelogURL("1.33"), "/kubernetes/kubernetes/abc123/CHANGELOG/CHANGELOG-1.33.md") {
		t.Errorf("changelog URL %s", c.ChangelogURL("1.33"))
	}
	offline := &Channels{}
	r := stripSums(rel)
	if _, w := offline.Bind(context.Background(), r); len(w) > 0 {
		t.Errorf("offline warnings %v", w)
	}
	for _, a := range r.Artifacts {
		if a.Kind != KindBinary && (len(a.Unbound) != 1 || !strings.Contains(a.Unbound[0].Reason, "offline")) {
			t.Fatalf("offline %s: unbound %v", a.ID(), a.Unbound)
		}
	}
}

// The promoter's manifest binds each image repository's tag; a tag it
// does not list is unbound, never guessed.
func TestChannelsPromoter(t *testing.T) {
	rel, err := CatalogRelease(Version{1, 33, 2}, DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	rel = rel.Filter([]Kind{KindImage}, nil)
	c := &Channels{URL: "https://raw.example"}
	var b strings.Builder
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, a := range rel.Artifacts {
		repo := a.Name
		if !a.Platform.IsZero() {
			repo += "-" + a.Platform.Arch
		}
		if repo == "kube-proxy-s390x" {
			continue
		}
		b.WriteString("- name: " + repo + "\n  dmap:\n    \"" + d + "\": [\"v1.33.2\"]\n")
	}
	c.Open = fakeweb.Pages{c.PromoterURL(): b.String()}
	c.Bind(context.Background(), rel)
	for _, a := range rel.Artifacts {
		if a.Name == "kube-proxy" && a.Platform.Arch == "s390x" {
			if len(a.Unbound) != 1 || a.SumFrom("sha256", SumPromoter) != "" {
				t.Errorf("%s: unbound %v sums %v", a.ID(), a.Unbound, a.Sums)
			}
			continue
		}
		if a.SumFrom("sha256", SumPromoter) != strings.Repeat("ab", 32) || len(a.Unbound) > 0 {
			t.Errorf("%s: sums %v unbound %v", a.ID(), a.Sums, a.Unbound)
		}
	}
}
