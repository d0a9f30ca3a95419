package sigverify_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/signing"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

func imageDigest(seed string) sigverify.Digest {
	sum := sha256.Sum256([]byte(seed))
	return sigverify.SHA256Digest(sum[:])
}

// cosignPayload is cosign's simple-signing payload for digest, naming the
// backing registry as the real promoter does.
func cosignPayload(t testing.TB, d sigverify.Digest) []byte {
	t.Helper()
	return signing.CosignPayload(t, testworld.BackingRegistry+"/kube-apiserver", d)
}

func checkNames(r *sigverify.Result) string {
	var names []string
	for _, c := range r.Checks {
		names = append(names, string(c.Name))
	}
	return strings.Join(names, ",")
}

func TestImageSignature(t *testing.T) {
	f := signing.New(t)
	d := imageDigest("kube-apiserver")
	p := cosignPayload(t, d)
	b := f.BundleOf(t, p, artifacts.ImageSigner)

	r := f.Verifier.ImageSignature(b, p, d, nil, artifacts.ImageSigner)
	if !r.Verified() {
		t.Fatalf("genuine signature: %v", r.Err)
	}
	if got, want := checkNames(r), "payload,bundle,certificate-chain,sct,identity,signature,transparency-log,validity-at-log-time,certificate-chain"; got != want {
		t.Errorf("checks %s, want %s", got, want)
	}
	if r.DockerReference != testworld.BackingRegistry+"/kube-apiserver" {
		t.Errorf("docker-reference %q not recorded", r.DockerReference)
	}
	if r.Signer == nil || *r.Signer != artifacts.ImageSigner || r.LogIndex == nil {
		t.Errorf("signer %v, log index %v", r.Signer, r.LogIndex)
	}

	for _, repo := range []string{testworld.BackingRegistry + "/kube-apiserver", "registry.k8s.io/kube-apiserver-amd64"} {
		pl := signing.CosignPayload(t, repo, d)
		if r := f.Verifier.ImageSignature(f.BundleOf(t, pl, artifacts.ImageSigner), pl, d, sigverify.NamesFor("kube-apiserver", "amd64"), artifacts.ImageSigner); !r.Verified() {
			t.Errorf("a signature naming %s: %v", repo, r.Err)
		}
	}

	other := imageDigest("another image")
	// Payloads naming repositories whose last element only looks like
	// the image's, each genuinely signed.
	lookAlike := func(repo string) []byte { return signing.CosignPayload(t, testworld.BackingRegistry+"/"+repo, d) }
	apiserverAmd64 := sigverify.NamesFor("kube-apiserver", "amd64")
	cases := []struct {
		name     string
		payload  []byte
		digest   sigverify.Digest
		identity artifacts.Identity
		sentinel error
		check    string
		names    sigverify.ImageNames
	}{
		{"signature of another image", p, other, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", nil},
		{"payload not JSON", []byte("not json"), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", nil},
		{"empty payload", nil, d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", nil},
		{"not a cosign signature", []byte(strings.Replace(string(p), payload.CosignSignatureType, "atomic container signature", 1)), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", nil},
		{"digest not sha256", []byte(strings.Replace(string(p), "sha256:", "sha512:", 1)), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", nil},
		// A payload naming the right image, but not the one signed.
		{"payload swapped", []byte(strings.Replace(string(p), "kube-apiserver", "kube-evil", 1)), d, artifacts.ImageSigner, sigverify.ErrDigestMismatch, "signature", nil},
		{"another signer", p, d, artifacts.BlobSigner, sigverify.ErrIdentityMismatch, "identity", nil},
		{"no image digest", p, sigverify.Digest{}, artifacts.ImageSigner, sigverify.ErrBundleInvalid, "policy", nil},
		// The name is the last path element, compared whole.
		{"a name ending in the image's name", lookAlike("evil-kube-apiserver"), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", apiserverAmd64},
		{"a name ending in the platform image's name", lookAlike("evil-kube-apiserver-amd64"), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", apiserverAmd64},
		{"a name starting with the image's name", lookAlike("kube-apiserver-evil"), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", apiserverAmd64},
		{"a name containing the image's name", lookAlike("x-kube-apiserver-amd64-x"), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", apiserverAmd64},
		{"the image's name as a directory", lookAlike("kube-apiserver/evil"), d, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", apiserverAmd64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bnd := b
			if c.names != nil {
				bnd = f.BundleOf(t, c.payload, artifacts.ImageSigner)
			}
			r := f.Verifier.ImageSignature(bnd, c.payload, c.digest, c.names, c.identity)
			if !errors.Is(r.Err, c.sentinel) || string(sigverify.FailedCheckOf(r.Err)) != c.check {
				t.Fatalf("got %v (check %s), want %v at %s", r.Err, sigverify.FailedCheckOf(r.Err), c.sentinel, c.check)
			}
			if last := r.Checks[len(r.Checks)-1]; last.OK || string(last.Name) != c.check {
				t.Errorf("last check %+v", last)
			}
			if c.check == "payload" && c.name != "no image digest" && (r.Signer == nil || r.Signer.SAN != artifacts.ImageSigner.SAN) {
				t.Errorf("a rejected payload does not name the certificate's signer: %v", r.Signer)
			}
		})
	}
	if r := f.Verifier.ImageSignature(nil, p, d, nil, artifacts.ImageSigner); !errors.Is(r.Err, sigverify.ErrBundleInvalid) {
		t.Errorf("no bundle: %v", r.Err)
	}

	// A payload of the largest size read verifies; one byte more is
	// refused unread.
	largest := append(append([]byte(nil), p...), []byte(strings.Repeat(" ", 64<<10-len(p)))...)
	if r := f.Verifier.ImageSignature(f.BundleOf(t, largest, artifacts.ImageSigner), largest, d, nil, artifacts.ImageSigner); !r.Verified() {
		t.Errorf("a payload of 64 KiB: %v", r.Err)
	}
	over := append(largest, ' ')
	if r := f.Verifier.ImageSignature(f.BundleOf(t, over, artifacts.ImageSigner), over, d, nil, artifacts.ImageSigner); sigverify.FailedCheckOf(r.Err) != "payload" || !strings.Contains(r.Error, "exceeds") {
		t.Errorf("a payload over 64 KiB: %v", r.Err)
	}

	// A signature rejected by the bundle's own checks still names the
	// signer its certificate claims.
	w := newWorld(t)
	withRoot := parsed(t, w.forge(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV02 })), testworld.ForgeRootInChain))
	pl := cosignPayload(t, sigverify.SHA256Digest(w.digest))
	r = w.v.ImageSignature(withRoot, pl, sigverify.SHA256Digest(w.digest), nil, artifacts.BlobSigner)
	if r.Verified() || sigverify.FailedCheckOf(r.Err) == "payload" || r.Signer == nil || *r.Signer != artifacts.BlobSigner {
		t.Errorf("rejected at %s (%v): signer %v, want %v", sigverify.FailedCheckOf(r.Err), r.Err, r.Signer, artifacts.BlobSigner)
	}
}

func TestImageBundle(t *testing.T) {
	f := signing.New(t)
	d := imageDigest("kube-proxy")
	h := v1.Hash{Algorithm: d.Algorithm, Hex: d.Hex}
	signDSSE := func(statement []byte, id artifacts.Identity) *bundle.Bundle {
		t.Helper()
		raw, err := f.Sigstore.SignDSSEBundle(statement, testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: id.SAN, Issuer: id.Issuer}})
		if err != nil {
			t.Fatal(err)
		}
		var b bundle.Bundle
		if err := b.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		return &b
	}
	genuine := signDSSE(testworld.CosignSignStatement(h, sigverify.CosignSignPredicateType), artifacts.ImageSigner)
	r := f.Verifier.ImageBundle(genuine, d, nil, artifacts.ImageSigner)
	if !r.Verified() {
		t.Fatalf("genuine bundle: %v", r.Err)
	}
	if got := checkNames(r); !strings.HasPrefix(got, "payload,bundle,") || !strings.HasSuffix(got, ",validity-at-log-time,certificate-chain") {
		t.Errorf("checks %s", got)
	}
	if c := r.Checks[len(r.Checks)-3]; c.Name != "transparency-log" || !strings.Contains(c.Actual, "inclusion proof") {
		t.Errorf("transparency-log check %+v", c)
	}

	other := imageDigest("other")
	oh := v1.Hash{Algorithm: other.Algorithm, Hex: other.Hex}
	msgSig := f.BundleOf(t, cosignPayload(t, d), artifacts.ImageSigner)
	otherPayloadType, err := f.Sigstore.DSSEBundle(d.Bytes(), testworld.BundleOptions{
		SignOptions:   testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.ImageSigner.SAN, Issuer: artifacts.ImageSigner.Issuer}},
		PredicateType: sigverify.CosignSignPredicateType, SubjectName: "registry.k8s.io/kube-proxy", PayloadType: "application/json",
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		b        *bundle.Bundle
		identity artifacts.Identity
		sentinel error
		check    string
		reason   string
	}{
		{"statement about another image", signDSSE(testworld.CosignSignStatement(oh, sigverify.CosignSignPredicateType), artifacts.ImageSigner), artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", ""},
		{"another predicate", signDSSE(testworld.CosignSignStatement(h, "https://spdx.dev/Document"), artifacts.ImageSigner), artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", ""},
		{"message signature", msgSig, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", ""},
		{"another signer", genuine, artifacts.BlobSigner, sigverify.ErrIdentityMismatch, "identity", ""},
		{"no bundle", nil, artifacts.ImageSigner, sigverify.ErrBundleInvalid, "bundle", ""},
		{"a statement in a DSSE envelope of another payload type", otherPayloadType, artifacts.ImageSigner, sigverify.ErrPayloadMismatch, "payload", "DSSE payload type application/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.Verifier.ImageBundle(c.b, d, nil, c.identity)
			if !errors.Is(r.Err, c.sentinel) || string(sigverify.FailedCheckOf(r.Err)) != c.check {
				t.Fatalf("got %v (check %s), want %v at %s", r.Err, sigverify.FailedCheckOf(r.Err), c.sentinel, c.check)
			}
			if !strings.Contains(r.Error, c.reason) {
				t.Errorf("reason %q lacks %q", r.Error, c.reason)
			}
		})
	}
}

// An image's name is the last path element of a reference, compared
// whole with the names it may have: look-alikes that end with, start with
// or contain a name are other images.
func TestImageNamesMatch(t *testing.T) {
	names := sigverify.NamesFor("registry.k8s.io/kube-apiserver", "amd64")
	for ref, want := range map[string]bool{
		"registry.k8s.io/kube-apiserver":                                                  true,
		"registry.k8s.io/kube-apiserver:v1.24.17":                                         true,
		"registry.k8s.io/kube-apiserver-amd64@sha256:" + strings.Repeat("0", 64):          true,
		"europe-west1-docker.pkg.dev/k8s-artifacts-prod/images/kubernetes/kube-apiserver": true,
		"kube-apiserver-amd64":                                                            true,
		"registry.k8s.io/evil-kube-apiserver":                                             false,
		"registry.k8s.io/evil-kube-apiserver-amd64:v1.24.17":                              false,
		"registry.k8s.io/kube-apiserver-evil":                                             false,
		"registry.k8s.io/kube-apiserver-arm64":                                            false,
		"registry.k8s.io/kube-apiserver/evil":                                             false,
		"registry.k8s.io/KUBE-APISERVER":                                                  false,
		"":                                                                                false,
	} {
		if got := names.Match(ref); got != want {
			t.Errorf("%v.Match(%q) = %v, want %v", names, ref, got, want)
		}
	}
	if !sigverify.ImageNames(nil).Match("anything/at-all") {
		t.Error("nil names must bind no name")
	}
}

func TestMalformedSignature(t *testing.T) {
	cause := errors.New("signature annotation is not base64")
	r := sigverify.MalformedSignature("a readable signature", cause)
	if r.Verified() || !errors.Is(r.Err, sigverify.ErrBundleInvalid) || !errors.Is(r.Err, cause) || sigverify.FailedCheckOf(r.Err) != "bundle" {
		t.Errorf("%+v", r)
	}
}

// Every docker-reference form the promoter signed over the years, with
// the optional kpromo annotations of its time, verifies for the image it
// names: regional backends, registry.k8s.io/kubernetes/<name> (kpromo
// v4.0.2, promo-tools#935), registry.k8s.io/<name>, and the staging
// image the carried staging signature names.
func TestImageSignatureReferenceForms(t *testing.T) {
	f := signing.New(t)
	d := imageDigest("kube-apiserver-amd64")
	names := sigverify.NamesFor("kube-apiserver", "amd64")
	mirrors := map[string]any{"org.kubernetes.kpromo.mirrors": "us-west2-docker.pkg.dev/k8s-artifacts-prod/images/kubernetes/kube-apiserver-amd64,us-central1-docker.pkg.dev/k8s-artifacts-prod/images/kubernetes/kube-apiserver-amd64"}
	version := map[string]any{"org.kubernetes.kpromo.version": "v4.0.4"}
	for _, tc := range []struct {
		ref         string
		annotations map[string]any
	}{
		{"asia-northeast2-docker.pkg.dev/k8s-artifacts-prod/images/kubernetes/kube-apiserver-amd64", mirrors},
		{"us-west2-docker.pkg.dev/k8s-artifacts-prod/images/kubernetes/kube-apiserver-amd64", version},
		{"registry.k8s.io/kubernetes/kube-apiserver-amd64", version},
		{"registry.k8s.io/kube-apiserver-amd64", version},
		{"registry.k8s.io/kube-apiserver", version}, // the child, signed in the index's repository
		{"gcr.io/k8s-staging-kubernetes/kube-apiserver-amd64", nil},
	} {
		ref, err := name.NewDigest(tc.ref + "@" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		p, err := payload.Cosign{Image: ref, Annotations: tc.annotations}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		r := f.Verifier.ImageSignature(f.BundleOf(t, p, artifacts.ImageSigner), p, d, names, artifacts.ImageSigner)
		if !r.Verified() || r.DockerReference != tc.ref {
			t.Errorf("%s: verified %v (%v), docker-reference %q", tc.ref, r.Verified(), r.Err, r.DockerReference)
		}
	}
}
