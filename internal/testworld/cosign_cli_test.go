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
	w := StartT(t, Options{Small: true, Faults: []Fault{
		{Kind: FaultForgedSET, Target: "bin/linux/arm64/kubectl"},
		{Kind: FaultForeignIdentity, Target: "kube-proxy-arm64"},
	}})
	dir := t.TempDir()
	blob := func(p string) (file, sig, cert string) {
		f := w.Files[p]
		file = filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		must(t, os.WriteFile(file, f.Content, 0o644))
		must(t, os.WriteFile(file+".sig", []byte(base64.StdEncoding.EncodeToString(f.Signature.Sig)), 0o644))
		must(t, os.WriteFile(file+".cert", []byte(base64.StdEncoding.EncodeToString(f.Signature.CertPEM)), 0o644))
		return file, file + ".sig", file + ".cert"
	}
	verifyBlob := func(p string) (string, error) {
		file, sig, cert := blob(p)
		return runCosign(t, bin, w, "verify-blob", file, "--signature", sig, "--certificate", cert,
			"--certificate-identity", artifacts.BlobSigner.SAN, "--certificate-oidc-issuer", artifacts.BlobSigner.Issuer,
			"--rekor-url", w.RekorURL)
	}
	verifyImage := func(repo string) (string, error) {
		return runCosign(t, bin, w, "verify", w.Registry+"/"+repo+":"+w.Version.String(),
			"--certificate-identity", artifacts.ImageSigner.SAN, "--certificate-oidc-issuer", artifacts.ImageSigner.Issuer,
			"--trusted-root", w.TrustedRootPath, "--rekor-url", w.RekorURL, "--allow-http-registry")
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
