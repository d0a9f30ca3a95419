package verify_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld/signing"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// A verdict's reason says exactly what decided it: the signer and its log
// entry, how many signatures were found, and each rejected one by where it
// was found and who signed it; a long list of rejections is cut after
// three.
func TestJudgeReasons(t *testing.T) {
	f := signing.New(t)
	d := sha("kubectl v1.24.17 linux/amd64")
	kubectl := artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Location: "https://dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl", Signer: artifacts.BlobSigner, Signing: artifacts.SigningExpected}
	published := []verify.DigestClaim{{Digest: d, Channel: verify.ChannelSHA256File}}
	const where = "https://dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl.sig"
	sig := func(b *bundle.Bundle) verify.SignatureEvidence {
		return verify.SignatureEvidence{Source: verify.SourceSigCert, Location: where, Bundle: b}
	}
	genuine := f.Bundle(t, d.Bytes(), artifacts.BlobSigner)
	second := f.Bundle(t, d.Bytes(), artifacts.BlobSigner)
	promoter := artifacts.Identity{SAN: testworld.PromoterIdentity, Issuer: artifacts.GoogleIssuer}
	var wrong []verify.SignatureEvidence
	for range 4 {
		wrong = append(wrong, sig(f.Bundle(t, d.Bytes(), promoter)))
	}
	j, err := verify.NewJudge(f.Verifier, verify.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	judge := func(sigs ...verify.SignatureEvidence) verify.Verdict {
		return j.Judge(release("2023-07-19"), kubectl, verify.Evidence{Digests: published, Signatures: sigs})
	}
	signedBy := func(v verify.Verdict, i int) string {
		s := v.Signatures[i]
		if s.LogIndex == nil || s.IntegratedTime == nil {
			t.Fatalf("signature %d: no log index or time: %+v", i, s)
		}
		return fmt.Sprintf("signed by %s, Rekor log index %d, logged %s", artifacts.BlobSigner.SAN, *s.LogIndex, s.IntegratedTime.Format("2006-01-02 15:04:05Z"))
	}
	rejected := func(v verify.Verdict, i int) string {
		return ".sig/.cert signature in " + where + " by " + testworld.PromoterIdentity + ": " + v.Signatures[i].Err.Error()
	}

	v := judge(sig(genuine))
	if want := signedBy(v, 0); v.Status != verify.StatusVerified || v.Reason != want {
		t.Errorf("one genuine signature: %s %q, want %q", v.Status, v.Reason, want)
	}
	v = judge(sig(genuine), sig(second))
	if want := signedBy(v, 0) + " (2 signatures found)"; v.Reason != want {
		t.Errorf("two genuine signatures: %q, want %q", v.Reason, want)
	}
	v = judge(wrong[0], sig(genuine))
	if want := signedBy(v, 1) + " (2 signatures found); 1 of 2 signatures rejected: " + rejected(v, 0); v.Reason != want {
		t.Errorf("one genuine, one rejected: %q, want %q", v.Reason, want)
	}
	v = judge(wrong[:3]...)
	if want := "none of 3 signatures verifies: " + rejected(v, 0) + "; " + rejected(v, 1) + "; " + rejected(v, 2); v.Status != verify.StatusFailed || v.Reason != want {
		t.Errorf("three rejected: %s %q, want %q", v.Status, v.Reason, want)
	}
	v = judge(wrong...)
	if want := "none of 4 signatures verifies: " + rejected(v, 0) + "; " + rejected(v, 1) + "; " + rejected(v, 2) + "; and 1 more"; v.Reason != want {
		t.Errorf("four rejected: %q, want %q", v.Reason, want)
	}
	anonymous := verify.SignatureEvidence{Bundle: f.Bundle(t, sha("another file").Bytes(), artifacts.BlobSigner)}
	v = judge(anonymous, sig(genuine))
	if want := "; 1 of 2 signatures rejected: signature by " + artifacts.BlobSigner.SAN + ": "; !strings.Contains(v.Reason, want) {
		t.Errorf("a rejected signature of no known source: %q lacks %q", v.Reason, want)
	}
	unreadable := verify.SignatureEvidence{Source: verify.SourceSigCert, Malformed: errors.New("not base64")}
	v = judge(unreadable, sig(genuine))
	if want := "; 1 of 2 signatures rejected: .sig/.cert signature: "; !strings.Contains(v.Reason, want) {
		t.Errorf("a rejected signature of no known signer: %q lacks %q", v.Reason, want)
	}
}

// A file given by a digest alone (verify-blob) is judged over that
// digest, whatever its algorithm; with none, it cannot be checked.
func TestJudgeBlobDigest(t *testing.T) {
	f := signing.New(t)
	blob := artifacts.Artifact{Kind: artifacts.KindBlob, Name: "artifact", Signer: artifacts.BlobSigner}
	j, err := verify.NewJudge(f.Verifier, verify.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	d := sha("a file")
	signatures := []verify.SignatureEvidence{{Source: verify.SourceBundleFile, Bundle: f.Bundle(t, d.Bytes(), artifacts.BlobSigner)}}
	s512 := sha512Of("a file")
	v := j.Judge(nil, blob, verify.Evidence{Digests: []verify.DigestClaim{{Digest: s512, Channel: verify.ChannelArgument}}, Signatures: signatures})
	if v.Digest != s512.String() || v.Status != verify.StatusFailed || v.FailedCheck != "signature" {
		t.Errorf("a SHA-512 given: %s [%s] over %s: %s", v.Status, v.FailedCheck, v.Digest, v.Reason)
	}
	v = j.Judge(nil, blob, verify.Evidence{Digests: []verify.DigestClaim{{Digest: d, Channel: verify.ChannelArgument}}, Signatures: signatures})
	if v.Status != verify.StatusVerified || v.Digest != d.String() {
		t.Errorf("a SHA-256 given: %s over %s: %s", v.Status, v.Digest, v.Reason)
	}
	v = j.Judge(nil, blob, verify.Evidence{Signatures: signatures})
	if v.Status != verify.StatusError || v.Digest != "" {
		t.Errorf("no digest: %s over %q: %s", v.Status, v.Digest, v.Reason)
	}
}

// The signing-time rule holds for every signed time: a signature whose
// entry carries none (Rekor v2) is dated by its RFC 3161 timestamp.
func TestJudgeSigningTimeFromTimestamp(t *testing.T) {
	w := newTimestamped(t)
	kubectl := artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"},
		Signer: artifacts.BlobSigner, Signing: artifacts.SigningExpected}
	j, err := verify.NewJudge(w.v, verify.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	d := sha("kubectl v1.24.17 linux/amd64")
	signer := testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer}}
	b, err := w.s.MessageSignatureBundle(d.Bytes(), testworld.BundleOptions{SignOptions: signer, TSA: w.tsa, RekorV2: w.v2})
	if err != nil {
		t.Fatal(err)
	}
	ev := verify.Evidence{Digests: []verify.DigestClaim{{Digest: d, Channel: verify.ChannelSHA256File}},
		Signatures: []verify.SignatureEvidence{{Source: verify.SourceSigCert, Bundle: b}}}
	if v := j.Judge(release("2023-07-19"), kubectl, ev); v.Status != verify.StatusVerified {
		t.Fatalf("signed after the previous release: %s: %s", v.Status, v.Reason)
	}
	v := j.Judge(release("2099-01-01"), kubectl, ev)
	if v.Status != verify.StatusFailed || v.FailedCheck != "signing-time" {
		t.Errorf("timestamped before the previous release: %s [%s]: %s", v.Status, v.FailedCheck, v.Reason)
	}
}
