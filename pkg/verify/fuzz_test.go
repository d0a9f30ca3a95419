package verify_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Fuzz targets for what pkg/verify parses: Sigstore bundles, cosign
// image-signature payloads, and image manifests, configurations and
// indexes as a registry serves them. Seeds: the f.Add calls (bundles
// and payloads signed afresh by a test Sigstore, the real public-good
// bundle) and testdata/fuzz/<target>/. `make fuzz` runs each target.

var sentinels = []error{
	verify.ErrBundleInvalid, verify.ErrCertificateUntrusted, verify.ErrIdentityMismatch, verify.ErrSignatureInvalid,
	verify.ErrDigestMismatch, verify.ErrNotInLog, verify.ErrLogEntryInvalid, verify.ErrCertificateExpired,
	verify.ErrPayloadMismatch, verify.ErrPlatformMismatch, verify.ErrSignedTooEarly, verify.ErrEvidenceMalformed,
}

// checkResult asserts what holds for every signature result: checks were
// recorded; verified exactly when no error and every check passed; a
// rejection names the check that failed (the last one) and wraps one of
// the package's sentinels.
func checkResult(t *testing.T, r *verify.SignatureResult) {
	t.Helper()
	if len(r.Checks) == 0 {
		t.Fatal("no check recorded")
	}
	allOK := !slices.ContainsFunc(r.Checks, func(c verify.Check) bool { return !c.OK })
	if r.Verified() != allOK {
		t.Fatalf("verified=%v, but the checks say %v: %+v", r.Verified(), allOK, r.Checks)
	}
	if r.Verified() {
		return
	}
	last := r.Checks[len(r.Checks)-1]
	if last.OK || verify.FailedCheckOf(r.Err) != last.Name || r.Error != r.Err.Error() {
		t.Fatalf("rejected (%v), but the last check is %+v", r.Err, last)
	}
	if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(r.Err, s) }) {
		t.Fatalf("rejected with %v, which wraps none of the package's sentinels", r.Err)
	}
}

// publicGood is the verifier and policy of the real public-good bundle.
func publicGood(tb testing.TB) (*verify.Verifier, verify.Policy, []byte) {
	tb.Helper()
	dir := filepath.Join("testdata", "public-good")
	trust, err := verify.LoadTrustedRoot(filepath.Join(dir, "trusted-root-public-good.json"))
	if err != nil {
		tb.Fatal(err)
	}
	v, err := verify.NewVerifier(trust)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := verify.ParseDigest("sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751")
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bundle-provenance.json"))
	if err != nil {
		tb.Fatal(err)
	}
	p := verify.Policy{Identity: artifacts.Identity{SAN: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
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
		b, err := verify.ParseBundle(data)
		if err != nil {
			if !errors.Is(err, verify.ErrBundleInvalid) {
				t.Fatalf("rejected without ErrBundleInvalid: %v", err)
			}
			if r := w.v.BundleJSON(data, w.policy); r.Verified() {
				t.Fatal("BundleJSON verifies what ParseBundle rejects")
			}
			return
		}
		for _, c := range []struct {
			v *verify.Verifier
			p verify.Policy
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
	fx := newSigstore(f)
	d := imageDigest("kube-apiserver")
	genuine := cosignPayload(f, d)
	b := fx.sign(f, genuine, artifacts.ImageSigner)
	names := verify.NamesFor("kube-apiserver", "")
	f.Add(genuine)
	f.Add(cosignPayload(f, imageDigest("kube-proxy")))
	f.Add(bytes.Replace(genuine, []byte("cosign container image signature"), []byte("atomic container signature"), 1))
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"registry.k8s.io/kube-apiserver"},"image":{"docker-manifest-digest":"` + d.String() + `"},"type":"cosign container image signature"},"optional":null}`))
	f.Add([]byte(`{"critical":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r := fx.v.ImageSignature(b, payload, d, names, artifacts.ImageSigner)
		checkResult(t, r)
		if bytes.Equal(payload, genuine) != r.Verified() {
			t.Fatalf("payload %q: verified=%v (%v)", payload, r.Verified(), r.Err)
		}
	})
}

// FuzzJudgeImageEvidence: the judge reads an image's manifest (its digest
// the registry's), configuration and release index, whatever their bytes,
// without panicking; with no signature the verdict is never verified, and
// an image check that fails names its check.
func FuzzJudgeImageEvidence(f *testing.F) {
	fx := newSigstore(f)
	j, err := verify.NewJudge(fx.v, verify.Rules{})
	if err != nil {
		f.Fatal(err)
	}
	amd64 := newImage(f, "linux", "amd64", "a")
	arm64 := newImage(f, "linux", "arm64", "b")
	index := indexOf(map[string]verify.Digest{"amd64": amd64.digest, "arm64": arm64.digest})
	f.Add(amd64.manifest, amd64.config, index, true)
	f.Add(arm64.manifest, arm64.config, index, true)
	f.Add(index, []byte(nil), []byte(nil), false)
	f.Add(amd64.manifest, arm64.config, []byte(nil), true)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[]}`), []byte(`{}`), []byte(`{}`), true)
	rel := release("2023-07-19")
	f.Fuzz(func(t *testing.T, manifest, config, index []byte, platform bool) {
		a := artifacts.Artifact{Kind: artifacts.KindImage, Name: "kube-apiserver", Location: "registry.k8s.io/kube-apiserver:v1.24.17",
			Signer: artifacts.ImageSigner, Signing: artifacts.SigningExpected}
		if platform {
			a.Platform = artifacts.Platform{OS: "linux", Arch: "amd64"}
			a.Location = "registry.k8s.io/kube-apiserver-amd64:v1.24.17"
		}
		ev := verify.Evidence{
			Digests: []verify.DigestClaim{{Digest: sha256Digest(manifest), Channel: verify.ChannelRegistry}},
			Image:   &verify.ImageEvidence{MediaType: "application/vnd.docker.distribution.manifest.v2+json", Manifest: manifest, Config: config, Index: index, IndexRef: "registry.k8s.io/kube-apiserver:v1.24.17"},
		}
		v := j.Judge(rel, a, ev)
		switch v.Status {
		case verify.StatusVerified:
			t.Fatalf("verified without a signature: %s", v.Reason)
		case verify.StatusFailed:
			if v.FailedCheck == "" || !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(v.Err, s) }) {
				t.Fatalf("failed without a check or sentinel: %s (%v)", v.Reason, v.Err)
			}
		case verify.StatusUnsigned, verify.StatusError:
		default:
			t.Fatalf("status %q: %s", v.Status, v.Reason)
		}
	})
}

func sha256Digest(b []byte) verify.Digest {
	sum := sha256.Sum256(b)
	return verify.SHA256Digest(sum[:])
}
