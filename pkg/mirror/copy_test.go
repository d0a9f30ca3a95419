package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	gcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/airgap"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/mirror"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

var imageKind = []artifacts.Kind{artifacts.KindImage}

// destination starts an in-process registry to mirror into (its handler
// wrapped by wrap, if given) and returns its host:port with a prefix.
func destination(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/mirror"
}

// mirrorConfig is config with a generous request timeout: a mirror
// copies whole releases, and a loaded machine must not make errors of it.
func mirrorConfig(w *testworld.World) audit.Config {
	c := sessions.Config(w)
	c.Timeout = 30 * time.Second
	return c
}

func copyRelease(t testing.TB, w *testworld.World, c audit.Config, req mirror.Request) *mirror.Result {
	t.Helper()
	res, err := mirror.CopyRelease(context.Background(), sessions.New(t, c), sessions.Selected(t, w), req)
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	return res
}

// tagged returns the digest repo:tag names at the destination ("" when
// the tag is not there).
func tagged(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r)
	var te *gcrtransport.Error
	switch {
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return ""
	case err != nil:
		t.Fatalf("head %s: %v", ref, err)
	}
	return desc.Digest.String()
}

// sigLayers counts the layers of cosign's .sig manifest of digest in repo.
func sigLayers(t *testing.T, repo string, digest v1.Hash) int {
	t.Helper()
	tag, err := name.NewTag(evidence.SignatureTag(repo, digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := ociremote.Signatures(tag)
	if err != nil {
		t.Fatalf("signatures %s: %v", tag, err)
	}
	list, err := sigs.Get()
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func byRepoOf(t *testing.T, res *mirror.Result) map[string]verify.Verdict {
	t.Helper()
	return sessions.ByRepo(t, res.Verdicts)
}

// The whole mirror: every image, tag and signature copied, verified at
// the destination (by verify, as users check a mirror); a second run
// copies nothing.
func TestMirrorCopiesEverythingThatVerifiesOnce(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true})
	to := destination(t, nil)
	res := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to})
	if len(res.Verdicts) != 6 {
		t.Fatalf("%d verdicts, want 6", len(res.Verdicts))
	}
	for repo, v := range byRepoOf(t, res) {
		if v.Status != verify.StatusVerified || !strings.HasPrefix(v.Artifact.Location, to+"/") {
			t.Errorf("%s: %s at %s: %s", repo, v.Status, v.Artifact.Location, v.Reason)
		}
		if got := tagged(t, to+"/"+repo+":"+w.Version.String()); got != w.Images[repo].Digest.String() {
			t.Errorf("%s: the tag names %q, want %s", repo, got, w.Images[repo].Digest)
		}
	}
	// 6 manifests; a .sig per index and one per platform image in each of
	// its two repositories; 6 tags.
	want := mirror.Counts{Images: 6, Signatures: 2 + 4 + 4, Tags: 6}
	if res.Copied != want || res.Present != (mirror.Counts{}) {
		t.Errorf("copied %+v, present %+v; want %+v copied", res.Copied, res.Present, want)
	}
	if n := sigLayers(t, to+"/kube-apiserver", w.Images["kube-apiserver-arm64"].Digest); n != 1 {
		t.Errorf("the platform image's signature in the index's repository: %d layers", n)
	}

	// As verify --registry DEST does.
	rel := sessions.Selected(t, w)
	for i, a := range rel.Artifacts {
		rel.Artifacts[i].Location = strings.Replace(a.Location, w.Registry, to, 1)
	}
	res2, err := sessions.New(t, mirrorConfig(w)).VerifyReleases(context.Background(), []*artifacts.Release{rel}, audit.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res2[0].Verdicts {
		if v.Status != verify.StatusVerified {
			t.Errorf("verify at the mirror: %s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}

	again := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to})
	if again.Copied != (mirror.Counts{}) || again.Present != want {
		t.Errorf("second mirror: copied %+v, present %+v; want nothing copied, %+v present", again.Copied, again.Present, want)
	}
	for _, v := range again.Verdicts {
		if v.Status != verify.StatusVerified {
			t.Errorf("second mirror: %s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
	if len(again.Warnings) != 0 {
		t.Errorf("second mirror warns: %q", again.Warnings)
	}

	// A release tag moved at the destination (to another genuine image
	// of the release) is put back, and the mirror says so.
	proxy := to + "/kube-proxy:" + w.Version.String()
	arm64 := w.Images["kube-proxy-arm64"].Digest.String()
	if err := crane.Tag(to+"/kube-proxy@"+arm64, w.Version.String(), crane.Insecure); err != nil {
		t.Fatal(err)
	}
	third := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to})
	if third.Copied != (mirror.Counts{Tags: 1}) {
		t.Errorf("third mirror copied %+v, want the one tag", third.Copied)
	}
	if got := tagged(t, proxy); got != w.Images["kube-proxy"].Digest.String() {
		t.Errorf("the moved tag names %s after the mirror", got)
	}
	if len(third.Warnings) != 1 || !strings.Contains(third.Warnings[0], proxy+" named "+arm64) {
		t.Errorf("a moved tag put back without a word: %q", third.Warnings)
	}
}

// A forged platform image is not copied, nor its index (which lists it);
// the other images are, and the run reports the failure.
func TestMirrorCopiesNothingUnverified(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultForeignIdentity, Target: "kube-proxy-arm64"},
	}})
	to := destination(t, nil)
	res := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to})
	vs := byRepoOf(t, res)
	if v := vs["kube-proxy-arm64"]; v.Status != verify.StatusFailed || !errors.Is(v.Err, sigverify.ErrIdentityMismatch) || !strings.HasPrefix(v.Reason, "not copied: failed at the source") {
		t.Errorf("forged image: %s: %s", v.Status, v.Reason)
	}
	if v := vs["kube-proxy"]; v.Status != verify.StatusMissing || !strings.Contains(v.Reason, "linux/arm64 manifest") {
		t.Errorf("index of a forged image: %s: %s", v.Status, v.Reason)
	}
	for _, repo := range []string{"kube-proxy-arm64", "kube-proxy"} {
		d := w.Images[repo].Digest.String()
		if got := tagged(t, to+"/"+repo+":"+w.Version.String()); got != "" {
			t.Errorf("%s tagged at the destination", repo)
		}
		if got := tagged(t, to+"/"+repo+"@"+d); got != "" {
			t.Errorf("%s copied to the destination", repo)
		}
		if got := tagged(t, evidence.SignatureTag(to+"/"+repo, w.Images["kube-proxy-arm64"].Digest.String())); got != "" {
			t.Errorf("the forged signature was copied into %s", repo)
		}
	}
	for _, repo := range []string{"kube-apiserver", "kube-apiserver-amd64", "kube-apiserver-arm64", "kube-proxy-amd64"} {
		if v := vs[repo]; v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", repo, v.Status, v.Reason)
		}
	}
}

// An index left out names why its platform image was not copied, also
// when that image failed before its digest was bound (another platform's
// image served under its name).
func TestMirrorIndexLeftOutSaysWhy(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultCrossArch, Target: "kube-proxy-amd64"},
	}})
	res := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: destination(t, nil)})
	v := byRepoOf(t, res)["kube-proxy"]
	if v.Status != verify.StatusMissing || !strings.Contains(v.Reason, "is not copied (failed at the source)") || strings.Contains(v.Reason, "(-)") {
		t.Errorf("index of a failed image: %s: %s", v.Status, v.Reason)
	}
}

// Of two signatures, only the one that verifies is copied (v1.24.6's
// images carry one by krel-staging too).
func TestMirrorCopiesOnlyTheSignaturesThatVerify(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.6", Kinds: imageKind, Small: true})
	to := destination(t, nil)
	res := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to})
	for repo, v := range byRepoOf(t, res) {
		if v.Status != verify.StatusVerified || len(v.Signatures) != 1 {
			t.Errorf("%s: %s with %d signatures at the destination: %s", repo, v.Status, len(v.Signatures), v.Reason)
		}
	}
	if n := sigLayers(t, w.Registry+"/kube-apiserver-amd64", w.Images["kube-apiserver-amd64"].Digest); n != 2 {
		t.Fatalf("the world signs twice: %d", n)
	}
	if n := sigLayers(t, to+"/kube-apiserver-amd64", w.Images["kube-apiserver-amd64"].Digest); n != 1 {
		t.Errorf("%d signatures copied, want the 1 that verified", n)
	}
}

// A destination failing midway: that image is an error with the
// registry's message, and neither it nor its index is tagged.
func TestMirrorWriteFailureLeavesNoTag(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true})
	var refused atomic.Int32
	to := destination(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			// The signatures of kube-proxy-arm64 cannot be written.
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/kube-proxy-arm64/manifests/sha256-") {
				refused.Add(1)
				http.Error(rw, `{"errors":[{"code":"UNKNOWN","message":"disk quota exceeded"}]}`, http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(rw, r)
		})
	})
	c := mirrorConfig(w)
	res := copyRelease(t, w, c, mirror.Request{Version: w.Version.String(), To: to})
	vs := byRepoOf(t, res)
	if v := vs["kube-proxy-arm64"]; v.Status != verify.StatusError || !strings.Contains(v.Reason, "disk quota exceeded") || !errors.Is(v.Err, mirror.ErrRegistryWrite) {
		t.Errorf("refused write: %s: %s", v.Status, v.Reason)
	}
	if v := vs["kube-proxy"]; v.Status != verify.StatusError || !strings.Contains(v.Reason, "linux/arm64 manifest was not copied") {
		t.Errorf("index: %s: %s", v.Status, v.Reason)
	}
	for _, repo := range []string{"kube-proxy-arm64", "kube-proxy"} {
		if got := tagged(t, to+"/"+repo+":"+w.Version.String()); got != "" {
			t.Errorf("%s is tagged at the destination", repo)
		}
	}
	if refused.Load() == 0 {
		t.Error("the failing write was never tried")
	}
	for _, repo := range []string{"kube-apiserver", "kube-proxy-amd64"} {
		if v := vs[repo]; v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", repo, v.Status, v.Reason)
		}
	}
}

// A dry run verifies, checks that the destination would take the mirror
// (an upload started and cancelled), and writes nothing; a destination
// that refuses pushes fails the dry run.
func TestMirrorDryRun(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true})
	var writes, uploads atomic.Int32
	to := destination(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodPut, http.MethodPatch:
				writes.Add(1)
			case http.MethodPost:
				uploads.Add(1)
			}
			next.ServeHTTP(rw, r)
		})
	})
	res := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to, DryRun: true})
	for _, v := range res.Verdicts {
		if v.Status != verify.StatusVerified || !strings.HasPrefix(v.Reason, "would copy to "+to+"/") {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
	if writes.Load() != 0 || res.Copied != (mirror.Counts{}) {
		t.Errorf("a dry run wrote %d times to the destination", writes.Load())
	}
	if uploads.Load() != 1 {
		t.Errorf("a dry run started %d uploads, want 1 (the push check)", uploads.Load())
	}

	refusing := destination(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				http.Error(rw, `{"errors":[{"code":"DENIED","message":"push refused"}]}`, http.StatusForbidden)
				return
			}
			next.ServeHTTP(rw, r)
		})
	})
	_, err := mirror.CopyRelease(context.Background(), sessions.New(t, mirrorConfig(w)), sessions.Selected(t, w), mirror.Request{To: refusing, DryRun: true})
	if !errors.Is(err, mirror.ErrDestination) || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("dry run into a registry refusing pushes: %v", err)
	}
}

// With platforms, only those platforms' images are mirrored.
func TestMirrorPlatforms(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true})
	to := destination(t, nil)
	amd64 := artifacts.Platform{OS: "linux", Arch: "amd64"}
	res := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to, Platforms: []artifacts.Platform{amd64}})
	if len(res.Verdicts) != 2 {
		t.Fatalf("%d verdicts, want the 2 amd64 images", len(res.Verdicts))
	}
	for _, v := range res.Verdicts {
		if v.Status != verify.StatusVerified || v.Artifact.Platform != amd64 {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// v1.24.8's images, signed by the promoter's identity (a documented
// incident), are mirrored only when the incident is accepted.
func TestMirrorAcceptedIncident(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.8", Kinds: imageKind, Small: true})
	to := destination(t, nil)
	refused := copyRelease(t, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: to})
	for _, v := range refused.Verdicts {
		if v.Status != verify.StatusFailed {
			t.Errorf("without the incident: %s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
	if refused.Copied != (mirror.Counts{}) {
		t.Errorf("copied %+v without the incident accepted", refused.Copied)
	}
	c := mirrorConfig(w)
	c.Rules.AcceptIncidents = []string{"v1.24.8-wrong-identity"}
	res := copyRelease(t, w, c, mirror.Request{Version: w.Version.String(), To: to})
	for _, v := range res.Verdicts {
		if v.Status != verify.StatusVerified || !strings.Contains(v.Reason, "(incident v1.24.8-wrong-identity accepted)") || !strings.HasPrefix(v.Artifact.Location, to) {
			t.Errorf("incident accepted: %s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// Referrers: a Sigstore bundle that verified is copied as a referrer, one
// that did not is not.
func TestMirrorReferrers(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultUnsigned, Target: "kube-proxy-amd64"},
	}})
	attach := func(repo string, id artifacts.Identity) {
		t.Helper()
		d := w.Images[repo].Digest
		b, err := w.Sigstore.SignDSSEBundle(testworld.CosignSignStatementNamed(d, testworld.BackingRegistry+"/"+repo, testworld.CosignSignPredicateType),
			testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: id.SAN, Issuer: id.Issuer}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AttachBundle(repo, d, b); err != nil {
			t.Fatal(err)
		}
	}
	attach("kube-proxy-amd64", artifacts.ImageSigner)
	attach("kube-apiserver-amd64", artifacts.Identity{SAN: testworld.ForeignIdentity, Issuer: artifacts.GoogleIssuer})
	to := destination(t, nil)
	for _, fromPack := range []bool{false, true} {
		dest := to + map[bool]string{false: "/online", true: "/pack"}[fromPack]
		req := mirror.Request{Version: w.Version.String(), To: dest}
		c := mirrorConfig(w)
		if fromPack {
			c.Pack = sessions.FetchPack(t, w, airgap.Request{WithImages: true})
			c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}}
		}
		vs := byRepoOf(t, copyRelease(t, w, c, req))
		if v := vs["kube-proxy-amd64"]; v.Status != verify.StatusVerified || len(v.Signatures) != 1 || v.Signatures[0].Source != verify.SourceReferrer {
			t.Errorf("pack %v: referrer alone: %s: %s", fromPack, v.Status, v.Reason)
		}
		// Its .sig signature may be found in two repositories (the image's
		// and its index's, since recursive signing); never as a referrer.
		if v := vs["kube-apiserver-amd64"]; v.Status != verify.StatusVerified || len(v.Signatures) == 0 {
			t.Errorf("pack %v: kube-apiserver-amd64: %s: %s", fromPack, v.Status, v.Reason)
		} else {
			for _, s := range v.Signatures {
				if s.Source != verify.SourceSignatureTag {
					t.Errorf("pack %v: the foreign referrer is copied: %s at %s", fromPack, s.Source, s.Location)
				}
			}
		}
		for repo, v := range vs {
			if v.Status != verify.StatusVerified {
				t.Errorf("pack %v: %s: %s: %s", fromPack, repo, v.Status, v.Reason)
			}
		}
	}
}

// From an evidence pack, with the source gone: images from the pack's
// OCI layout, signatures rebuilt from its bundles, verified at the
// destination with no transparency log; a second run copies nothing.
func TestMirrorFromPack(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultPayloadDigest, Target: "kube-apiserver-arm64"},
	}})
	pack := sessions.FetchPack(t, w, airgap.Request{WithImages: true})
	w.Close() // the source registry, Rekor and TUF are gone
	to := destination(t, nil)
	c := mirrorConfig(w)
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}}
	c.Pack = pack
	res := copyRelease(t, w, c, mirror.Request{To: to})
	vs := byRepoOf(t, res)
	if v := vs["kube-apiserver-arm64"]; v.Status != verify.StatusFailed || !strings.HasPrefix(v.Reason, "not copied") {
		t.Errorf("forged: %s: %s", v.Status, v.Reason)
	}
	if v := vs["kube-apiserver"]; v.Status != verify.StatusMissing {
		t.Errorf("index of a forged image: %s: %s", v.Status, v.Reason)
	}
	for _, repo := range []string{"kube-apiserver-amd64", "kube-proxy", "kube-proxy-amd64", "kube-proxy-arm64"} {
		v := vs[repo]
		if v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", repo, v.Status, v.Reason)
			continue
		}
		if c := sessions.CheckNamed(v.Signatures[0], "transparency-log"); c == nil || !strings.Contains(c.Actual, "signed entry timestamp") {
			t.Errorf("%s: transparency-log check %+v, want the signed entry timestamp the signature carries", repo, c)
		}
	}
	again := copyRelease(t, w, c, mirror.Request{To: to})
	if again.Copied != (mirror.Counts{}) {
		t.Errorf("second mirror from the pack copied %+v", again.Copied)
	}
}

// BenchmarkMirrorFullRelease mirrors the 30 images of the full v1.24.17
// world into an in-process registry: verified at the source, copied with
// signatures and tags, verified at the destination ("copy"); and again
// into the same registry, which copies nothing ("again").
func BenchmarkMirrorFullRelease(b *testing.B) {
	w := testworld.StartT(b, testworld.Options{Kinds: imageKind})
	dest := destination(b, nil)
	b.Run("copy", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++
			res := copyRelease(b, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: fmt.Sprintf("%s/%d", dest, n)})
			if res.Copied.Images != 30 {
				b.Fatalf("copied %+v", res.Copied)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		for b.Loop() {
			if res := copyRelease(b, w, mirrorConfig(w), mirror.Request{Version: w.Version.String(), To: dest + "/1"}); res.Copied != (mirror.Counts{}) {
				b.Fatalf("copied %+v", res.Copied)
			}
		}
	})
}

// Where an image lives comes from the release, never from a pack: a pack
// whose manifest moves one image to another's place (their locations
// swapped) or to another release's tag is refused for those images by
// verify --offline and by mirror --from-pack (check "name", both places
// named), and nothing is written for them; the others are copied.
func TestPackLocationsComeFromTheRelease(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true})
	dir := sessions.FetchPack(t, w, airgap.Request{WithImages: true})
	const apiserver, proxy, proxyArm = "image kube-apiserver linux/amd64", "image kube-proxy linux/amd64", "image kube-proxy linux/arm64"
	sessions.EditManifest(t, dir, func(m *pack.Manifest) {
		a, b := sessions.Entry(m, apiserver), sessions.Entry(m, proxy)
		a.Location, b.Location = b.Location, a.Location
		c := sessions.Entry(m, proxyArm)
		c.Location = strings.Replace(c.Location, ":"+w.Version.String(), ":v9.9.9", 1)
	})
	moved := map[string]bool{apiserver: true, proxy: true, proxyArm: true}

	vs, err := sessions.Offline(t, w, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, v := range vs {
		if !moved[v.Artifact.ID()] {
			continue
		}
		checked++
		if v.Status != verify.StatusFailed || v.FailedCheck != "name" || !errors.Is(v.Err, verify.ErrLocationMismatch) {
			t.Errorf("offline: %s: %s [%s]: %s", v.Artifact.ID(), v.Status, v.FailedCheck, v.Reason)
		}
	}
	if checked != len(moved) {
		t.Fatalf("offline: %d of the %d moved images judged", checked, len(moved))
	}

	to := destination(t, nil)
	c := mirrorConfig(w)
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}}
	c.Pack = dir
	res := copyRelease(t, w, c, mirror.Request{To: to})
	got := byRepoOf(t, res)
	for _, repo := range []string{"kube-apiserver-amd64", "kube-proxy-amd64", "kube-proxy-arm64"} {
		if v := got[repo]; v.Status == verify.StatusVerified {
			t.Errorf("mirror: moved %s: %s: %s", repo, v.Status, v.Reason)
		}
		if d := tagged(t, to+"/"+repo+":"+w.Version.String()); d != "" {
			t.Errorf("mirror wrote %s:%s (%s) from a moved pack entry", repo, w.Version, d)
		}
		if d := tagged(t, to+"/"+repo+":v9.9.9"); d != "" {
			t.Errorf("mirror wrote %s:v9.9.9", repo)
		}
	}
	if v := got["kube-apiserver-arm64"]; v.Status != verify.StatusVerified {
		t.Errorf("an image the pack did not move: %s: %s", v.Status, v.Reason)
	}
}
