package testworld

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// cosign runs the real cosign CLI pointed at the world the way a user
// would: its trusted root, its Rekor, no --insecure-* flag.
//
// verify-blob with --signature/--certificate (the form Kubernetes
// publishes) predates trusted_root.json in cosign v2: it takes the world's
// keys from SIGSTORE_ROOT_FILE, SIGSTORE_REKOR_PUBLIC_KEY and
// SIGSTORE_CT_LOG_PUBLIC_KEY_FILE instead.
func runCosign(t *testing.T, bin string, w *World, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(),
		"HOME="+t.TempDir(), // no user TUF cache
		"SIGSTORE_NO_CACHE=true",
		"TUF_ROOT="+t.TempDir(),
		"SIGSTORE_ROOT_FILE="+filepath.Join(w.Dir, "fulcio-chain.pem"),
		"SIGSTORE_REKOR_PUBLIC_KEY="+filepath.Join(w.Dir, "rekor.pub"),
		"SIGSTORE_CT_LOG_PUBLIC_KEY_FILE="+filepath.Join(w.Dir, "ctlog.pub"),
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRealCosignAcceptsTheWorld(t *testing.T) {
	bin := CosignBinary(t)
	// Releases of every era: the CT test log, the first Rekor shard and
	// .1.1-only certificates (v1.24.1, images); the 2022 CT log with
	// .1.1-only certificates (v1.24.9, blobs and images); 2023
	// certificates (v1.24.17). Faults apply to the newest.
	w := StartT(t, Options{Version: "v1.24.1,v1.24.9,v1.24.17", Small: true, Faults: []Fault{
		{Kind: FaultForgedSET, Target: "bin/linux/arm64/kubectl"},
		{Kind: FaultForeignIdentity, Target: "kube-proxy-arm64"},
	}})
	dir := t.TempDir()
	blob := func(rs *ReleaseState, p string) (file, sig, cert string) {
		f := rs.Files[p]
		file = filepath.Join(dir, rs.Version.String()+strings.ReplaceAll(p, "/", "_"))
		must(t, os.WriteFile(file, f.Content, 0o644))
		must(t, os.WriteFile(file+".sig", []byte(base64.StdEncoding.EncodeToString(f.Signature.Sig)), 0o644))
		must(t, os.WriteFile(file+".cert", []byte(base64.StdEncoding.EncodeToString(f.Signature.CertPEM)), 0o644))
		return file, file + ".sig", file + ".cert"
	}
	verifyBlobOf := func(rs *ReleaseState, p string) (string, error) {
		file, sig, cert := blob(rs, p)
		return runCosign(t, bin, w, "verify-blob", file, "--signature", sig, "--certificate", cert,
			"--certificate-identity", artifacts.BlobSigner.SAN, "--certificate-oidc-issuer", artifacts.BlobSigner.Issuer,
			"--rekor-url", w.RekorURL)
	}
	newest := w.Releases[len(w.Releases)-1]
	verifyBlob := func(p string) (string, error) { return verifyBlobOf(newest, p) }
	verifyImageOf := func(rs *ReleaseState, repo string) (string, error) {
		return runCosign(t, bin, w, "verify", w.Registry+"/"+repo+":"+rs.Version.String(),
			"--certificate-identity", artifacts.ImageSigner.SAN, "--certificate-oidc-issuer", artifacts.ImageSigner.Issuer,
			"--trusted-root", w.TrustedRootPath, "--rekor-url", w.RekorURL, "--allow-http-registry")
	}
	verifyImage := func(repo string) (string, error) { return verifyImageOf(newest, repo) }
	for _, rs := range w.Releases[:len(w.Releases)-1] {
		for _, repo := range []string{"kube-apiserver", "kube-apiserver-amd64", "kube-proxy-arm64"} {
			if out, err := verifyImageOf(rs, repo); err != nil {
				t.Errorf("cosign verify rejects genuine %s of %s: %v\n%s", repo, rs.Version, err, out)
			}
		}
		if _, signed := rs.Files["bin/linux/amd64/kubectl"]; signed && rs.Files["bin/linux/amd64/kubectl"].Signature != nil {
			if out, err := verifyBlobOf(rs, "bin/linux/amd64/kubectl"); err != nil {
				t.Errorf("cosign verify-blob rejects a genuine file of %s: %v\n%s", rs.Version, err, out)
			}
		}
	}
	if out, err := verifyBlob("bin/linux/amd64/kubectl"); err != nil {
		t.Errorf("cosign verify-blob rejects a genuine file: %v\n%s", err, out)
	}
	if out, err := verifyBlob("bin/linux/arm64/kubectl"); err == nil {
		t.Errorf("cosign verify-blob accepts a forged SET:\n%s", out)
	}
	for _, repo := range []string{"kube-apiserver", "kube-apiserver-amd64", "kube-proxy-amd64"} {
		if out, err := verifyImage(repo); err != nil {
			t.Errorf("cosign verify rejects genuine %s: %v\n%s", repo, err, out)
		}
	}
	if out, err := verifyImage("kube-proxy-arm64"); err == nil {
		t.Errorf("cosign verify accepts a foreign identity:\n%s", out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
