package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// The request budget of a release audit, counted by the world's servers:
// a change that adds round trips fails here, not on a stopwatch.
//
//   - download site: one request per run (its redirect of /release/ to
//     the CDN, learned from the first answer), and one per tarball (the
//     HEAD that asks whether it exists: the CDN wants the signed URL only
//     the site gives);
//   - CDN: 4 per file (.sha256, .sig, .cert, and a HEAD of the file: the
//     CDN has served a .sha256 without its binary, kubernetes#121509),
//     plus the .sha512 of a file whose SHA-512 the catalog holds
//     (tarballs: the CHANGELOG's sums) and the refused direct HEAD of a
//     tarball;
//   - registry: at most 10 per image (its tag, its configuration, the
//     signature and referrers tags of its digest in its repository and
//     its index's, the signature layers: two per .sig, the staging
//     signature the promoter carries over and its own) and one ping and
//     one referrers probe per run;
//   - Rekor: lookups of ten signatures per request, so at most one request
//     per two artifacts even when timing splits the batches;
//   - the registry's backends: the front redirects each manifest and
//     blob request to a backend or object storage, as registry.k8s.io
//     does; requests of a kind go to where the front redirected that
//     kind before (transport.RegistryRoutes), so front and backends
//     together answer at most twice the registry's budget;
//   - the whole v1.24.17 release (160 artifacts): at most 1300, the
//     redirect hops and the existence checks included.
func TestRequestBudget(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{ReferrersAPI: api})
			rel := sessions.Selected(t, w)
			s := sessions.New(t, sessions.Config(w))
			w.ResetRequests()
			// As users run it: the release listed from its SBOM and the
			// catalog, the SBOM's sums bound (a binary's SHA-512 from the
			// SBOM asks for no .sha512).
			res, err := s.Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			vs := res[0].Verdicts
			var files, sha512s, tarballs, images int
			for _, v := range vs {
				if v.Status != verify.StatusVerified {
					t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
				}
				switch v.Artifact.Kind {
				case artifacts.KindImage:
					images++
				default:
					files++
					if v.Artifact.Kind == artifacts.KindTarball {
						tarballs++
					}
					if v.Artifact.SumFrom("sha512", artifacts.SumCatalog) != "" {
						sha512s++
					}
				}
			}
			if len(vs) != len(rel.Artifacts) {
				t.Fatalf("%d verdicts for %d artifacts", len(vs), len(rel.Artifacts))
			}
			got := map[string]int64{}
			var total int64
			var lines []string
			for server, classes := range w.Requests() {
				for class, n := range classes {
					got[server] += n
					total += n
					lines = append(lines, fmt.Sprintf("%s %s: %d", server, class, n))
				}
			}
			budget := map[string]int64{
				"site":     int64(2 + tarballs), // the release SBOM, the one redirect learned, the tarballs' HEADs
				"cdn":      int64(4*files + sha512s + tarballs),
				"registry": int64(10*images + 2),
				"rekor":    int64(len(vs) / 2),
			}
			if hops := got["backend"] + got["regional"] + got["relocated"] + got["storage"]; hops+got["registry"] > 2*budget["registry"] {
				t.Errorf("%d requests to the registry's backends and %d to its front, budget %d in all", hops, got["registry"], 2*budget["registry"])
			}
			for server, max := range budget {
				if got[server] > max {
					t.Errorf("%s: %d requests, budget %d", server, got[server], max)
				}
			}
			if total > 1300 {
				t.Errorf("%d requests in all, budget 1300", total)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("%d files, %d images, %d requests:\n%s", files, images, total, strings.Join(lines, "\n"))
			}
		})
	}
}
