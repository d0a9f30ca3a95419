package sigverify_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/signing"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// Fuzz targets for what pkg/sigverify parses: Sigstore bundles and cosign
// image-signature payloads. Seeds: the f.Add calls (bundles
// and payloads signed afresh by a test Sigstore, the real public-good
// bundle) and testdata/fuzz/<target>/. `make fuzz` runs each target.

var sentinels = []error{
	sigverify.ErrBundleInvalid, sigverify.ErrCertificateUntrusted, sigverify.ErrIdentityMismatch, sigverify.ErrSignatureInvalid,
	sigverify.ErrDigestMismatch, sigverify.ErrNotInLog, sigverify.ErrLogEntryInvalid, sigverify.ErrCertificateExpired,
	sigverify.ErrPayloadMismatch,
}

// checkResult asserts what holds for every signature result: checks were
// recorded; verified exactly when no error and every check passed; a
// rejection names the check that failed (the last one) and wraps one of
// the package's sentinels.
func checkResult(t *testing.T, r *sigverify.Result) {
	t.Helper()
	if len(r.Checks) == 0 {
		t.Fatal("no check recorded")
	}
	allOK := !slices.ContainsFunc(r.Checks, func(c sigverify.Check) bool { return !c.OK })
	if r.Verified() != allOK {
		t.Fatalf("verified=%v, but the checks say %v: %+v", r.Verified(), allOK, r.Checks)
	}
	if r.Verified() {
		return
	}
	last := r.Checks[len(r.Checks)-1]
	var failed *sigverify.CheckError
	if last.OK || !errors.As(r.Err, &failed) || failed.Check != last.Name || r.Error != r.Err.Error() {
		t.Fatalf("rejected (%v), but the last check is %+v", r.Err, last)
	}
	if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(r.Err, s) }) {
		t.Fatalf("rejected with %v, which wraps none of the package's sentinels", r.Err)
	}
}

// publicGood is the verifier and policy of the real public-good bundle.
func publicGood(tb testing.TB) (*sigverify.Verifier, sigverify.Policy, []byte) {
	tb.Helper()
	dir := filepath.Join("testdata", "public-good")
	trust, err := sigverify.LoadTrustedRoot(filepath.Join(dir, "trusted-root-public-good.json"))
	if err != nil {
		tb.Fatal(err)
	}
	v, err := sigverify.NewVerifier(trust)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := sigverify.ParseDigest("sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751")
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bundle-provenance.json"))
	if err != nil {
		tb.Fatal(err)
	}
	p := sigverify.Policy{Identity: artifacts.Identity{SAN: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
		Issuer: "https://token.actions.githubusercontent.com"}, Digest: d, AllowTrustedRootInChain: true}
	return v, p, data
}

// FuzzParseBundle: any bytes given as a bundle (--bundle, a pack's
// bundles, a referrer) parse or are rejected with ErrBundleInvalid, and a
// parsed bundle is judged by the test world's trust and the public-good
// trust without panicking, each check recorded; BundleJSON agrees.
func FuzzParseBundle(f *testing.F) {
	w := newWorld(f)
	pg, pgPolicy, pgBundle := publicGood(f)
	f.Add(pgBundle)
	f.Add(w.genuineV03JSON)
	f.Add(marshal(f, w.message(f, w.opts(func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV01 }))))
	f.Add(marshal(f, w.message(f, w.opts(func(o *testworld.BundleOptions) { o.TSA = w.tsa }))))
	f.Add(marshal(f, w.message(f, w.opts(func(o *testworld.BundleOptions) { o.TSA, o.RekorV2 = w.tsa, w.v2 }))))
	f.Add(marshal(f, w.dsse(f, w.opts(nil))))
	f.Add(marshal(f, w.dsse(f, w.opts(func(o *testworld.BundleOptions) { o.EntryKind = testworld.EntryIntoto }))))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Add([]byte(`<html>404</html>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := sigverify.ParseBundle(data)
		if err != nil {
			if !errors.Is(err, sigverify.ErrBundleInvalid) {
				t.Fatalf("rejected without ErrBundleInvalid: %v", err)
			}
			if r := w.v.BundleJSON(data, w.policy); r.Verified() {
				t.Fatal("BundleJSON verifies what ParseBundle rejects")
			}
			return
		}
		for _, c := range []struct {
			v *sigverify.Verifier
			p sigverify.Policy
		}{{w.v, w.policy}, {pg, pgPolicy}} {
			r := c.v.Bundle(b, c.p)
			checkResult(t, r)
			again := c.v.BundleJSON(data, c.p)
			checkResult(t, again)
			if r.Verified() != again.Verified() {
				t.Fatalf("Bundle says verified=%v, BundleJSON %v", r.Verified(), again.Verified())
			}
		}
	})
}

// FuzzImageSignature: a cosign image signature's payload, whatever its
// bytes, never makes a signature verify unless it is the very payload
// signed; parsing it never panics.
func FuzzImageSignature(f *testing.F) {
	fx := signing.New(f)
	d := imageDigest("kube-apiserver")
	genuine := cosignPayload(f, d)
	b := fx.BundleOf(f, genuine, artifacts.ImageSigner)
	names := sigverify.NamesFor("kube-apiserver", "")
	f.Add(genuine)
	f.Add(cosignPayload(f, imageDigest("kube-proxy")))
	f.Add(bytes.Replace(genuine, []byte("cosign container image signature"), []byte("atomic container signature"), 1))
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"registry.k8s.io/kube-apiserver"},"image":{"docker-manifest-digest":"` + d.String() + `"},"type":"cosign container image signature"},"optional":null}`))
	f.Add([]byte(`{"critical":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r := fx.Verifier.ImageSignature(b, payload, d, names, artifacts.ImageSigner)
		checkResult(t, r)
		if bytes.Equal(payload, genuine) != r.Verified() {
			t.Fatalf("payload %q: verified=%v (%v)", payload, r.Verified(), r.Err)
		}
	})
}
