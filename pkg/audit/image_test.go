package audit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

var imageKind = []artifacts.Kind{artifacts.KindImage}

func TestImagesOfFullReleaseVerify(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind})
	start := time.Now()
	vs := verifyWorld(t, w, audit.VerifyOptions{})
	t.Logf("%d image verdicts in %s", len(vs), time.Since(start))
	if len(vs) != 30 {
		t.Fatalf("%d image verdicts, want 30 (5 images x (index + 5 platforms))", len(vs))
	}
	for repo, v := range sessions.ByRepo(t, vs) {
		if v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", repo, v.Status, v.Reason)
			continue
		}
		im := w.Images[repo]
		if v.Digest != im.Digest.String() || v.DigestSource != "registry" {
			t.Errorf("%s: digest %s from %q, want %s from the registry", repo, v.Digest, v.DigestSource, im.Digest)
		}
		// v1.24.17 was promoted after recursive signing began (May 2023):
		// a platform image is signed in its repository and, as a child, in
		// the index's; each .sig holds the carried staging signature beside
		// the promoter's; and after June 2023 the promoter's payloads name
		// registry.k8s.io.
		want := 2
		if v.Artifact.Platform.Arch != "" {
			want = 4
		}
		if len(v.Signatures) != want {
			t.Errorf("%s: %d signatures, want %d", repo, len(v.Signatures), want)
		}
		for _, sig := range v.Signatures {
			wantRef := testworld.PublicRegistry + "/"
			if sig.Signer != nil && sig.Signer.SAN == artifacts.BlobSigner.SAN {
				wantRef = testworld.StagingRegistry + "/"
			}
			if ref := sig.DockerReference; !strings.HasPrefix(ref, wantRef) {
				t.Errorf("%s: docker-reference %q of %v, want %s…", repo, ref, sig.Signer, wantRef)
			}
		}
		if !strings.Contains(v.Reason, artifacts.ImageSigner.SAN) {
			t.Errorf("%s: reason %q does not name the signer", repo, v.Reason)
		}
	}
	// Online (Rekor configured), each signature's entry comes with its
	// inclusion proof.
	for _, v := range vs {
		verifiedSignature(t, v)
		for i, sig := range v.Signatures {
			if !sig.Verified() {
				continue // the carried staging signature, rejected for its identity
			}
			if c := sessions.CheckNamed(sig, "transparency-log"); c == nil || !strings.Contains(c.Actual, "inclusion proof") {
				t.Errorf("%s signature %d: transparency-log check %+v, want an inclusion proof", v.Artifact.ID(), i, c)
			}
		}
	}
}

// isBackend reports whether a docker-reference names an Artifact Registry
// backend of registry.k8s.io (any region).
func isBackend(ref string) bool {
	region, rest, ok := strings.Cut(ref, "-docker.pkg.dev/")
	return ok && region != "" && !strings.Contains(region, "/") && strings.HasPrefix(rest, "k8s-artifacts-prod/images/kubernetes/")
}

// verifiedSignature is the first signature of a verdict that verified.
func verifiedSignature(t *testing.T, v verify.Verdict) *verify.SignatureResult {
	t.Helper()
	for _, s := range v.Signatures {
		if s.Verified() {
			return s
		}
	}
	t.Fatalf("%s: no signature verified", v.Artifact.ID())
	return nil
}

// smallImageVerdicts is how many verdicts a Small world's images give: the
// kube-apiserver and kube-proxy indexes and their linux/amd64 and
// linux/arm64 images.
const smallImageVerdicts = 6

// wantVerdicts fails the test unless there are n verdicts, so that a loop
// over them cannot pass by checking none.
func wantVerdicts(t *testing.T, vs []verify.Verdict, n int) {
	t.Helper()
	if len(vs) != n {
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.Artifact.ID())
		}
		t.Fatalf("%d verdicts, want %d: %v", len(vs), n, ids)
	}
}

// Offline (no Rekor client), the signed entry timestamp of cosign's bundle
// annotation is the log evidence.
func TestImagesVerifyFromAnnotationsAlone(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true})
	c := sessions.Config(w)
	c.Endpoints.RekorURL = ""
	vs := verifyWith(t, w, c, audit.VerifyOptions{})
	wantVerdicts(t, vs, smallImageVerdicts)
	for _, v := range vs {
		if v.Status != verify.StatusVerified || len(v.Signatures) == 0 {
			t.Errorf("%s: %s (%d signatures): %s", v.Artifact.ID(), v.Status, len(v.Signatures), v.Reason)
			continue
		}
		verifiedSignature(t, v)
		for i, sig := range v.Signatures {
			if !sig.Verified() {
				continue // the carried staging signature, rejected for its identity
			}
			c := sessions.CheckNamed(sig, "transparency-log")
			if c == nil || !strings.Contains(c.Actual, "signed entry timestamp") || strings.Contains(c.Actual, "inclusion proof") {
				t.Errorf("%s signature %d: transparency-log check %+v", v.Artifact.ID(), i, c)
			}
		}
	}
}

// Before promo-tools signed index children recursively (May 2023), a
// platform image's digest was signed only in <name>-<arch>, and payloads
// named an Artifact Registry backend: every index child of such a release
// still verifies, in the release audit and through verify-image (its one
// .sig holding the carried staging signature and the promoter's).
func TestPreRecursiveSigningRelease(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.10", Kinds: imageKind, Small: true})
	vs := verifyWorld(t, w, audit.VerifyOptions{})
	wantVerdicts(t, vs, smallImageVerdicts)
	for repo, v := range sessions.ByRepo(t, vs) {
		if v.Status != verify.StatusVerified || len(v.Signatures) != 2 || !isBackend(verifiedSignature(t, v).DockerReference) {
			t.Errorf("%s: %s (%d signatures): %s", repo, v.Status, len(v.Signatures), v.Reason)
		}
	}
	refVerdicts := imageRef(t, w, w.Registry+"/kube-apiserver:v1.24.10", nil)
	wantVerdicts(t, refVerdicts, 3) // the index and its two platform images
	for _, v := range refVerdicts {
		if v.Status != verify.StatusVerified {
			t.Errorf("verify-image %s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// When Rekor cannot be asked, the signed entry timestamp of the bundle
// annotation still proves the entry; the reason says so.
func TestImagesVerifyWhenRekorIsDown(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true})
	c := sessions.Config(w)
	c.Endpoints.RekorURL = "http://" + testworld.ClosedPort(t) // refuses connections
	vs := verifyWith(t, w, c, audit.VerifyOptions{})
	wantVerdicts(t, vs, smallImageVerdicts)
	for _, v := range vs {
		if v.Status != verify.StatusVerified || !strings.Contains(v.Reason, "online log lookup failed") {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// Each forgery: exactly that image fails, for the right reason; the others
// still verify.
func TestImageForgeries(t *testing.T) {
	const target = "kube-apiserver-amd64"
	cases := []struct {
		fault    testworld.FaultKind
		target   string
		status   verify.Status
		sentinel error
	}{
		{testworld.FaultForeignIdentity, target, verify.StatusFailed, sigverify.ErrIdentityMismatch},
		{testworld.FaultForeignIssuer, target, verify.StatusFailed, sigverify.ErrIdentityMismatch},
		{testworld.FaultForeignCA, target, verify.StatusFailed, sigverify.ErrCertificateUntrusted},
		{testworld.FaultReplay, target, verify.StatusFailed, sigverify.ErrPayloadMismatch},
		{testworld.FaultExpiredCert, target, verify.StatusFailed, sigverify.ErrCertificateExpired},
		{testworld.FaultForgedSET, target, verify.StatusFailed, sigverify.ErrLogEntryInvalid},
		{testworld.FaultNotInLog, target, verify.StatusFailed, sigverify.ErrNotInLog},
		{testworld.FaultGarbageSignature, target, verify.StatusFailed, sigverify.ErrBundleInvalid},
		{testworld.FaultPayloadDigest, target, verify.StatusFailed, sigverify.ErrPayloadMismatch},
		{testworld.FaultPayloadDigest, "kube-proxy", verify.StatusFailed, sigverify.ErrPayloadMismatch},
		{testworld.FaultPayloadName, target, verify.StatusFailed, sigverify.ErrPayloadMismatch},
		{testworld.FaultUnsigned, target, verify.StatusUnsigned, nil},
		{testworld.FaultMissing, target, verify.StatusMissing, nil},
		{testworld.FaultHTTP500, target, verify.StatusError, nil},
		{testworld.FaultHTTP429, target, verify.StatusError, nil},
		{testworld.FaultReset, target, verify.StatusError, nil},
		{testworld.FaultTruncate, target, verify.StatusError, nil},
		{testworld.FaultSlow, target, verify.StatusError, nil},
	}
	// In the newest release's world and in v1.24.1's, the oldest era: the
	// CT test log, the first Rekor shard, .1.1-only certificates, a
	// regional backend in the payload with the mirrors annotation; both
	// with the carried staging signature and the redirecting registry.
	for _, version := range []string{"v1.24.17", "v1.24.1"} {
		for _, tc := range cases {
			runImageForgery(t, version, tc.fault, tc.target, tc.status, tc.sentinel)
		}
	}
}

// runImageForgery runs one case of the image forgery table in a world of
// version.
func runImageForgery(t *testing.T, version string, fault testworld.FaultKind, target string, status verify.Status, sentinel error) {
	t.Run(version+"/"+string(fault)+"="+target, func(t *testing.T) {
		t.Parallel()
		w := testworld.StartT(t, testworld.Options{Version: version, Kinds: imageKind, Small: true,
			Faults: []testworld.Fault{{Kind: fault, Target: target}}})
		vs := sessions.ByRepo(t, verifyWith(t, w, faultConfig(w, fault), audit.VerifyOptions{}))
		got := vs[target]
		if got.Status != status {
			t.Fatalf("%s: got %s (%s), want %s", target, got.Status, got.Reason, status)
		}
		if sentinel != nil && !errors.Is(got.Err, sentinel) {
			t.Errorf("reason %q (check %s) does not name %v", got.Reason, got.FailedCheck, sentinel)
		}
		if status == verify.StatusFailed && got.FailedCheck == "" {
			t.Errorf("failed without naming the check: %s", got.Reason)
		}
		t.Logf("%s: %s", got.Status, got.Reason)
		for repo, v := range vs {
			if repo != target && v.Status != verify.StatusVerified {
				t.Errorf("%s beside the fault: %s: %s", repo, v.Status, v.Reason)
			}
		}
	})
}

func TestTransientRegistryFaultsAreRetried(t *testing.T) {
	const target = "kube-proxy-arm64"
	for _, kind := range []testworld.FaultKind{testworld.FaultHTTP500, testworld.FaultHTTP429, testworld.FaultReset, testworld.FaultTruncate} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true,
				Faults: []testworld.Fault{{Kind: kind, Target: target, Times: 1}}})
			vs := sessions.ByRepo(t, verifyWorld(t, w, audit.VerifyOptions{}))
			if v := vs[target]; v.Status != verify.StatusVerified {
				t.Errorf("one transient %s: %s: %s", kind, v.Status, v.Reason)
			}
		})
	}
}

func TestImageHistory(t *testing.T) {
	t.Run("v1.24.6 two signatures", func(t *testing.T) {
		t.Parallel()
		w := testworld.StartT(t, testworld.Options{Version: "v1.24.6", Kinds: imageKind, Small: true})
		vs := verifyWorld(t, w, audit.VerifyOptions{})
		wantVerdicts(t, vs, smallImageVerdicts)
		for _, v := range vs {
			if v.Status != verify.StatusVerified {
				t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
				continue
			}
			if len(v.Signatures) != 2 || !strings.Contains(v.Reason, "2 signatures") ||
				!strings.Contains(v.Reason, "by "+artifacts.BlobSigner.SAN) {
				t.Errorf("%s: %d signatures, reason %q", v.Artifact.ID(), len(v.Signatures), v.Reason)
			}
			if !hasIncident(v, "v1.24.6-double-signature") {
				t.Errorf("%s: incidents %+v", v.Artifact.ID(), v.Incidents)
			}
		}
	})
	t.Run("v1.24.8 wrong identity", func(t *testing.T) {
		t.Parallel()
		w := testworld.StartT(t, testworld.Options{Version: "v1.24.8", Kinds: imageKind, Small: true})
		vs := verifyWorld(t, w, audit.VerifyOptions{})
		wantVerdicts(t, vs, smallImageVerdicts)
		for _, v := range vs {
			if v.Status != verify.StatusFailed || !errors.Is(v.Err, sigverify.ErrIdentityMismatch) ||
				!strings.Contains(v.Reason, testworld.PromoterIdentity) {
				t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
			}
			if !hasIncident(v, "v1.24.8-wrong-identity") {
				t.Errorf("%s: incidents %+v", v.Artifact.ID(), v.Incidents)
			}
		}
	})
	t.Run("v1.24.11 partly unsigned", func(t *testing.T) {
		t.Parallel()
		ps := []artifacts.Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "ppc64le"}, {OS: "linux", Arch: "s390x"}}
		w := testworld.StartT(t, testworld.Options{Version: "v1.24.11", Kinds: imageKind, Platforms: ps})
		vs := verifyWorld(t, w, audit.VerifyOptions{})
		if len(vs) != 20 {
			t.Errorf("%d verdicts, want 20", len(vs))
		}
		for _, v := range vs {
			want := verify.StatusVerified
			if a := v.Artifact.Platform.Arch; a == "ppc64le" || a == "s390x" {
				want = verify.StatusUnsigned
			}
			if v.Status != want {
				t.Errorf("%s: %s (%s), want %s", v.Artifact.ID(), v.Status, v.Reason, want)
			}
		}
	})
}

// imageRef verifies a reference as verify-image does.
func imageRef(t *testing.T, w *testworld.World, ref string, p *artifacts.Platform) []verify.Verdict {
	t.Helper()
	res, err := sessions.New(t, sessions.Config(w)).VerifyImages(context.Background(), audit.ImagesRequest{Refs: []string{ref}, Platform: p})
	if err != nil {
		t.Fatal(err)
	}
	return res.Verdicts
}

func hasIncident(v verify.Verdict, id string) bool {
	for _, in := range v.Incidents {
		if in.ID == id {
			return true
		}
	}
	return false
}

func TestImageRefIndex(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind})
	ref := w.Registry + "/kube-apiserver:" + w.Version.String()
	vs := imageRef(t, w, ref, nil)
	if len(vs) != 6 {
		t.Fatalf("%d verdicts, want the index and 5 platforms", len(vs))
	}
	index := w.Images["kube-apiserver"].Digest.String()
	seen := map[string]bool{}
	for _, v := range vs {
		if v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
		seen[v.Artifact.Platform.String()] = true
		want := w.Registry + "/kube-apiserver@" + v.Digest
		if v.Artifact.Platform.IsZero() {
			want = ref + "@" + index
			if v.Digest != index {
				t.Errorf("index digest %s, want %s", v.Digest, index)
			}
		} else if v.Digest != w.Images["kube-apiserver-"+v.Artifact.Platform.Arch].Digest.String() {
			t.Errorf("%s: digest %s is not the platform image's", v.Artifact.ID(), v.Digest)
		}
		if v.Artifact.Location != want {
			t.Errorf("%s: location %s, want %s", v.Artifact.ID(), v.Artifact.Location, want)
		}
	}
	for _, p := range []string{"", "linux/amd64", "linux/arm", "linux/arm64", "linux/ppc64le", "linux/s390x"} {
		if !seen[p] {
			t.Errorf("no verdict for platform %q", p)
		}
	}

	// Restricted to one platform.
	vs = imageRef(t, w, ref, &artifacts.Platform{OS: "linux", Arch: "arm64"})
	if len(vs) != 2 || vs[1].Artifact.Platform.Arch != "arm64" || vs[1].Status != verify.StatusVerified {
		t.Errorf("--platform linux/arm64: %+v", vs)
	}
	vs = imageRef(t, w, ref, &artifacts.Platform{OS: "windows", Arch: "amd64"})
	if len(vs) != 2 || vs[1].Status != verify.StatusMissing {
		t.Errorf("--platform windows/amd64: %+v", vs)
	}

	// By digest: the same verdict, pinned without tag.
	byDigest := w.Registry + "/kube-apiserver-arm64@" + w.Images["kube-apiserver-arm64"].Digest.String()
	vs = imageRef(t, w, byDigest, nil)
	if len(vs) != 1 || vs[0].Status != verify.StatusVerified || vs[0].Artifact.Location != byDigest {
		t.Errorf("by digest: %+v", vs)
	}

	// A tag that does not exist.
	vs = imageRef(t, w, w.Registry+"/kube-apiserver:v0.0.0", nil)
	if len(vs) != 1 || vs[0].Status != verify.StatusMissing {
		t.Errorf("no such tag: %+v", vs)
	}
}

// Sigstore bundles attached as OCI referrers (cosign's newer format) are
// found and verified like .sig signatures, beside them or alone.
func TestImageReferrerBundles(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultUnsigned, Target: "kube-proxy-amd64"},
		{Kind: testworld.FaultUnsigned, Target: "kube-proxy-arm64"},
	}})
	attach := func(repo string, about v1.Hash, id artifacts.Identity) {
		t.Helper()
		b, err := w.Sigstore.SignDSSEBundle(testworld.CosignSignStatementNamed(about, testworld.BackingRegistry+"/"+repo, testworld.CosignSignPredicateType),
			testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: id.SAN, Issuer: id.Issuer}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AttachBundle(repo, w.Images[repo].Digest, b); err != nil {
			t.Fatal(err)
		}
	}
	attach("kube-proxy-amd64", w.Images["kube-proxy-amd64"].Digest, artifacts.ImageSigner)
	attach("kube-apiserver-amd64", w.Images["kube-apiserver-amd64"].Digest, artifacts.Identity{SAN: testworld.ForeignIdentity, Issuer: artifacts.GoogleIssuer})
	attach("kube-proxy-arm64", w.Images["kube-proxy"].Digest, artifacts.ImageSigner) // a statement about the index

	for _, online := range []bool{true, false} {
		c := sessions.Config(w)
		if !online {
			c.Endpoints.RekorURL = ""
		}
		vs := sessions.ByRepo(t, verifyWith(t, w, c, audit.VerifyOptions{}))
		if v := vs["kube-proxy-amd64"]; v.Status != verify.StatusVerified || len(v.Signatures) != 1 {
			t.Errorf("referrer bundle alone: %s: %s", v.Status, v.Reason)
		}
		// Its two genuine .sig manifests (in its repository and, as a
		// child, in the index's), each with the carried staging signature
		// and the promoter's, and the foreign referrer bundle.
		if v := vs["kube-apiserver-amd64"]; v.Status != verify.StatusVerified || len(v.Signatures) != 5 ||
			!strings.Contains(v.Reason, "3 of 5 signatures rejected") ||
			!strings.Contains(v.Reason, "OCI referrer signature in "+w.Registry+"/kube-apiserver-amd64 by "+testworld.ForeignIdentity) {
			t.Errorf("genuine .sig beside a foreign referrer bundle: %s: %s", v.Status, v.Reason)
		}
		if v := vs["kube-proxy-arm64"]; v.Status != verify.StatusFailed || !errors.Is(v.Err, sigverify.ErrPayloadMismatch) {
			t.Errorf("referrer bundle about another image: %s: %s", v.Status, v.Reason)
		}
		for _, repo := range []string{"kube-apiserver", "kube-apiserver-arm64", "kube-proxy"} {
			if v := vs[repo]; v.Status != verify.StatusVerified {
				t.Errorf("%s: %s: %s", repo, v.Status, v.Reason)
			}
		}
	}
}

// verifyListed verifies the world's release as listed online — from its
// SBOM and the world's catalog, so that every channel is read — keeping
// the artifacts the world publishes.
func verifyListed(t *testing.T, w *testworld.World) map[string]verify.Verdict {
	t.Helper()
	s := sessions.New(t, sessions.Config(w))
	listing, err := s.LoadRelease(context.Background(), w.Version.String(), audit.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{}
	for _, a := range sessions.Selected(t, w).Artifacts {
		keep[a.ID()] = true
	}
	rel := *listing.Release
	rel.Artifacts = slices.DeleteFunc(slices.Clone(rel.Artifacts), func(a artifacts.Artifact) bool { return !keep[a.ID()] })
	res, err := s.VerifyReleases(context.Background(), []*artifacts.Release{&rel}, audit.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]verify.Verdict{}
	for _, v := range res[0].Verdicts {
		out[v.Artifact.ID()] = v
	}
	return out
}

type substitution struct {
	name   string
	fault  testworld.Fault
	noSBOM bool
	want   map[string]string // artifact ID -> failed check ("" : verified)
	// keep: artifacts whose expectation stays with the promoter's digests
	// (their own image is genuine; another check fails them).
	keep []string
}

const withDigests = ", the promoter's digests in the catalog"

// imageCasesWithDigests are the image substitutions of cases again, the
// catalog holding the release's image digests: each substituted image
// fails on its digest.
func imageCasesWithDigests(cases []substitution) []substitution {
	var out []substitution
	for _, tc := range cases {
		if !strings.HasPrefix(tc.fault.Target, "kube-") {
			continue
		}
		want := map[string]string{}
		for id, check := range tc.want {
			if check != "" && strings.HasPrefix(id, "image ") && !slices.Contains(tc.keep, id) {
				check = "digest"
			}
			want[id] = check
		}
		out = append(out, substitution{name: tc.name + withDigests, fault: tc.fault, noSBOM: tc.noSBOM, want: want, keep: tc.keep})
	}
	return out
}

// Genuinely signed artifacts that are not the ones asked for fail, each
// for the check that tells them apart; a copy of a log entry changes
// nothing.
func TestSubstitutions(t *testing.T) {
	const (
		kubectl   = "binary kubectl linux/amd64"
		client    = "tarball kubernetes-client-linux-amd64.tar.gz linux/amd64"
		apiAmd64  = "image kube-apiserver linux/amd64"
		apiIndex  = "image kube-apiserver"
		apiArm64  = "image kube-apiserver linux/arm64"
		proxyIdx  = "image kube-proxy"
		unchanged = ""
	)
	cases := []substitution{
		{"arm64 image and signature at the amd64 tag", testworld.Fault{Kind: testworld.FaultCrossArch, Target: "kube-apiserver-amd64"}, false,
			map[string]string{apiAmd64: "platform", apiArm64: unchanged, apiIndex: unchanged}, nil},
		{"arm64 kubectl and its side files at the amd64 paths", testworld.Fault{Kind: testworld.FaultCrossArch, Target: "bin/linux/amd64/kubectl"}, false,
			map[string]string{kubectl: "digest"}, nil},
		{"arm64 client tarball at the amd64 path, no SBOM: the CHANGELOG's sum", testworld.Fault{Kind: testworld.FaultCrossArch, Target: "kubernetes-client-linux-amd64.tar.gz"}, true,
			map[string]string{client: "digest"}, nil},
		{"the index at a platform's tag", testworld.Fault{Kind: testworld.FaultIndexAtArch, Target: "kube-apiserver-amd64"}, false,
			map[string]string{apiAmd64: "image", apiIndex: unchanged}, nil},
		{"the previous release's platform image", testworld.Fault{Kind: testworld.FaultRollback, Target: "kube-apiserver-amd64"}, false,
			map[string]string{apiAmd64: "platform", apiIndex: unchanged}, nil},
		{"the previous release's whole image", testworld.Fault{Kind: testworld.FaultRollback, Target: "kube-apiserver"}, false,
			map[string]string{apiIndex: "signing-time", apiAmd64: "signing-time", apiArm64: "signing-time"}, nil},
		{"the previous release's kubectl", testworld.Fault{Kind: testworld.FaultRollback, Target: "bin/linux/amd64/kubectl"}, false,
			map[string]string{kubectl: "digest"}, nil},
		{"the previous release's kubectl, no SBOM", testworld.Fault{Kind: testworld.FaultRollback, Target: "bin/linux/amd64/kubectl"}, true,
			map[string]string{kubectl: "signing-time"}, nil},
		{"another image's index with its referrer bundle", testworld.Fault{Kind: testworld.FaultForeignReferrer, Target: "kube-apiserver"}, false,
			map[string]string{apiIndex: "payload", apiAmd64: "platform", proxyIdx: unchanged}, []string{apiAmd64}},
		{".sha256 and the SBOM disagree", testworld.Fault{Kind: testworld.FaultBadSHA256, Target: "bin/linux/amd64/kubectl"}, false,
			map[string]string{kubectl: "digest"}, nil},
		{"a copy of a file's log entry in the active shard", testworld.Fault{Kind: testworld.FaultLogCopy, Target: "bin/linux/amd64/kubectl"}, false,
			map[string]string{kubectl: unchanged}, nil},
		{"a copy of an image's log entries in the active shard", testworld.Fault{Kind: testworld.FaultLogCopy, Target: "kube-apiserver-amd64"}, false,
			map[string]string{apiAmd64: unchanged}, nil},
	}
	// With the promoter's digests in the catalog, a substituted image fails
	// on its digest before anything else; without them (a release newer
	// than the catalog), on the check that tells it apart.
	for _, tc := range append(cases, imageCasesWithDigests(cases)...) {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.StartT(t, testworld.Options{Small: true, NoSBOM: tc.noSBOM, NoImageDigests: !strings.HasSuffix(tc.name, withDigests), Faults: []testworld.Fault{tc.fault}})
			vs := verifyListed(t, w)
			for id, check := range tc.want {
				v, ok := vs[id]
				switch {
				case !ok:
					t.Errorf("%s: no verdict", id)
				case check == unchanged && v.Status != verify.StatusVerified:
					t.Errorf("%s: %s, want verified: %s", id, v.Status, v.Reason)
				case check != unchanged && (v.Status != verify.StatusFailed || string(v.FailedCheck) != check):
					t.Errorf("%s: %s [%s], want failed [%s]: %s", id, v.Status, v.FailedCheck, check, v.Reason)
				}
			}
			if tc.fault.Kind == testworld.FaultLogCopy {
				for id := range tc.want {
					notes := ""
					for _, s := range vs[id].Signatures {
						notes += strings.Join(s.Notes, "\n")
					}
					if !strings.Contains(notes, "later copy") {
						t.Errorf("%s: the copy is not noted: %q", id, notes)
					}
				}
			}
		})
	}
}

// verify-image REF with a release tag (kube-apiserver:v1.24.17) binds the
// tag's release as verify does: the previous release's image served at
// the tag fails the signing-time rule, it is not "verified".
func TestImageRefReleaseTagRollback(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, NoImageDigests: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultRollback, Target: "kube-apiserver"},
	}})
	for _, ref := range []string{"/kube-apiserver:", "/kube-apiserver-amd64:"} {
		vs := imageRef(t, w, w.Registry+ref+w.Version.String(), nil)
		if len(vs) == 0 {
			t.Fatalf("%s: no verdict", ref)
		}
		for _, v := range vs {
			if v.Status != verify.StatusFailed || !errors.Is(v.Err, verify.ErrSignedTooEarly) {
				t.Errorf("%s %s: %s: %s", ref, v.Artifact.ID(), v.Status, v.Reason)
			}
		}
	}
	// The genuine images of the release, and a tag that names no release,
	// still verify.
	for ref, n := range map[string]int{"/kube-proxy:" + w.Version.String(): 3, "/kube-proxy-arm64:" + w.Version.String(): 1} {
		vs := imageRef(t, w, w.Registry+ref, nil)
		wantVerdicts(t, vs, n)
		for _, v := range vs {
			if v.Status != verify.StatusVerified {
				t.Errorf("%s %s: %s: %s", ref, v.Artifact.ID(), v.Status, v.Reason)
			}
		}
	}
}

// A later release's images, genuinely signed later and so past the
// signing-time rule, served at an earlier release's tags: the promoter's
// digests in the catalog tell them apart.
func TestLaterReleaseImagesAtEarlierTags(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.16,v1.24.17", Kinds: imageKind, Small: true})
	for _, repo := range []string{"kube-apiserver", "kube-apiserver-amd64", "kube-apiserver-arm64"} {
		src, err := name.ParseReference(w.Registry + "/" + repo + ":v1.24.17")
		must(t, err)
		desc, err := remote.Get(src)
		must(t, err)
		dst, err := name.NewTag(w.Registry + "/" + repo + ":v1.24.16")
		must(t, err)
		must(t, remote.Tag(dst, desc))
	}
	res, err := sessions.New(t, sessions.Config(w)).Verify(context.Background(), audit.VerifyRequest{Versions: []string{"v1.24.16"}, Selection: audit.Selection{Kinds: imageKind}}, nil)
	must(t, err)
	// The catalog's 30 images of v1.24.16, of which the world serves 6.
	wantVerdicts(t, res[0].Verdicts, 30)
	served := 0
	for _, v := range res[0].Verdicts {
		if v.Status != verify.StatusMissing {
			served++
		}
		swapped := v.Artifact.Name == "kube-apiserver" && (v.Artifact.Platform.IsZero() || v.Artifact.Platform.Arch == "amd64" || v.Artifact.Platform.Arch == "arm64")
		switch {
		case v.Status == verify.StatusMissing:
		case swapped && (v.Status != verify.StatusFailed || v.FailedCheck != "digest" || !strings.Contains(v.Reason, "(catalog "+w.CatalogPath+")")):
			t.Errorf("%s: %s [%s] %s", v.Artifact.ID(), v.Status, v.FailedCheck, v.Reason)
		case !swapped && v.Status != verify.StatusVerified:
			t.Errorf("%s: %s %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
	if served != smallImageVerdicts {
		t.Errorf("%d verdicts on served images, want %d", served, smallImageVerdicts)
	}
}

// verify-image REF with a release tag binds the promoter's digest of the
// tag, as verify does: another release's image at the tag fails on it.
func TestImageRefReleaseTagDigest(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultRollback, Target: "kube-apiserver"},
	}})
	for _, ref := range []string{"/kube-apiserver:", "/kube-apiserver-amd64:"} {
		vs := imageRef(t, w, w.Registry+ref+w.Version.String(), nil)
		if len(vs) == 0 {
			t.Fatalf("%s: no verdict", ref)
		}
		for _, v := range vs {
			if v.Status != verify.StatusFailed || v.FailedCheck != "digest" {
				t.Errorf("%s %s: %s [%s]: %s", ref, v.Artifact.ID(), v.Status, v.FailedCheck, v.Reason)
			}
		}
	}
	proxy := imageRef(t, w, w.Registry+"/kube-proxy:"+w.Version.String(), nil)
	wantVerdicts(t, proxy, 3) // the index and its two platform images
	for _, v := range proxy {
		if v.Status != verify.StatusVerified {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// Verifying a catalog release's images asks for no SBOM (it binds files,
// not images): none to be had is no warning.
func TestImagesNeedNoSBOM(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, NoSBOM: true})
	res, err := sessions.New(t, sessions.Config(w)).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: audit.Selection{Kinds: imageKind}}, nil)
	must(t, err)
	if len(res[0].Warnings) > 0 {
		t.Errorf("warnings: %v", res[0].Warnings)
	}
	for _, v := range res[0].Verdicts {
		if v.Status != verify.StatusVerified && v.Status != verify.StatusMissing {
			t.Errorf("%s: %s %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
	if n := w.Requests()["site"]["GET sbom"]; n != 0 {
		t.Errorf("%d SBOM requests", n)
	}
}

// A digest reference that carries a release tag too
// (kube-apiserver:v1.24.16@sha256:…, as pinned manifests write it) is the
// tag's release's image: another release's digest pinned under the tag
// fails on the promoter's digest, as the tag alone does.
func TestImageRefTagAndDigest(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.16,v1.24.17", Kinds: imageKind, Small: true})
	for _, repo := range []string{"kube-apiserver", "kube-apiserver-amd64"} {
		for _, tc := range []struct {
			pinned, tag string
			swapped     bool
		}{{"v1.24.17", "v1.24.16", true}, {"v1.24.16", "v1.24.16", false}, {"v1.24.17", "", false}} {
			src, err := name.ParseReference(w.Registry + "/" + repo + ":" + tc.pinned)
			must(t, err)
			desc, err := remote.Head(src)
			must(t, err)
			ref := w.Registry + "/" + repo
			if tc.tag != "" {
				ref += ":" + tc.tag
			}
			ref += "@" + desc.Digest.String()
			vs := imageRef(t, w, ref, nil)
			if len(vs) == 0 {
				t.Fatalf("%s: no verdict", ref)
			}
			for _, v := range vs {
				if tc.swapped && (v.Status != verify.StatusFailed || v.FailedCheck != "digest") || !tc.swapped && v.Status != verify.StatusVerified {
					t.Errorf("%s %s: %s [%s]: %s", ref, v.Artifact.ID(), v.Status, v.FailedCheck, v.Reason)
				}
			}
		}
	}
}
