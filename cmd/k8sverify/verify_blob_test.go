package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// blobDir is a directory as a user has it: a file, Sigstore bundles for it
// (genuine and forged), and the trusted_root.json of the Sigstore instance
// (with a timestamp authority and a Rekor v2 log) that signed them.
type blobDir struct {
	dir, file, digest, root string
	otherFile               string            // a file no bundle is for
	bundles                 map[string]string // name -> path
}

func newBlobDir(t *testing.T) *blobDir {
	t.Helper()
	d, err := writeBlobDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeBlobDir(dir string) (*blobDir, error) {
	d := &blobDir{dir: dir, file: filepath.Join(dir, "kubectl"), root: filepath.Join(dir, "trusted_root.json"), bundles: map[string]string{}}
	content := make([]byte, 4096)
	if _, err := rand.Read(content); err != nil {
		return nil, err
	}
	if err := os.WriteFile(d.file, content, 0o755); err != nil {
		return nil, err
	}
	d.otherFile = filepath.Join(dir, "kubelet")
	if err := os.WriteFile(d.otherFile, content[:100], 0o755); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	d.digest = "sha256:" + hex.EncodeToString(sum[:])

	s, err := testworld.NewSigstore("http://127.0.0.1:1")
	if err != nil {
		return nil, err
	}
	other, err := testworld.NewSigstore("http://127.0.0.1:2")
	if err != nil {
		return nil, err
	}
	tsa, err := testworld.NewTimestampAuthority()
	if err != nil {
		return nil, err
	}
	v2, err := testworld.NewRekorV2Log("https://log2025-1.rekor.testworld.local")
	if err != nil {
		return nil, err
	}
	if err := s.WriteTrustedRootWith(d.root, tsa, v2); err != nil {
		return nil, err
	}
	staging := testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer}}
	foreign := testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: testworld.ForeignIdentity, Issuer: artifacts.BlobSigner.Issuer}}
	expired := staging
	expired.NotBefore = time.Now().Add(-time.Hour)

	save := func(name string, data []byte) {
		p := filepath.Join(dir, name+".sigstore.json")
		if err == nil {
			err = os.WriteFile(p, data, 0o644)
		}
		d.bundles[name] = p
	}
	saveBundle := func(name string, mk func() (*bundle.Bundle, error)) *bundle.Bundle {
		if err != nil {
			return nil
		}
		b, berr := mk()
		if berr != nil {
			err = berr
			return nil
		}
		data, merr := b.MarshalJSON()
		if merr != nil {
			err = merr
		}
		save(name, data)
		return b
	}
	message := func(s *testworld.Sigstore, o testworld.BundleOptions) func() (*bundle.Bundle, error) {
		return func() (*bundle.Bundle, error) { return s.MessageSignatureBundle(sum[:], o) }
	}
	forge := func(name string, b *bundle.Bundle, f testworld.BundleForgery) {
		if b == nil || err != nil {
			return
		}
		data, ferr := s.ForgeBundle(b, f)
		if ferr != nil {
			err = ferr
			return
		}
		save(name, data)
	}
	genuine := saveBundle("genuine", message(s, testworld.BundleOptions{SignOptions: staging}))
	v01 := saveBundle("genuine-v0.1", message(s, testworld.BundleOptions{SignOptions: staging, MediaType: testworld.BundleV01}))
	saveBundle("genuine-dsse", func() (*bundle.Bundle, error) {
		return s.DSSEBundle(sum[:], testworld.BundleOptions{SignOptions: staging})
	})
	saveBundle("genuine-rekor-v2", message(s, testworld.BundleOptions{SignOptions: staging, TSA: tsa, RekorV2: v2}))
	saveBundle("foreign-identity", message(s, testworld.BundleOptions{SignOptions: foreign}))
	saveBundle("foreign-ca", message(other, testworld.BundleOptions{SignOptions: staging}))
	saveBundle("expired", message(s, testworld.BundleOptions{SignOptions: expired}))
	forge("forged-set", genuine, testworld.ForgeSET)
	forge("root-in-chain", v01, testworld.ForgeRootInChain)
	forge("foreign-log", genuine, testworld.ForgeForeignLog)
	forge("checkpoint-key", genuine, testworld.ForgeCheckpointKey)
	forge("entry-digest", genuine, testworld.ForgeEntryDigest)
	forge("truncated", genuine, testworld.ForgeTruncated)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (d *blobDir) verifyBlob(t *testing.T, target, bundle string, extra ...string) (int, string, string) {
	t.Helper()
	return run(t, append([]string{"verify-blob", target, "--bundle", bundle, "--trusted-root", d.root}, extra...)...)
}

func TestVerifyBlobGenuine(t *testing.T) {
	d := newBlobDir(t)
	for _, name := range []string{"genuine", "genuine-v0.1", "genuine-dsse", "genuine-rekor-v2"} {
		for _, target := range []string{d.file, d.digest} {
			form := "file"
			if target == d.digest {
				form = "digest"
			}
			t.Run(name+"/"+form, func(t *testing.T) {
				var extra []string
				if name == "genuine-dsse" {
					extra = []string{"--predicate-type", "https://slsa.dev/provenance/v1"}
				}
				code, out, errOut := d.verifyBlob(t, target, d.bundles[name], extra...)
				if code != ExitOK || !strings.Contains(out, " verified ") ||
					!strings.Contains(out, "signed by "+artifacts.BlobSigner.SAN) || !strings.Contains(out, "1 artifact: 1 verified") {
					t.Errorf("exit %d, want 0:\n%s%s", code, out, errOut)
				}
			})
		}
	}
}

func TestVerifyBlobRejected(t *testing.T) {
	d := newBlobDir(t)
	other := sha256.Sum256([]byte("another file"))
	cases := []struct {
		name   string
		target string
		bundle string
		extra  []string
		want   string
	}{
		{"another file", d.otherFile, "genuine", nil, "[check: signature]"},
		{"another digest", "sha256:" + hex.EncodeToString(other[:]), "genuine", nil, "digest mismatch"},
		{"another digest dsse", "sha256:" + hex.EncodeToString(other[:]), "genuine-dsse", []string{"--predicate-type", "https://slsa.dev/provenance/v1"}, "[check: signature]"},
		{"foreign identity, default policy", d.file, "foreign-identity", nil, "got " + testworld.ForeignIdentity},
		{"genuine, other identity asked", d.file, "genuine", []string{"--certificate-identity", testworld.ForeignIdentity}, "[check: identity]"},
		{"genuine, other issuer asked", d.file, "genuine", []string{"--certificate-oidc-issuer", testworld.ForeignIssuer}, "[check: identity]"},
		{"another CA", d.file, "foreign-ca", nil, "[check: certificate-chain]"},
		{"expired at log time", d.file, "expired", nil, "[check: validity-at-log-time]"},
		{"forged SET", d.file, "forged-set", nil, "unable to verify SET [check: transparency-log]"},
		{"root in chain", d.file, "root-in-chain", nil, "in the chain: signers must not include root certificates"},
		{"entry of another log", d.file, "foreign-log", nil, "not in the trusted root"},
		{"checkpoint by another key", d.file, "checkpoint-key", nil, "signature on checkpoint did not verify"},
		{"entry of another artifact", d.file, "entry-digest", nil, "an entry of another artifact"},
		{"truncated bundle", d.file, "truncated", nil, "[check: bundle]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := d.verifyBlob(t, tc.target, d.bundles[tc.bundle], tc.extra...)
			if code != ExitFailed || !strings.Contains(out, " failed ") || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d (want 1), output lacks %q:\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
}

// The signer named with cosign's flags is who must have signed: a bundle
// of another identity verifies when that identity is asked for.
func TestVerifyBlobIdentityFlags(t *testing.T) {
	d := newBlobDir(t)
	code, out, errOut := d.verifyBlob(t, d.file, d.bundles["foreign-identity"],
		"--certificate-identity", testworld.ForeignIdentity, "--certificate-oidc-issuer", artifacts.BlobSigner.Issuer)
	if code != ExitOK || !strings.Contains(out, "signed by "+testworld.ForeignIdentity) {
		t.Errorf("exit %d, want 0:\n%s%s", code, out, errOut)
	}
}

func TestVerifyBlobJSON(t *testing.T) {
	d := newBlobDir(t)
	code, out, errOut := d.verifyBlob(t, d.digest, d.bundles["forged-set"], "-o", "json")
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Artifacts) != 1 {
		t.Fatalf("%d verdicts", len(rep.Artifacts))
	}
	v := rep.Artifacts[0]
	if v.Status != "failed" || v.FailedCheck != "transparency-log" || v.Digest != d.digest || v.DigestSource != "argument" {
		t.Errorf("verdict %+v", v)
	}
	if len(v.Signatures) != 1 || len(v.Signatures[0].Checks) == 0 {
		t.Fatalf("no checks recorded: %+v", v.Signatures)
	}
	if last := v.Signatures[0].Checks[len(v.Signatures[0].Checks)-1]; last.OK || last.Name != "transparency-log" {
		t.Errorf("last check %+v", last)
	}
}

func TestVerifyBlobUsageErrors(t *testing.T) {
	d := newBlobDir(t)
	var b strings.Builder
	for _, args := range [][]string{
		{"verify-blob", d.file},
		{"verify-blob", "--bundle", d.bundles["genuine"]},
		{"verify-blob", d.file, d.file, "--bundle", d.bundles["genuine"]},
		{"verify-blob", "sha256:xyz", "--bundle", d.bundles["genuine"]},
		{"verify-blob", "sha256:" + strings.Repeat("0", 63), "--bundle", d.bundles["genuine"]},
		{"verify-blob", filepath.Join(d.dir, "no-such-file"), "--bundle", d.bundles["genuine"]},
		{"verify-blob", d.dir, "--bundle", d.bundles["genuine"]},
		{"verify-blob", d.file, "--bundle", filepath.Join(d.dir, "no-such.sigstore.json")},
		{"verify-blob", d.file, "--bundle", d.dir},
		{"verify-blob", d.file, "--bundle", d.bundles["genuine"], "--certificate-identity", ""},
		{"verify-blob", d.file, "--bundle", d.bundles["genuine"], "-o", "yaml"},
		{"verify-blob", d.file, "--bundle", d.bundles["genuine"], "--trusted-root", filepath.Join(d.dir, "nope.json")},
	} {
		code, stdout, stderr := run(t, append(args, "--trusted-root", d.root)...)
		if args[len(args)-2] == "--trusted-root" {
			code, stdout, stderr = run(t, args...)
		}
		if code != ExitUsage || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and no output", args, code, stdout)
		}
		fmt.Fprintf(&b, "$ k8sverify %s\nexit %d\n%s\n", strings.Join(args, " "), code, stderr)
	}
	golden(t, "verify-blob-usage-errors.txt", strings.ReplaceAll(b.String(), d.dir, "DIR"))
}

var (
	timeRE   = regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\dZ`)
	hexRE    = regexp.MustCompile(`[0-9a-f]{64}`)
	logIDRE  = regexp.MustCompile(`log [0-9a-f]{12}…`)
	indexRE  = regexp.MustCompile(`index \d+`)
	spacesRE = regexp.MustCompile(` {2,}`)
)

// Transcripts of verify-blob, genuine and forged, in one golden file:
// what a user sees, with times, digests and log indices normalised.
func TestVerifyBlobGolden(t *testing.T) {
	d := newBlobDir(t)
	var b strings.Builder
	for _, tc := range []struct {
		target, bundle string
		extra          []string
	}{
		{"FILE", "genuine", nil},
		{"DIGEST", "genuine-dsse", nil},
		{"DIGEST", "genuine-dsse", []string{"--predicate-type", "https://slsa.dev/provenance/v1"}},
		{"DIGEST", "genuine-rekor-v2", nil},
		{"FILE", "foreign-identity", nil},
		{"FILE", "forged-set", nil},
		{"FILE", "root-in-chain", nil},
		{"FILE", "foreign-log", nil},
		{"FILE", "truncated", nil},
	} {
		target := d.file
		if tc.target == "DIGEST" {
			target = d.digest
		}
		code, out, errOut := d.verifyBlob(t, target, d.bundles[tc.bundle], tc.extra...)
		norm := func(s string) string {
			s = strings.ReplaceAll(s, d.dir, "DIR")
			s = strings.ReplaceAll(s, d.digest, "sha256:DIGEST")
			s = timeRE.ReplaceAllString(s, "TIME")
			s = hexRE.ReplaceAllString(s, "HEX")
			s = logIDRE.ReplaceAllString(s, "log LOGID")
			s = indexRE.ReplaceAllString(s, "index N")
			return spacesRE.ReplaceAllString(s, "  ")
		}
		more := ""
		if len(tc.extra) > 0 {
			more = " " + strings.Join(tc.extra, " ")
		}
		fmt.Fprintf(&b, "$ k8sverify verify-blob %s --bundle DIR/%s.sigstore.json --trusted-root DIR/trusted_root.json%s\nexit %d\n%s%s\n",
			tc.target, tc.bundle, more, code, norm(out), norm(errOut))
	}
	golden(t, "verify-blob.txt", b.String())
}

// The form dl.k8s.io publishes: FILE.sig and FILE.cert beside the file,
// verified with cosign's flags; the log entry is looked up online, and
// offline the verdict says it cannot be proved.
func TestVerifyBlobSignatureAndCertificate(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary}})
	dir := t.TempDir()
	base := w.DownloadURL + "/release/v1.24.17/bin/linux/amd64/kubectl"
	for _, ext := range []string{"", ".sig", ".cert"} {
		resp, err := http.Get(base + ext)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", base+ext, resp.StatusCode, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kubectl"+ext), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "kubectl")
	flipped := filepath.Join(dir, "kubectl-flipped")
	data, _ := os.ReadFile(file)
	data[0] ^= 1
	if err := os.WriteFile(flipped, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sigCert := []string{"--signature", file + ".sig", "--certificate", file + ".cert"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"genuine", append([]string{"verify-blob", file}, sigCert...), ExitOK, "verified"},
		{"a flipped byte", append([]string{"verify-blob", flipped}, sigCert...), ExitFailed, "[check: signature]"},
		// Offline every check that needs no log runs: what passes stays
		// unproven (no proof of when it was signed), what fails fails.
		{"offline", append([]string{"verify-blob", file, "--offline"}, sigCert...), ExitIncomplete,
			"certificate-chain (at the certificate's issue time), sct, identity, signature over sha256:"},
		{"offline, a flipped byte", append([]string{"verify-blob", flipped, "--offline"}, sigCert...), ExitFailed, "[check: signature]"},
		{"offline, a wrong digest", append([]string{"verify-blob", "sha256:" + strings.Repeat("ab", 32), "--offline"}, sigCert...), ExitFailed, "[check: signature]"},
		{"offline, another identity asked", append([]string{"verify-blob", file, "--offline", "--certificate-identity", testworld.ForeignIdentity}, sigCert...), ExitFailed, "[check: identity]"},
		{"a signature without its certificate", []string{"verify-blob", file, "--signature", file + ".sig"}, ExitUsage, "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIn(t, w, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
	// Each check that ran is in the report; the signature is not verified.
	_, out, _ := runIn(t, w, append([]string{"verify-blob", file, "--offline", "-o", "json"}, sigCert...)...)
	rep, err := report.Read(strings.NewReader(out))
	if err != nil || len(rep.Artifacts) != 1 || len(rep.Artifacts[0].Signatures) != 1 {
		t.Fatalf("%v\n%s", err, out)
	}
	sig := rep.Artifacts[0].Signatures[0]
	var names []string
	for _, c := range sig.Checks {
		if c.OK {
			names = append(names, c.Name)
		}
	}
	if sig.Verified || strings.Join(names, ",") != "bundle,certificate-chain,sct,identity,signature" || !strings.Contains(sig.Error, "unproven") {
		t.Errorf("offline signature: verified %v, checks passed %v, error %q", sig.Verified, names, sig.Error)
	}
}

// An in-toto statement is no file signature unless its predicate type is
// named (--predicate-type, as cosign verify-blob-attestation --type):
// verify-blob says what the payload is, and verifies it only then; a
// message signature does not pass for an attestation either.
func TestVerifyBlobInTotoStatementNeedsPredicateType(t *testing.T) {
	d := newBlobDir(t)
	const slsa = "https://slsa.dev/provenance/v1"
	for _, tc := range []struct {
		name, bundle string
		extra        []string
		code         int
		want         string
	}{
		{"statement, no type named", "genuine-dsse", nil, ExitFailed, "in-toto statement, predicate " + slsa},
		{"statement, its type named", "genuine-dsse", []string{"--predicate-type", slsa}, ExitOK, "payload: in-toto statement, predicate " + slsa},
		{"statement, another type named", "genuine-dsse", []string{"--predicate-type", "https://spdx.dev/Document"}, ExitFailed, "[check: payload]"},
		{"message signature, a type named", "genuine", []string{"--predicate-type", slsa}, ExitFailed, "[check: payload]"},
		{"message signature", "genuine", nil, ExitOK, "verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := d.verifyBlob(t, d.file, d.bundles[tc.bundle], tc.extra...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

// A bundle signs a SHA-256 digest: a file's SHA-512 cannot be compared
// with it, so the artifact is not checked (exit 3, saying what to give
// instead), never failed as a mismatch nor verified.
func TestVerifyBlobDigestOfAnotherAlgorithm(t *testing.T) {
	d := newBlobDir(t)
	data, err := os.ReadFile(d.file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(data)
	code, out, errOut := d.verifyBlob(t, "sha512:"+hex.EncodeToString(sum[:]), d.bundles["genuine"])
	if code != ExitIncomplete || !strings.Contains(out, "the bundle signs a sha256 digest: name the file or its sha256:<hex>") {
		t.Errorf("exit %d (want 3):\n%s%s", code, out, errOut)
	}
	// A bundle edited to say it signs a SHA-512 fails the file it names.
	genuine, err := os.ReadFile(d.bundles["genuine"])
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(genuine), `"SHA2_256"`, `"SHA2_512"`, 1)
	if edited == string(genuine) {
		t.Fatal("no SHA2_256 in the bundle")
	}
	path := filepath.Join(t.TempDir(), "edited.json")
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := d.verifyBlob(t, d.file, path); code != ExitFailed || !strings.Contains(out, "[check: signature]") {
		t.Errorf("bundle edited to SHA2_512, the file given: exit %d (want 1):\n%s%s", code, out, errOut)
	}
}
