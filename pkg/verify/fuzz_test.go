package verify_test

import (
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld/signing"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Fuzz targets for what the judge parses: image manifests,
// configurations and indexes as a registry serves them (bundles and
// payloads are pkg/sigverify's). Seeds: the f.Add calls and
// testdata/fuzz/<target>/. `make fuzz` runs each target.

var sentinels = []error{
	sigverify.ErrBundleInvalid, sigverify.ErrCertificateUntrusted, sigverify.ErrIdentityMismatch, sigverify.ErrSignatureInvalid,
	sigverify.ErrDigestMismatch, sigverify.ErrNotInLog, sigverify.ErrLogEntryInvalid, sigverify.ErrCertificateExpired,
	sigverify.ErrPayloadMismatch, verify.ErrPlatformMismatch, verify.ErrSignedTooEarly, verify.ErrEvidenceMalformed,
}

// FuzzJudgeImageEvidence: the judge reads an image's manifest (its digest
// the registry's), configuration and release index, whatever their bytes,
// without panicking; with no signature the verdict is never verified, and
// an image check that fails names its check.
func FuzzJudgeImageEvidence(f *testing.F) {
	fx := signing.New(f)
	j, err := verify.NewJudge(fx.Verifier, verify.Rules{})
	if err != nil {
		f.Fatal(err)
	}
	amd64 := newImage(f, "linux", "amd64", "a")
	arm64 := newImage(f, "linux", "arm64", "b")
	index := indexOf(map[string]sigverify.Digest{"amd64": amd64.digest, "arm64": arm64.digest})
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

func sha256Digest(b []byte) sigverify.Digest {
	sum := sha256.Sum256(b)
	return sigverify.SHA256Digest(sum[:])
}
