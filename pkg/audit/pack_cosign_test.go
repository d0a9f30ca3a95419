package audit_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/airgap"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/pack"
)

// A pack's blob bundles are standard Sigstore bundles: the real cosign
// reads them (cosign verify-blob --bundle --new-bundle-format).
func TestPackBundlesReadByCosign(t *testing.T) {
	bin := testworld.CosignBinary(t)
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary}})
	dir := sessions.FetchPack(t, w, airgap.Request{})
	var m pack.Manifest
	data, err := os.ReadFile(filepath.Join(dir, pack.ManifestName))
	must(t, err)
	must(t, json.Unmarshal(data, &m))
	e := sessions.Entry(&m, "binary kubectl linux/amd64")
	file := filepath.Join(t.TempDir(), "kubectl")
	must(t, os.WriteFile(file, w.Files["bin/linux/amd64/kubectl"].Content, 0o644))

	run := func(f string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "verify-blob", f, "--bundle", filepath.Join(dir, e.Signatures[0].Bundle),
			"--new-bundle-format", "--trusted-root", w.TrustedRootPath,
			"--certificate-identity", artifacts.BlobSigner.SAN, "--certificate-oidc-issuer", artifacts.BlobSigner.Issuer)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TUF_ROOT="+t.TempDir())
		return cmd.CombinedOutput()
	}
	if out, err := run(file); err != nil {
		t.Errorf("cosign rejects the pack's bundle: %v\n%s", err, out)
	}
	tampered := filepath.Join(t.TempDir(), "kubectl")
	must(t, os.WriteFile(tampered, append([]byte("x"), w.Files["bin/linux/amd64/kubectl"].Content...), 0o644))
	if out, err := run(tampered); err == nil {
		t.Errorf("cosign accepts the bundle for another file:\n%s", out)
	}
}
